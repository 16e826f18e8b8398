//! Proof for after-sales (SPEC 2.8): `POST /after-sales/uploads` hands the
//! owner a presigned PUT for a key under its own prefix
//! (`uploads/<user>/...`); a case cites only keys under its owner's prefix;
//! staff see a cited key as a presigned GET.

use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::{Caller, UserId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::future::Future;

/// The largest upload, in bytes.
pub const MAX_UPLOAD_BYTES: u64 = 10 * 1024 * 1024;
/// How long an upload URL (and a staff download URL) stays valid.
pub const URL_SECS: u64 = 900;
/// What may be uploaded, and the key's extension for each.
pub const CONTENT_TYPES: [(&str, &str); 5] = [
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/webp", "webp"),
    ("image/heic", "heic"),
    ("application/pdf", "pdf"),
];

/// The object store proof lives in: presigned URLs, nothing read through us.
pub trait ProofStore: Send + Sync {
    /// A URL that accepts one PUT of exactly `bytes` bytes of `content_type`
    /// at `key` for `secs` seconds.
    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        bytes: u64,
        secs: u64,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
    /// A URL that GETs `key` for `secs` seconds.
    fn presign_get(
        &self,
        key: &str,
        secs: u64,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::body_errors!(UploadError);

impl Problem for UploadError {
    fn kind(&self) -> ErrorKind {
        match self {
            UploadError::InvalidJson(_) | UploadError::InvalidRequest(_) => ErrorKind::BadRequest,
            UploadError::Store(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            UploadError::InvalidJson(_) => "invalid_json",
            UploadError::InvalidRequest(_) => "invalid_request",
            UploadError::Store(e) => e.code(),
        }
    }
}

/// Body of `POST /after-sales/uploads`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadRequest {
    /// `image/jpeg`, `image/png`, `image/webp`, `image/heic` or `application/pdf`.
    pub content_type: String,
    /// The file's size: the PUT must send exactly this many bytes.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10485760))]
    pub bytes: u64,
}

impl UploadRequest {
    pub fn parse(body: &[u8]) -> Result<Self, UploadError> {
        let r: UploadRequest = crate::body::parse(body)?;
        if extension(&r.content_type).is_none() {
            return Err(UploadError::InvalidRequest(
                "content_type must be image/jpeg, image/png, image/webp, image/heic or application/pdf"
                    .into(),
            ));
        }
        if r.bytes == 0 || r.bytes > MAX_UPLOAD_BYTES {
            return Err(UploadError::InvalidRequest(format!(
                "bytes must be 1 to {MAX_UPLOAD_BYTES}"
            )));
        }
        Ok(r)
    }
}

fn extension(content_type: &str) -> Option<&'static str> {
    CONTENT_TYPES
        .iter()
        .find(|(t, _)| *t == content_type)
        .map(|(_, e)| *e)
}

/// The answer: where to PUT, and the key to cite in a case.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Upload {
    pub key: String,
    pub upload_url: String,
    pub expires_at: Timestamp,
}

/// A user's prefix: `uploads/<user>/`. A user id that is not plain
/// (`[A-Za-z0-9._-]`, no `..`, not starting with `.` or `h-`) is replaced by
/// `h-` and its SHA-256, so every key stays a storage key a case may cite
/// and no two users share a prefix.
pub fn prefix(user: &UserId) -> String {
    let id = user.as_str();
    let plain = id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !id.starts_with('.')
        && !id.starts_with("h-")
        && !id.contains("..");
    if plain {
        format!("uploads/{id}/")
    } else {
        let hash = Sha256::digest(id.as_bytes());
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        format!("uploads/h-{hex}/")
    }
}

/// True for a storage key (not a URL) cited as evidence.
pub fn is_key(evidence: &str) -> bool {
    !evidence.starts_with("https://")
}

/// A presigned PUT for the caller's next upload.
pub async fn request_upload<P: ProofStore>(
    proofs: &P,
    caller: &Caller,
    req: &UploadRequest,
    now: Timestamp,
) -> Result<Upload, UploadError> {
    let ext = extension(&req.content_type).unwrap_or("bin");
    let name = ulid::Ulid::from_parts(now.unix_millis().max(0) as u64, ulid::Ulid::new().random())
        .to_string()
        .to_lowercase();
    let key = format!("{}{name}.{ext}", prefix(&caller.user));
    let upload_url = proofs
        .presign_put(&key, &req.content_type, req.bytes, URL_SECS)
        .await?;
    Ok(Upload {
        key,
        upload_url,
        expires_at: now.plus_secs(URL_SECS),
    })
}

/// Evidence as staff see it: each cited key as a presigned GET, URLs as they are.
pub async fn evidence_for_staff<P: ProofStore>(
    proofs: &P,
    evidence: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::with_capacity(evidence.len());
    for e in evidence {
        out.push(if is_key(e) {
            proofs.presign_get(e, URL_SECS).await?
        } else {
            e.clone()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_the_user_or_its_hash() {
        assert_eq!(prefix(&UserId::parse("rita").unwrap()), "uploads/rita/");
        let odd = prefix(&UserId::parse("a@b/c").unwrap());
        assert!(odd.starts_with("uploads/h-") && odd.len() == "uploads/h-/".len() + 64);
        assert_ne!(odd, prefix(&UserId::parse("a@b/d").unwrap()));
        // Neither a key a case would refuse nor another user's hashed prefix.
        for id in ["a..b", "h-0123", ".hidden"] {
            let p = prefix(&UserId::parse(id).unwrap());
            assert!(
                p.starts_with("uploads/h-") && !p.contains(".."),
                "{id}: {p}"
            );
        }
    }

    #[test]
    fn only_proof_types_up_to_ten_megabytes() {
        let ok = |b: &str| UploadRequest::parse(b.as_bytes()).is_ok();
        assert!(ok(r#"{"content_type": "image/jpeg", "bytes": 1}"#));
        assert!(ok(
            r#"{"content_type": "application/pdf", "bytes": 10485760}"#
        ));
        assert!(!ok(
            r#"{"content_type": "application/pdf", "bytes": 10485761}"#
        ));
        assert!(!ok(r#"{"content_type": "image/jpeg", "bytes": 0}"#));
        assert!(!ok(r#"{"content_type": "text/html", "bytes": 5}"#));
        assert!(!ok(r#"{"content_type": "image/jpeg"}"#));
    }
}
