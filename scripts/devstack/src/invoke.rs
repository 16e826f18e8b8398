//! Invokes a function through `cargo lambda watch`'s Lambda invoke API
//! (`POST {api}/2015-03-31/functions/{name}/invocations`), the same call
//! `cargo lambda invoke` makes.
//!
//! What watch answers: 200 with the function's result; 500 with the error
//! document when the handler returned an error (the runtime's `/error`
//! route); 200 with an error document (`errorType`, `errorMessage`) when the
//! function failed at cold start (the runtime's `/init/error` route); 404
//! when there is no such function.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::time::Duration;

pub struct Invoker {
    api: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// Why an invocation produced no result.
#[derive(Debug)]
pub enum InvokeError {
    /// No answer from watch (not listening, connection dropped, timed out).
    Transport(String),
    /// The function (or watch) answered with an error.
    Function { status: u16, body: String },
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvokeError::Transport(e) => write!(f, "{e}"),
            InvokeError::Function { status, body } => {
                write!(f, "function error (HTTP {status}): {}", snippet(body))
            }
        }
    }
}

/// A body cut short for a log line.
pub fn snippet(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(400) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

impl Invoker {
    /// `api`: watch's base URL, e.g. `http://127.0.0.1:9000`.
    pub fn new(api: &str) -> Result<Self, String> {
        let api = api.trim_end_matches('/').to_owned();
        let uri: http::Uri = api
            .parse()
            .map_err(|_| format!("--api {api:?} is not a URL"))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(format!("--api {api:?} must be http://host:port"));
        }
        let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        Ok(Self { api, client })
    }

    pub fn url(&self, function: &str) -> String {
        format!("{}/2015-03-31/functions/{function}/invocations", self.api)
    }

    /// Invokes `function` with `payload` and returns its result, waiting at
    /// most `timeout` for it.
    pub async fn invoke(
        &self,
        function: &str,
        payload: &Value,
        timeout: Duration,
    ) -> Result<Value, InvokeError> {
        let request = http::Request::post(self.url(function))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(payload.to_string())))
            .map_err(|e| InvokeError::Transport(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| InvokeError::Transport(format!("{}: {e}", self.url(function))))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| InvokeError::Transport(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok::<_, InvokeError>((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| {
                InvokeError::Transport(format!(
                    "no answer from {function} within {}s",
                    timeout.as_secs()
                ))
            })??;
        let text = String::from_utf8_lossy(&body).into_owned();
        if !(200..300).contains(&status) {
            return Err(InvokeError::Function { status, body: text });
        }
        let value: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(_) if text.trim().is_empty() => Value::Null,
            Err(_) => return Err(InvokeError::Function { status, body: text }),
        };
        // A cold-start failure comes back as 200 with Lambda's error document.
        if value.get("errorType").is_some() && value.get("errorMessage").is_some() {
            return Err(InvokeError::Function { status, body: text });
        }
        Ok(value)
    }
}
