//! HTTP glue for the API functions: identity, bodies, parameters, and the one
//! JSON error shape. Internal failures are logged, never shown.

use crate::app::AuthMode;
use domain::ids::{Caller, Roles, UserId};
use domain::storefront::{self, StorefrontId};
use domain::{ErrorKind, Problem};
use lambda_http::http::{header, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
pub use routes::RouteId;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeSet;

/// Bodies larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The single error type every API function answers with.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "sign in first")
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "staff only")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this route",
        )
    }

    /// A path no route of this function serves.
    pub fn no_route() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    }

    pub fn into_response(self) -> Response<Body> {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(details) = self.details {
            error["details"] = details;
        }
        let mut resp = json_response(self.status, &json!({ "error": error }));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        resp
    }
}

impl<P: Problem> From<P> for ApiError {
    fn from(p: P) -> Self {
        let status = match p.kind() {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Busy => {
                tracing::warn!(error = %p, "busy");
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "too many changes at once, please retry shortly",
                );
            }
            ErrorKind::Internal => {
                tracing::error!(error = %p, "internal error");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error, please retry",
                );
            }
        };
        ApiError {
            status,
            code: p.code(),
            message: p.to_string(),
            details: p.details(),
        }
    }
}

pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut resp = Response::new(Body::Text(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Answers with `Ok` as JSON or the error as JSON; never fails the invocation.
pub fn respond<T: Serialize>(status: StatusCode, result: Result<T, ApiError>) -> Response<Body> {
    match result {
        Ok(body) => json_response(status, &body),
        Err(e) => e.into_response(),
    }
}

/// A list claim or header: `[staff admin]`, a JSON array text, or comma-separated.
fn names(raw: &str) -> impl Iterator<Item = &str> {
    raw.trim_matches(|c| c == '[' || c == ']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|g| g.trim_matches('"'))
        .filter(|g| !g.is_empty())
}

/// What a function holds for its requests (its [`App`] and whatever else).
pub trait RequestScoped: Clone {
    fn app_mut(&mut self) -> &mut crate::App;
}

impl RequestScoped for crate::App {
    fn app_mut(&mut self) -> &mut crate::App {
        self
    }
}

/// `state` for one request, the first thing every handler does: its store's
/// retries stop before the invocation's deadline (none outside Lambda, as in
/// tests without one), so no use case can run past it.
pub fn for_request<S: RequestScoped>(state: &S, req: &Request) -> S {
    let mut s = state.clone();
    if let Some(deadline) = req
        .lambda_context_ref()
        .and_then(|c| deadline_instant(c.deadline))
    {
        let app = s.app_mut();
        app.store = app.store.until(deadline);
    }
    s
}

/// A Lambda deadline (milliseconds since the epoch) as an `Instant`. One
/// already past when the request starts is no deadline at all: a local
/// runtime (`cargo lambda watch`) sends a placeholder.
pub fn deadline_instant(deadline_ms: u64) -> Option<std::time::Instant> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    (deadline_ms > now_ms)
        .then(|| std::time::Instant::now() + std::time::Duration::from_millis(deadline_ms - now_ms))
}

/// The span of one API request: every log line inside it names the request,
/// the order, package or case it is about, and (once identified) the user.
pub fn request_span(req: &Request) -> tracing::Span {
    let route = req
        .request_context_ref()
        .and_then(|c| match c {
            RequestContext::ApiGatewayV2(ctx) => ctx.route_key.clone(),
            _ => None,
        })
        .unwrap_or_else(|| format!("{} {}", req.method(), req.uri().path()));
    let request_id = req.lambda_context_ref().map(|c| c.request_id.clone());
    let param = |name: &str| path_param(req, name).map(|p| p.chars().take(64).collect::<String>());
    let package = param("package_id");
    let case = param("case_id");
    let order = param("id").or_else(|| {
        package
            .as_deref()
            .or(case.as_deref())
            .and_then(|p| p.get(..26))
            .map(str::to_owned)
    });
    tracing::info_span!(
        "request",
        %route,
        request_id = request_id.as_deref(),
        order = order.as_deref(),
        package = package.as_deref(),
        case = case.as_deref(),
        user = tracing::field::Empty,
        storefront = tracing::field::Empty,
    )
}

/// Serves one API request observed: inside its [`request_span`], its
/// latency and answer counted under its route's name (the `operation`
/// dimension: `CreateOrder`, `NotifyPayment`...), the metrics flushed after.
pub async fn observe<F, Fut>(req: Request, handle: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response<Body>>,
{
    observe_as(crate::telemetry::function(), req, handle).await
}

/// [`observe`] for a request `function` serves.
pub async fn observe_as<F, Fut>(function: &str, req: Request, handle: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response<Body>>,
{
    use tracing::Instrument;
    let span = request_span(&req);
    let operation = match routes::resolve(function, req.method().as_str(), req.uri().path()) {
        routes::Resolved::Route(id) => format!("{id:?}"),
        _ => "NoRoute".to_owned(),
    };
    crate::telemetry::invocation_of(function, &operation, async {
        let response = handle(req).instrument(span).await;
        crate::telemetry::answered(function, &operation, response.status().as_u16());
        response
    })
    .await
}

/// The storefront a request asks for, before it is looked up.
enum Asked {
    /// No storefront named: `default`.
    Default,
    /// By id (`x-storefront`, locally).
    Id(String),
    /// By the app client its token was issued to (deployed).
    AppClient(String),
}

/// Who is calling, and through which storefront. Deployed, only the JWT
/// authorizer's claims count (`sub`, `cognito:groups`, `custom:storefronts`,
/// and the app client: `client_id`, or `aud` in an ID token); locally
/// (`AUTH_MODE=dev-headers`) the `x-user-id`, `x-user-role`, `x-storefronts`
/// and `x-storefront` headers stand in. A storefront that does not exist is
/// 404 `unknown_storefront`.
pub async fn caller(app: &crate::App, req: &Request) -> Result<Caller, ApiError> {
    let (mut caller, asked) = identity(req, app.auth)?;
    caller.storefront = match asked {
        Asked::Default => StorefrontId::default_id(),
        Asked::Id(raw) => {
            let id = StorefrontId::parse(&raw)?;
            if !id.is_default() {
                storefront::find(&app.store, &id).await?;
            }
            id
        }
        Asked::AppClient(client) => storefront::of_app_client(&app.store, &client).await?,
    };
    tracing::Span::current().record("storefront", caller.storefront.as_str());
    Ok(caller)
}

/// A staff user's storefronts from a comma-separated list; ids that cannot
/// be storefronts are left out (a limit grants nothing it cannot name).
fn storefront_limit(raw: Option<&str>) -> Option<BTreeSet<StorefrontId>> {
    raw.map(|v| {
        v.trim_matches(|c| c == '[' || c == ']')
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter_map(|s| StorefrontId::parse(s.trim_matches('"')).ok())
            .collect()
    })
}

fn identity(req: &Request, mode: AuthMode) -> Result<(Caller, Asked), ApiError> {
    match mode {
        AuthMode::DevHeaders => {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
            };
            let user = header("x-user-id")
                .and_then(|v| UserId::parse(v).ok())
                .ok_or_else(ApiError::unauthorized)?;
            let roles = Roles::from_names(
                names(header("x-user-role").unwrap_or_default()),
                header("x-warehouse"),
            );
            tracing::Span::current().record("user", user.as_str());
            let caller = Caller {
                staff_storefronts: storefront_limit(header("x-storefronts")),
                roles,
                ..Caller::buyer(user)
            };
            // Left out: `default`; present, it must name one (empty names none).
            let asked = match header("x-storefront") {
                None => Asked::Default,
                Some(id) => Asked::Id(id.to_owned()),
            };
            Ok((caller, asked))
        }
        AuthMode::Jwt => {
            let claims = match req.request_context_ref() {
                Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                    .authorizer
                    .as_ref()
                    .and_then(|a| a.jwt.as_ref())
                    .map(|j| &j.claims),
                _ => None,
            }
            .ok_or_else(ApiError::unauthorized)?;
            let user = claims
                .get("sub")
                .and_then(|s| UserId::parse(s).ok())
                .ok_or_else(ApiError::unauthorized)?;
            let roles = Roles::from_names(
                names(
                    claims
                        .get("cognito:groups")
                        .map(String::as_str)
                        .unwrap_or_default(),
                ),
                claims.get("custom:warehouse").map(String::as_str),
            );
            tracing::Span::current().record("user", user.as_str());
            let caller = Caller {
                staff_storefronts: storefront_limit(
                    claims.get("custom:storefronts").map(String::as_str),
                ),
                roles,
                ..Caller::buyer(user)
            };
            let asked = match claims.get("client_id").or_else(|| claims.get("aud")) {
                Some(client) => Asked::AppClient(client.clone()),
                None => Asked::Default,
            };
            Ok((caller, asked))
        }
    }
}

/// The route of the route table (`shared/routes`) that `function` serves
/// this request on: 405 when its path is served under another method, 404
/// when no route of the function has its path.
pub fn route(req: &Request, function: &str) -> Result<RouteId, ApiError> {
    match routes::resolve(function, req.method().as_str(), req.uri().path()) {
        routes::Resolved::Route(id) => Ok(id),
        routes::Resolved::NoRoute => Err(ApiError::no_route()),
        routes::Resolved::OtherMethod => Err(ApiError::method_not_allowed()),
    }
}

/// The raw body, refused when larger than [`MAX_BODY_BYTES`].
pub fn body(req: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body must be at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    Ok(bytes)
}

/// The raw body of a webhook, once its `X-Signature` (hex HMAC-SHA256 of
/// the body with `secret`) checks out; 401 `invalid_signature` otherwise.
pub fn signed_body<'r>(req: &'r Request, secret: &str) -> Result<&'r [u8], ApiError> {
    verified_body(req, |bytes, sig| {
        domain::payment::signature::verify(secret.as_bytes(), bytes, sig)
    })
}

/// The raw body once `verify(body, X-Signature)` holds; 401 otherwise.
pub fn verified_body(
    req: &Request,
    verify: impl FnOnce(&[u8], Option<&str>) -> bool,
) -> Result<&[u8], ApiError> {
    let bytes = body(req)?;
    let sig = header_value(req, "x-signature");
    if !verify(bytes, sig.as_deref()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "missing or wrong X-Signature",
        ));
    }
    Ok(bytes)
}

/// 204: what WeChat Pay takes as "received, do not send again".
pub fn no_content() -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// 401 `invalid_signature`: a WeChat Pay notification that does not
/// verify or decrypt (the reason is logged, never answered).
pub fn wechatpay_unverified(why: impl std::fmt::Display) -> ApiError {
    tracing::warn!(reason = %why, "WeChat Pay notification refused");
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
        "the notification does not verify with this storefront's WeChat Pay keys",
    )
}

/// The `Wechatpay-*` headers of a notification (401 when one is missing).
fn wechatpay_headers(
    req: &Request,
) -> Result<suppliers::wechatpay::crypto::SignedHeaders, ApiError> {
    suppliers::wechatpay::crypto::SignedHeaders::from_headers(|name| header_value(req, name))
        .map_err(wechatpay_unverified)
}

/// The storefront a notification route names (`.../{storefront}`; the
/// bare route is `default`), recorded on the request's span. Unknown: 404.
pub async fn route_storefront(
    app: &crate::App,
    req: &Request,
) -> Result<domain::storefront::Storefront, ApiError> {
    let id = match path_param(req, "storefront") {
        Some(raw) => domain::storefront::StorefrontId::parse(&raw)?,
        None => domain::storefront::StorefrontId::default_id(),
    };
    let sf = domain::storefront::find(&app.store, &id).await?;
    tracing::Span::current().record("storefront", sf.id.as_str());
    Ok(sf)
}

/// A WeChat Pay notification, opened.
pub struct WechatNotification {
    pub storefront: domain::storefront::Storefront,
    pub credentials: std::sync::Arc<suppliers::wechatpay::Credentials>,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`...
    pub event: String,
    /// The decrypted resource (JSON).
    pub resource: Vec<u8>,
}

/// A WeChat Pay notification to a storefront's route, verified with that
/// storefront's keys and decrypted with its API v3 key before anything is
/// read; 401 `invalid_signature` when it does not verify or decrypt (or the
/// storefront has no WeChat Pay credentials).
pub async fn wechatpay_notification(
    app: &crate::App,
    secrets: &crate::secrets::PaymentSecrets,
    req: &Request,
) -> Result<WechatNotification, ApiError> {
    let storefront = route_storefront(app, req).await?;
    let credentials = secrets.wechatpay(&storefront).await?.ok_or_else(|| {
        wechatpay_unverified(format!(
            "storefront {} has no WeChat Pay credentials",
            storefront.id
        ))
    })?;
    let headers = wechatpay_headers(req)?;
    let (event, resource) = credentials
        .open_notification(&headers, body(req)?)
        .map_err(wechatpay_unverified)?;
    Ok(WechatNotification {
        storefront,
        credentials,
        event,
        resource,
    })
}

pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_owned)
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_owned)
}

pub fn header_value(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
}

/// A header as sent, trimmed: `None` when absent, `Some(Err(_))` when present
/// but not visible ASCII (e.g. UTF-8 bytes), so that a caller can refuse such
/// a value instead of taking it for an absent header.
pub fn header_text(
    req: &Request,
    name: &str,
) -> Option<Result<String, lambda_http::http::header::ToStrError>> {
    req.headers()
        .get(name)
        .map(|v| v.to_str().map(|s| s.trim().to_owned()))
}

/// Parses a JSON body into `T`: 400 `invalid_json` for broken JSON, 400
/// `invalid_request` for the wrong shape (missing or unknown fields).
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    domain::body::parse(bytes).map_err(|e| match e {
        domain::body::BodyError::Json(m) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", m)
        }
        domain::body::BodyError::Shape(m) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", m)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_already_past_is_no_deadline() {
        assert!(
            deadline_instant(600_000).is_none(),
            "cargo lambda watch's placeholder"
        );
        let soon = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 3_000;
        assert!(deadline_instant(soon).is_some());
    }

    #[test]
    fn busy_is_503_with_retry_after() {
        let e = ApiError::from(domain::error::StoreError::Busy("secret-detail".into()));
        let resp = e.into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        let body: serde_json::Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
        assert_eq!(body["error"]["code"], "busy");
        assert!(
            !body.to_string().contains("secret-detail"),
            "internals are not shown"
        );
    }

    #[test]
    fn role_claim_formats() {
        let roles = |raw: &str, wh: Option<&str>| Roles::from_names(names(raw), wh);
        assert!(roles("[staff]", None).admin, "staff is read as admin");
        assert!(roles("[support staff]", None).admin);
        let both = roles("[\"support\",\"warehouse\"]", Some("WH-2"));
        assert!(both.support && !both.admin);
        assert_eq!(both.warehouse.as_ref().map(|w| w.as_str()), Some("WH-2"));
        assert_eq!(
            roles("warehouse", None).warehouse,
            None,
            "no warehouse claim, no warehouse"
        );
        assert_eq!(
            roles("support", Some("WH-2")).warehouse,
            None,
            "the claim alone is no role"
        );
        assert_eq!(roles("[staffing]", None), Roles::default());
        assert_eq!(roles("", None), Roles::default());
    }
}
