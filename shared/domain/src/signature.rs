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
}
