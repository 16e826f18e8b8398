//! One pooled HTTP(S) client with a hard deadline on every exchange.

use crate::config::{ConfigError, SupplierConfig};
use bytes::Bytes;
use domain::ports::SupplierError;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

/// Answers larger than this are not read (a supplier answer is a few hundred bytes).
const MAX_ANSWER_BYTES: usize = 1 << 20;

#[derive(Clone)]
pub(crate) struct Transport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body, cut short, for error messages.
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(300) {
            Some((at, _)) => format!("{}...", &text[..at]),
            None => text.to_owned(),
        }
    }

    /// 5xx, 408 (request timeout) and 429 (too many requests).
    pub fn is_retryable_status(&self) -> bool {
        let s = self.status;
        s.is_server_error()
            || s == StatusCode::REQUEST_TIMEOUT
            || s == StatusCode::TOO_MANY_REQUESTS
    }

    /// 408, 429 and 5xx are worth retrying; any other non-2xx is a refusal.
    pub fn check_status(&self, what: &str) -> Result<(), SupplierError> {
        let s = self.status;
        if s.is_success() {
            return Ok(());
        }
        let msg = format!("{what}: HTTP {}: {}", s.as_u16(), self.snippet());
        if self.is_retryable_status() {
            Err(SupplierError::Unavailable(msg))
        } else {
            Err(SupplierError::Rejected(msg))
        }
    }
}

impl Transport {
    pub fn new(config: &SupplierConfig) -> Result<Self, ConfigError> {
        Self::with(config.any_https(), config.timeout)
    }

    /// A client for plain http only, or also https (`tls`), with a deadline
    /// of `timeout` on each exchange.
    pub fn with(tls: bool, timeout: Duration) -> Result<Self, ConfigError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        // System roots are read only when an endpoint needs them (local runs are plain http).
        let builder = if tls {
            builder
                .with_provider_and_native_roots(provider)
                .map_err(|e| ConfigError::Tls(e.to_string()))?
        } else {
            builder.with_tls_config(
                rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| ConfigError::Tls(e.to_string()))?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
            )
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let connector = builder.https_or_http().enable_http1().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            // Lambda freezes between invocations; do not trust connections idle for long.
            .pool_idle_timeout(Duration::from_secs(20))
            .build(connector);
        Ok(Self { client, timeout })
    }

    /// POSTs `body`; `what` names the call in error messages.
    pub async fn post(
        &self,
        what: &str,
        uri: &Uri,
        content_type: &'static str,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Answer, SupplierError> {
        self.send(what, Method::POST, uri, Some(content_type), headers, body)
            .await
    }

    /// GETs `uri`.
    pub async fn get(
        &self,
        what: &str,
        uri: &Uri,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<Answer, SupplierError> {
        self.send(what, Method::GET, uri, None, headers, Bytes::new())
            .await
    }

    /// One exchange within the deadline.
    pub async fn send(
        &self,
        what: &str,
        method: Method,
        uri: &Uri,
        content_type: Option<&'static str>,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Answer, SupplierError> {
        self.send_limited(
            what,
            method,
            uri,
            content_type,
            headers,
            body,
            MAX_ANSWER_BYTES,
        )
        .await
    }

    /// As [`send`](Self::send), reading at most `max` bytes of the answer.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_limited(
        &self,
        what: &str,
        method: Method,
        uri: &Uri,
        content_type: Option<&'static str>,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
        max: usize,
    ) -> Result<Answer, SupplierError> {
        let mut req = Request::builder()
            .method(method)
            .uri(uri.clone())
            .header(http::header::ACCEPT, "application/json");
        if let Some(ct) = content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        for (name, value) in headers {
            req = req.header(name, value);
        }
        // Traced (deployed, X-Ray on): the call is a subsegment of the
        // invocation, and the supplier gets the trace header naming it.
        let trace = xray::TraceHeader::current().filter(|t| t.sampled);
        let sub_id = xray::new_id();
        if let Some(t) = &trace {
            req = req.header("x-amzn-trace-id", t.downstream(&sub_id));
        }
        let started = xray::now();
        // Never the query: it may carry a supplier's token or signature.
        let url = format!(
            "{}://{}{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority().map(|a| a.as_str()).unwrap_or_default(),
            uri.path()
        );
        let method = req.method_ref().cloned();
        let req = req.body(Full::new(body)).map_err(|e| {
            SupplierError::Rejected(format!("{what}: cannot build the request: {e}"))
        })?;
        let exchange = async {
            let resp =
                self.client.request(req).await.map_err(|e| {
                    SupplierError::Unavailable(format!("{what}: {}", error_chain(&e)))
                })?;
            let status = resp.status();
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, max)
                .collect()
                .await
                .map_err(|e| {
                    SupplierError::Unavailable(format!(
                        "{what}: reading the answer failed: {}",
                        error_chain(e.as_ref())
                    ))
                })?
                .to_bytes();
            Ok(Answer {
                status,
                headers: parts.headers,
                body,
            })
        };
        let result = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(SupplierError::Unavailable(format!(
                "{what}: no answer within {} ms",
                self.timeout.as_millis()
            ))),
        };
        if trace.is_some() {
            let status = result.as_ref().ok().map(|a| a.status.as_u16());
            xray::record(&xray::Subsegment {
                id: sub_id,
                name: uri.host().unwrap_or("supplier").to_owned(),
                namespace: "remote",
                start: started,
                end: xray::now(),
                aws: None,
                http: Some({
                    let mut http = serde_json::json!({
                        "request": {"method": method.map(|m| m.to_string()), "url": url},
                    });
                    // No answer (a time-out, a refused connection): no response.
                    if let Some(s) = status {
                        http["response"] = serde_json::json!({"status": s});
                    }
                    http
                }),
                error: status.is_some_and(|s| (400..500).contains(&s)),
                throttle: status == Some(429),
                fault: status.is_none_or(|s| s >= 500),
            });
        }
        result
    }
}

/// `e: cause: cause`, since hyper's own messages are terse ("client error (Connect)").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// `{base}/{segments joined by /}` as a URI. Segments are domain ids
/// (letters, digits, `-`, `_`, `.`), which need no escaping; `.` and `..`
/// would change the path and are refused.
pub(crate) fn join(base: &str, segments: &[&str]) -> Result<Uri, SupplierError> {
    let mut url = base.trim_end_matches('/').to_owned();
    for seg in segments {
        if seg.is_empty()
            || *seg == "."
            || *seg == ".."
            || !seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(SupplierError::Rejected(format!(
                "{seg:?} cannot be used in a supplier URL"
            )));
        }
        url.push('/');
        url.push_str(seg);
    }
    url.parse()
        .map_err(|e| SupplierError::Rejected(format!("bad supplier URL {url:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_builds_paths_and_refuses_traversal() {
        let u = join("http://h:1/api/", &["warehouses", "WH-1", "packages"]).unwrap();
        assert_eq!(u.to_string(), "http://h:1/api/warehouses/WH-1/packages");
        assert!(join("http://h", &["warehouses", ".."]).is_err());
        assert!(join("http://h", &["a/b"]).is_err());
        assert!(join("http://h", &[""]).is_err());
    }

    #[test]
    fn status_classes() {
        let a = |code: u16| Answer {
            status: StatusCode::from_u16(code).unwrap(),
            headers: Default::default(),
            body: Bytes::from_static(b"{\"error\":\"x\"}"),
        };
        assert!(a(200).check_status("t").is_ok());
        assert!(a(201).check_status("t").is_ok());
        for code in [500, 502, 503, 504, 408, 429] {
            assert!(matches!(
                a(code).check_status("t"),
                Err(SupplierError::Unavailable(_))
            ));
        }
        for code in [400, 401, 404, 409, 422, 301] {
            assert!(matches!(
                a(code).check_status("t"),
                Err(SupplierError::Rejected(_))
            ));
        }
    }

    #[test]
    fn snippet_is_short_and_safe() {
        let a = Answer {
            status: StatusCode::OK,
            headers: Default::default(),
            body: Bytes::from("é".repeat(1000)),
        };
        assert!(a.snippet().chars().count() <= 303);
        let b = Answer {
            status: StatusCode::OK,
            headers: Default::default(),
            body: Bytes::from_static(&[0xff, 0xfe, b'x']),
        };
        assert!(b.snippet().ends_with('x'));
    }
}
