//! WeChat Pay API v3 signatures and encryption (SPEC 2.12), on aws-lc-rs
//! (already linked by rustls: no second RSA or AES implementation in the
//! binary, and no timing-leaky pure-Rust RSA).
//!
//! - Requests: `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=..,nonce_str=..,
//!   signature=..,timestamp=..,serial_no=..`, the signature RSASSA-PKCS1-v1_5
//!   SHA-256 over `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n` with the
//!   merchant private key.
//! - Answers and notifications: `Wechatpay-Signature` over
//!   `TIMESTAMP\nNONCE\nBODY\n`, verified with the key `Wechatpay-Serial`
//!   names (a platform certificate's serial or a `PUB_KEY_ID_...`); a
//!   timestamp more than 5 minutes from now is refused.
//! - Notification resources: `AEAD_AES_256_GCM` with the API v3 key.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self, RsaKeyPair, UnparsedPublicKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::collections::HashMap;

/// How far a signed timestamp may be from now.
pub const MAX_SKEW_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("{0}")]
    Key(String),
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("no verification key for serial {0:?}")]
    UnknownSerial(String),
    #[error("the timestamp {0:?} is more than 5 minutes from now")]
    Stale(String),
    #[error("bad signature")]
    BadSignature,
    #[error("the resource cannot be decrypted: {0}")]
    Undecryptable(String),
}

/// The body of the first PEM block labelled `label` (any label when None).
pub fn pem_der(pem: &str, label: Option<&str>) -> Result<(String, Vec<u8>), CryptoError> {
    let begin = pem
        .find("-----BEGIN ")
        .ok_or_else(|| CryptoError::Key("not a PEM block".into()))?;
    let rest = &pem[begin + 11..];
    let end_label = rest
        .find("-----")
        .ok_or_else(|| CryptoError::Key("not a PEM block".into()))?;
    let found = rest[..end_label].to_owned();
    if label.is_some_and(|l| l != found) {
        return Err(CryptoError::Key(format!("a PEM {found:?}, not {label:?}")));
    }
    let body = &rest[end_label + 5..];
    let stop = body
        .find("-----END ")
        .ok_or_else(|| CryptoError::Key("an unterminated PEM block".into()))?;
    let text: String = body[..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = B64
        .decode(text)
        .map_err(|e| CryptoError::Key(format!("PEM body: {e}")))?;
    Ok((found, der))
}

/// The merchant's private key (`apiclient_key.pem`, PKCS#8).
pub struct MerchantKey(RsaKeyPair);

impl std::fmt::Debug for MerchantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MerchantKey(..)")
    }
}

impl MerchantKey {
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        let (_, der) = pem_der(pem, Some("PRIVATE KEY"))?;
        RsaKeyPair::from_pkcs8(&der)
            .map(Self)
            .map_err(|e| CryptoError::Key(format!("merchant private key: {e}")))
    }

    /// Base64 RSASSA-PKCS1-v1_5 SHA-256 of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        let mut sig = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut sig,
            )
            .expect("signing with a parsed RSA key");
        B64.encode(sig)
    }
}

/// The keys that verify WeChat Pay's answers and notifications, by the
/// `Wechatpay-Serial` that names them: platform certificates (by their
/// serial) and WeChat Pay public keys (`PUB_KEY_ID_...`), at once.
#[derive(Clone, Default)]
pub struct VerifyingKeys {
    keys: HashMap<String, Vec<u8>>,
}

impl std::fmt::Debug for VerifyingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_tuple("VerifyingKeys").field(&ids).finish()
    }
}

impl VerifyingKeys {
    /// `{serial or PUB_KEY_ID_...: PEM}`: a `CERTIFICATE` or a `PUBLIC KEY`.
    pub fn parse(pems: &HashMap<String, String>) -> Result<Self, CryptoError> {
        let mut keys = HashMap::new();
        for (id, pem) in pems {
            let (label, der) = pem_der(pem, None)?;
            let spki = match label.as_str() {
                "CERTIFICATE" => certificate_spki(&der)
                    .ok_or_else(|| CryptoError::Key(format!("{id}: not an X.509 certificate")))?
                    .to_vec(),
                "PUBLIC KEY" | "RSA PUBLIC KEY" => der,
                other => return Err(CryptoError::Key(format!("{id}: a PEM {other:?}"))),
            };
            aws_lc_rs::rsa::PublicKey::from_der(&spki)
                .map_err(|e| CryptoError::Key(format!("{id}: not an RSA public key: {e}")))?;
            keys.insert(id.clone(), spki);
        }
        Ok(Self { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The WeChat Pay public key to be answered under (`PUB_KEY_ID_...`),
    /// when one is configured: requests name it in `Wechatpay-Serial`.
    pub fn public_key_id(&self) -> Option<&str> {
        let mut ids: Vec<&String> = self
            .keys
            .keys()
            .filter(|k| k.starts_with("PUB_KEY_ID_"))
            .collect();
        ids.sort();
        ids.first().map(|s| s.as_str())
    }

    /// Checks `Wechatpay-Signature` over `timestamp\nnonce\nbody\n` with the
    /// key `serial` names, and that `timestamp` is within 5 minutes of `now`.
    pub fn verify(&self, h: &SignedHeaders, body: &[u8], now: i64) -> Result<(), CryptoError> {
        let key = self
            .keys
            .get(&h.serial)
            .ok_or_else(|| CryptoError::UnknownSerial(h.serial.clone()))?;
        let at: i64 = h
            .timestamp
            .parse()
            .map_err(|_| CryptoError::Stale(h.timestamp.clone()))?;
        if now.abs_diff(at) > MAX_SKEW_SECS.unsigned_abs() {
            return Err(CryptoError::Stale(h.timestamp.clone()));
        }
        let sig = B64
            .decode(&h.signature)
            .map_err(|_| CryptoError::BadSignature)?;
        let mut message = Vec::with_capacity(body.len() + 64);
        message.extend_from_slice(h.timestamp.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(h.nonce.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(body);
        message.push(b'\n');
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, key)
            .verify(&message, &sig)
            .map_err(|_| CryptoError::BadSignature)
    }
}

/// The four `Wechatpay-*` headers of an answer or a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub signature: String,
    pub timestamp: String,
    pub nonce: String,
    pub serial: String,
}

impl SignedHeaders {
    pub fn from_headers(get: impl Fn(&str) -> Option<String>) -> Result<Self, CryptoError> {
        let need = |name: &'static str| get(name).ok_or(CryptoError::MissingHeader(name));
        Ok(Self {
            signature: need("wechatpay-signature")?,
            timestamp: need("wechatpay-timestamp")?,
            nonce: need("wechatpay-nonce")?,
            serial: need("wechatpay-serial")?,
        })
    }
}

/// The API v3 key (32 bytes) that decrypts notification resources.
#[derive(Clone)]
pub struct ApiV3Key([u8; 32]);

impl std::fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiV3Key(..)")
    }
}

impl ApiV3Key {
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        <[u8; 32]>::try_from(text.as_bytes())
            .map(Self)
            .map_err(|_| CryptoError::Key("the API v3 key is not 32 bytes".into()))
    }

    /// `AEAD_AES_256_GCM`: base64 `ciphertext` (with its 16-byte tag), the
    /// 12-byte `nonce` and `associated_data` as WeChat sends them.
    pub fn decrypt(
        &self,
        ciphertext: &str,
        nonce: &str,
        associated_data: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        let bad = |m: &str| CryptoError::Undecryptable(m.to_owned());
        let mut data = B64.decode(ciphertext).map_err(|_| bad("not base64"))?;
        let nonce = Nonce::try_assume_unique_for_key(nonce.as_bytes())
            .map_err(|_| bad("the nonce is not 12 bytes"))?;
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("a 32-byte key"));
        let plain = key
            .open_in_place(nonce, Aad::from(associated_data.as_bytes()), &mut data)
            .map_err(|_| bad("authentication failed"))?;
        Ok(plain.to_vec())
    }

    /// The inverse of [`decrypt`](Self::decrypt) (the simulator's and the tests' side).
    pub fn encrypt(&self, plain: &[u8], nonce: &str, associated_data: &str) -> String {
        let nonce = Nonce::try_assume_unique_for_key(nonce.as_bytes()).expect("a 12-byte nonce");
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("a 32-byte key"));
        let mut data = plain.to_vec();
        key.seal_in_place_append_tag(nonce, Aad::from(associated_data.as_bytes()), &mut data)
            .expect("sealing");
        B64.encode(data)
    }
}

/// 32 random letters and digits (a nonce).
pub fn nonce_str() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random source");
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The `subjectPublicKeyInfo` of an X.509 certificate (DER): the seventh
/// element of `tbsCertificate` when it carries the `[0]` version, else the
/// sixth. Only the outer structure is walked; the key is parsed afterwards.
pub fn certificate_spki(der: &[u8]) -> Option<&[u8]> {
    let (cert, _) = der_element(der, 0x30)?;
    let (tbs, _) = der_element(cert.1, 0x30)?;
    let mut rest = tbs.1;
    if rest.first() == Some(&0xa0) {
        rest = der_any(rest)?.1;
    }
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        rest = der_any(rest)?.1;
    }
    let (whole, _) = der_any(rest)?;
    (whole.first() == Some(&0x30)).then_some(whole)
}

type Element<'a> = (&'a [u8], &'a [u8]);

/// One TLV at the start of `input`: ((the whole element, its contents), the rest).
fn der_split(input: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let len_byte = *input.get(1)?;
    let (len, header) = if len_byte < 0x80 {
        (len_byte as usize, 2)
    } else {
        let n = (len_byte & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *input.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let whole = input.get(..end)?;
    Some(((whole, &whole[header..]), &input[end..]))
}

fn der_element(input: &[u8], tag: u8) -> Option<(Element<'_>, &[u8])> {
    (input.first() == Some(&tag)).then_some(())?;
    der_split(input)
}

fn der_any(input: &[u8]) -> Option<(&[u8], &[u8])> {
    der_split(input).map(|((whole, _), rest)| (whole, rest))
}

/// A fresh key pair for the simulator and tests: (PKCS#8 PEM, public key PEM).
pub fn generate_key_pair() -> (String, String) {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
    use aws_lc_rs::signature::KeyPair;
    let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key generation");
    let private: Pkcs8V1Der = pair.as_der().expect("PKCS#8");
    let public: PublicKeyX509Der = pair.public_key().as_der().expect("SPKI");
    (
        pem("PRIVATE KEY", private.as_ref()),
        pem("PUBLIC KEY", public.as_ref()),
    )
}

/// `der` as a PEM block.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = include_str!("testdata/platform_cert.pem");
    const PUBLIC: &str = include_str!("testdata/platform_pub.pem");
    const PRIVATE: &str = include_str!("testdata/platform_key.pem");
    /// `openssl dgst -sha256 -sign platform_key.pem` of `1765000000\nNONCE123\n{"a":1}\n`.
    const OPENSSL_SIG: &str = include_str!("testdata/answer.sig");
    const SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A72";
    const PUB_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";

    fn keys() -> VerifyingKeys {
        VerifyingKeys::parse(&HashMap::from([
            (SERIAL.to_owned(), CERT.to_owned()),
            (PUB_ID.to_owned(), PUBLIC.to_owned()),
        ]))
        .unwrap()
    }

    fn headers(serial: &str, sig: &str, ts: &str) -> SignedHeaders {
        SignedHeaders {
            signature: sig.trim().to_owned(),
            timestamp: ts.to_owned(),
            nonce: "NONCE123".to_owned(),
            serial: serial.to_owned(),
        }
    }

    /// The certificate's key and the bare public key (openssl's) both verify
    /// openssl's signature, each under its own id; anything else is refused.
    #[test]
    fn certificate_and_public_key_verify_by_serial() {
        let keys = keys();
        let now = 1_765_000_000 + 120;
        for id in [SERIAL, PUB_ID] {
            keys.verify(&headers(id, OPENSSL_SIG, "1765000000"), br#"{"a":1}"#, now)
                .unwrap();
        }
        let h = headers(SERIAL, OPENSSL_SIG, "1765000000");
        assert_eq!(
            keys.verify(&h, br#"{"a":2}"#, now),
            Err(CryptoError::BadSignature)
        );
        assert!(matches!(
            keys.verify(
                &headers("OTHER", OPENSSL_SIG, "1765000000"),
                br#"{"a":1}"#,
                now
            ),
            Err(CryptoError::UnknownSerial(_))
        ));
        // Six minutes either side.
        for off in [-360, 360] {
            assert!(matches!(
                keys.verify(&h, br#"{"a":1}"#, 1_765_000_000 + off),
                Err(CryptoError::Stale(_))
            ));
        }
    }

    #[test]
    fn the_certificates_key_is_its_subject_public_key_info() {
        let (_, cert) = pem_der(CERT, Some("CERTIFICATE")).unwrap();
        let (_, public) = pem_der(PUBLIC, Some("PUBLIC KEY")).unwrap();
        assert_eq!(certificate_spki(&cert), Some(public.as_slice()));
        assert_eq!(certificate_spki(&public[..40]), None);
    }

    /// Our signature verifies with the public key of the same pair.
    #[test]
    fn merchant_signatures_verify() {
        let key = MerchantKey::from_pem(PRIVATE).unwrap();
        let body = b"{\"x\":1}";
        let msg = b"1765000000\nNONCE123\n{\"x\":1}\n";
        let sig = key.sign(msg);
        keys()
            .verify(&headers(PUB_ID, &sig, "1765000000"), body, 1_765_000_000)
            .unwrap();
    }

    /// A resource sealed by Python's `cryptography` (AESGCM) opens; a
    /// changed byte, nonce or associated data does not.
    #[test]
    fn resources_decrypt_with_the_api_v3_key() {
        let key = ApiV3Key::parse("0123456789abcdef0123456789ABCDEF").unwrap();
        let ct = include_str!("testdata/resource.b64").trim();
        let plain = key.decrypt(ct, "NONCE1234567", "transaction").unwrap();
        assert_eq!(plain, br#"{"trade_state":"SUCCESS"}"#);
        assert!(key.decrypt(ct, "NONCE1234568", "transaction").is_err());
        assert!(key.decrypt(ct, "NONCE1234567", "refund").is_err());
        assert!(key.decrypt(ct, "short", "transaction").is_err());
        let again = key.encrypt(&plain, "NONCE1234567", "transaction");
        assert_eq!(again, ct);
        assert!(ApiV3Key::parse("too short").is_err());
    }

    #[test]
    fn pem_labels_are_checked() {
        assert!(MerchantKey::from_pem(PUBLIC).is_err());
        assert!(VerifyingKeys::parse(&HashMap::from([("k".into(), PRIVATE.into())])).is_err());
        let (label, der) = pem_der(&pem("X", b"abc"), None).unwrap();
        assert_eq!((label.as_str(), der.as_slice()), ("X", &b"abc"[..]));
    }
}
