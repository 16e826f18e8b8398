//! Webhook signatures: `X-Signature: hex(HMAC-SHA256(secret, raw body))`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Signs `body` (for tests and tools that send notifications).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// True when `signature` (hex, either case) is the HMAC of `body`. Constant time.
pub fn verify(secret: &[u8], body: &[u8], signature: Option<&str>) -> bool {
    let Some(expected) = signature.map(str::trim).and_then(decode_hex) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Each supplier's own webhook key (`SUPPLIER_WEBHOOK_SECRETS`, a JSON object
/// supplier id -> secret, SPEC 2.5): a callback is verified with the key of
/// the supplier its path names, so one supplier can never sign for another.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SupplierSecrets(std::collections::BTreeMap<String, String>);

impl std::fmt::Debug for SupplierSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupplierSecrets")
            .field("suppliers", &self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SupplierSecrets {
    /// Parses the JSON object; every secret must be a non-empty string.
    pub fn parse(json: &str) -> Result<Self, String> {
        let map: std::collections::BTreeMap<String, String> = serde_json::from_str(json)
            .map_err(|_| "must be a JSON object of supplier id to secret".to_owned())?;
        if let Some((id, _)) = map.iter().find(|(id, s)| id.is_empty() || s.is_empty()) {
            return Err(format!("supplier {id:?} has an empty id or secret"));
        }
        Ok(Self(map))
    }

    /// True when `signature` is `supplier`'s HMAC of `body`; a supplier
    /// without a secret never verifies.
    pub fn verify(&self, supplier: &str, body: &[u8], signature: Option<&str>) -> bool {
        self.0
            .get(supplier)
            .is_some_and(|secret| verify(secret.as_bytes(), body, signature))
    }

    pub fn suppliers(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_and_tampering() {
        // RFC 4231 test case 2.
        let sig = sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify(b"Jefe", b"what do ya want for nothing?", Some(&sig)));
        assert!(verify(
            b"Jefe",
            b"what do ya want for nothing?",
            Some(&sig.to_uppercase())
        ));
        assert!(!verify(
            b"Jefe",
            b"what do ya want for nothing!",
            Some(&sig)
        ));
        assert!(!verify(
            b"jefe",
            b"what do ya want for nothing?",
            Some(&sig)
        ));
        assert!(!verify(b"Jefe", b"x", None));
        assert!(!verify(b"Jefe", b"x", Some("zz")));
        assert!(!verify(b"Jefe", b"x", Some("")));
        assert!(!verify(b"Jefe", b"x", Some("é1")));
    }

    #[test]
    fn each_supplier_verifies_with_its_own_secret_only() {
        let secrets = SupplierSecrets::parse(r#"{"S-1": "one", "jd": "jd-key"}"#).unwrap();
        let body = b"{}";
        let by_one = sign(b"one", body);
        assert!(secrets.verify("S-1", body, Some(&by_one)));
        assert!(
            !secrets.verify("jd", body, Some(&by_one)),
            "S-1's key for JD"
        );
        assert!(
            !secrets.verify("S-2", body, Some(&sign(b"", body))),
            "no secret"
        );
        assert!(!secrets.verify("S-1", body, None));
        assert!(SupplierSecrets::parse("[]").is_err());
        assert!(SupplierSecrets::parse(r#"{"S-1": ""}"#).is_err());
        assert!(SupplierSecrets::parse(r#"{"S-1": 5}"#).is_err());
        assert!(!format!("{secrets:?}").contains("jd-key"), "never printed");
    }
}
