//! After-sales proof in S3 (SPEC 2.8): presigned PUTs and GETs signed here
//! with SigV4 (AWS's own `aws-sigv4`, already in every binary through the
//! SDK), so no S3 client is linked. Deployed: the bucket's virtual-hosted
//! endpoint; locally (`AWS_ENDPOINT_URL_S3`): moto's, path-style.

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use domain::after_sales::uploads::ProofStore;
use domain::error::StoreError;
use std::time::{Duration, SystemTime};

#[derive(Clone, Debug)]
pub struct S3Proofs {
    /// `https://<bucket>.s3.<region>.amazonaws.com`, or `<endpoint>/<bucket>`.
    base: String,
    region: String,
    credentials: Option<SharedCredentialsProvider>,
}

impl S3Proofs {
    /// The bucket `UPLOADS_BUCKET`, at the endpoint the SDK configuration
    /// names for S3 (`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`), else AWS's.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, crate::app::StartupError> {
        let bucket = crate::app::required("UPLOADS_BUCKET")?;
        let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .ok()
            .filter(|e| !e.is_empty());
        let region = sdk
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
        Ok(Self::new(
            &bucket,
            endpoint.as_deref(),
            &region,
            sdk.credentials_provider(),
        ))
    }

    pub fn new(
        bucket: &str,
        endpoint: Option<&str>,
        region: &str,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Self {
        let base = match endpoint {
            Some(e) => format!("{}/{bucket}", e.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        };
        Self {
            base,
            region: region.to_owned(),
            credentials,
        }
    }

    /// The bucket's own URL (a PUT to it creates it, for the local stack).
    pub fn bucket_url(&self) -> &str {
        &self.base
    }

    async fn credentials(&self) -> Result<Credentials, StoreError> {
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| StoreError::Failed("no AWS credentials to sign with".into()))?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| StoreError::Failed(format!("AWS credentials: {e}")))
    }

    /// `method` on `path` (under the bucket), signed in the query string.
    pub async fn presign(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        secs: u64,
    ) -> Result<String, StoreError> {
        let creds = self.credentials().await?;
        presign_url(
            &creds,
            &self.region,
            method,
            &format!("{}{path}", self.base),
            headers,
            secs,
            SystemTime::now(),
        )
    }
}

/// A SigV4 query-string signature of `method url` for S3.
pub fn presign_url(
    creds: &Credentials,
    region: &str,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    secs: u64,
    at: SystemTime,
) -> Result<String, StoreError> {
    let fail = |e: &dyn std::fmt::Display| StoreError::Failed(format!("presign: {e}"));
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(secs));
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| fail(&e))?
        .into();
    let request = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::UnsignedPayload,
    )
    .map_err(|e| fail(&e))?;
    let (instructions, _) = sign(request, &params).map_err(|e| fail(&e))?.into_parts();
    let query: Vec<String> = instructions
        .params()
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    Ok(format!("{url}?{}", query.join("&")))
}

/// RFC 3986 unreserved characters stay, everything else is %XX.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl ProofStore for S3Proofs {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        bytes: u64,
        secs: u64,
    ) -> Result<String, StoreError> {
        let length = bytes.to_string();
        self.presign(
            "PUT",
            &format!("/{key}"),
            &[("content-type", content_type), ("content-length", &length)],
            secs,
        )
        .await
    }

    async fn presign_get(&self, key: &str, secs: u64) -> Result<String, StoreError> {
        self.presign("GET", &format!("/{key}"), &[], secs).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's worked example of a presigned GET ("Authenticating Requests:
    /// Using Query Parameters", Amazon S3 API Reference).
    #[test]
    fn signs_the_documented_example() {
        let creds = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "example",
        );
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600); // 2013-05-24T00:00:00Z
        let url = presign_url(
            &creds,
            "us-east-1",
            "GET",
            "https://examplebucket.s3.amazonaws.com/test.txt",
            &[],
            86_400,
            at,
        )
        .unwrap();
        assert!(
            url.starts_with("https://examplebucket.s3.amazonaws.com/test.txt?"),
            "{url}"
        );
        assert!(
            url.contains(
                "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            ),
            "{url}"
        );
        assert!(url.contains("X-Amz-Expires=86400"), "{url}");
        assert!(url.contains("X-Amz-SignedHeaders=host"), "{url}");
        assert!(
            url.ends_with(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            ) || url.contains(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404&"
            ),
            "{url}"
        );
    }
}
