//! The HTTP API's OpenAPI 3.1 document (SPEC section 3).
//!
//! Every request and answer shape comes from the domain's Rust types through
//! `utoipa::ToSchema` (the domain's `openapi` feature, which only this crate
//! turns on). What no Rust type holds is declared here, next to the code it
//! mirrors: the routes and their parameters ([`routes`]), which error codes each
//! route answers with which status (read from the functions and the domain's
//! `Problem` impls), the answers the functions build with `json!`
//! ([`OrderList`], [`RepurchaseAnswer`]), and constraints a Rust type cannot
//! carry as a schema attribute ([`refine`]: id patterns, enumerated codes).
//!
//! `cargo run -p api-doc > openapi.yaml` writes the committed document; the
//! crate's drift test fails while the two differ.

pub mod events;
pub mod operations;
mod refine;
mod routes;

use domain::backoffice::queues::QueueEntry;
use domain::checkout::repurchase::RepurchaseReport;
use domain::view::OrderView;
use serde_json::{json, Map, Value};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{OpenApi, ToSchema};

pub use routes::{routes, Access, Route};

/// The one error shape of every function: `{"error": {"code", "message", "details"?}}`.
/// Each response lists the codes it may carry.
#[derive(ToSchema)]
pub struct ApiError {
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code (README "API notes" lists them all).
    pub code: String,
    /// For people; its wording may change.
    pub message: String,
    /// Code-specific facts, e.g. `{"skus": [...]}` for `out_of_stock`; absent
    /// when the code says it all.
    pub details: Option<serde_json::Value>,
}

/// What API Gateway itself answers when it refuses a request before any
/// function runs (deployed only), e.g. a missing or invalid JWT:
/// `{"message": "Unauthorized"}`.
#[derive(ToSchema)]
pub struct GatewayError {
    pub message: String,
}

/// `GET /orders`: the caller's orders, newest first (functions/orders).
#[derive(ToSchema)]
pub struct OrderList {
    pub orders: Vec<OrderView<'static>>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// `POST /orders/{id}/repurchase` (functions/place): what changed since the
/// earlier order, and the new order (null for a dry run).
#[derive(ToSchema)]
pub struct RepurchaseAnswer {
    pub report: RepurchaseReport,
    #[schema(required = true)]
    pub order: Option<OrderView<'static>>,
}

/// `GET /staff/packages` (functions/backoffice): a page of the pick list or
/// of the overdue supplier packages, oldest first.
#[derive(ToSchema)]
pub struct PackageQueue {
    pub packages: Vec<QueueEntry>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// `GET /staff/after-sales`: a page of cases waiting, oldest first.
#[derive(ToSchema)]
pub struct CaseQueue {
    pub cases: Vec<QueueEntry>,
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// `GET /staff/attention`: a page of open attention items, oldest first.
#[derive(ToSchema)]
pub struct AttentionList {
    pub items: Vec<QueueEntry>,
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

#[derive(OpenApi)]
#[openapi(components(schemas(
    domain::catalog::Sku,
    domain::catalog::SkuInput,
    domain::storefront::Storefront,
    domain::storefront::StorefrontInput,
    domain::backoffice::notes::NoteInput,
    domain::payment::start::StartInput,
    domain::payment::start::PayParams,
    domain::after_sales::uploads::UploadRequest,
    domain::after_sales::uploads::Upload,
    domain::backoffice::acknowledge::AcknowledgeInput,
    domain::payment::refund::GatewayRefundNotice,
    domain::payment::refund::OfflineInput,
    domain::order::RefundStatus,
    domain::backoffice::queues::QueueEntry,
    domain::backoffice::work::Summary,
    domain::view::OrderView,
    domain::after_sales::case::AfterSalesCase,
    domain::fulfilment::packages::Synced,
    domain::fulfilment::packages::CallbackStatus,
    domain::checkout::repurchase::RepurchaseReport,
    domain::ports::Shortage,
    domain::ports::LimitBreach,
    domain::order::sweep::SweepSummary,
    ApiError,
    GatewayError,
    OrderList,
    RepurchaseAnswer,
    PackageQueue,
    CaseQueue,
    AttentionList,
)))]
struct Schemas;

/// The schema name of `T`, as a `$ref`.
pub fn schema_ref<T: ToSchema>() -> Value {
    json!({ "$ref": format!("#/components/schemas/{}", T::name()) })
}

/// Every schema: the domain's answer types and, through the public type beside
/// each, the request bodies the domain parses with private `Raw*` structs.
fn components() -> utoipa::openapi::OpenApi {
    let mut doc = Schemas::openapi();
    doc.merge(<domain::checkout::place::PlaceRequest as OpenApi>::openapi());
    doc.merge(<domain::payment::pay::PaymentNotice as OpenApi>::openapi());
    doc.merge(<domain::order::cancel::CancelBody as OpenApi>::openapi());
    doc.merge(<domain::fulfilment::packages::StatusCallback as OpenApi>::openapi());
    doc.merge(<domain::after_sales::OpenCase as OpenApi>::openapi());
    doc
}

fn security_schemes() -> Value {
    let jwt = SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "API Gateway's JWT authorizer (template.yaml `JwtAuthorizer`: issuer \
                 `JwtIssuer`, audience `JwtAudience`) checks the token before the function \
                 runs and answers 401 `{\"message\": \"Unauthorized\"}` itself when it is \
                 missing or invalid. The user is the `sub` claim; staff roles are the \
                 groups (`cognito:groups`) `admin` (`staff` is read as `admin`), `support` \
                 and `warehouse` (with the claim `custom:warehouse`), SPEC 2.11; a caller \
                 with several has the union of their rights. Catalog and storefront \
                 writes need an `admin` limited to no storefront; shipping, an `admin` or \
                 the parcel's warehouse (another warehouse's parcel is 404); the other \
                 staff routes, `admin` or `support`. Locally (`scripts/dev`, \
                 `AUTH_MODE=dev-headers`) there is no authorizer: the headers `x-user-id: \
                 <user>`, `x-user-role: admin` (comma-separated roles), `x-warehouse` and \
                 `x-storefronts` stand in for the claims, and a deployed function ignores \
                 them.",
            ))
            .build(),
    );
    let signed = |secret: &str| {
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Signature".to_owned(),
            format!(
                "Lower-case hex of HMAC-SHA256 over the raw request body, keyed with \
                 `{secret}` (deployed: from Secrets Manager; locally `scripts/dev` prints \
                 it). A missing or wrong signature is 401 `invalid_signature` and changes \
                 nothing. No JWT on this route."
            ),
        )))
    };
    json!({
        "JwtBearer": jwt,
        "PaymentSignature": signed("PAYMENT_WEBHOOK_SECRET"),
        "SupplierSignature": signed("the path's supplier's own secret from SUPPLIER_WEBHOOK_SECRETS (a supplier without one: 401)"),
        "WechatpaySignature": SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "Wechatpay-Signature".to_owned(),
            "WeChat Pay API v3: base64 RSASSA-PKCS1-v1_5 SHA-256 over \
             `Wechatpay-Timestamp\\nWechatpay-Nonce\\nbody\\n` by WeChat Pay's key named in \
             `Wechatpay-Serial` (a platform certificate serial or `PUB_KEY_ID_...`, \
             configured per storefront). A bad signature, a timestamp more than 5 minutes \
             away or a resource that does not decrypt is 401 `invalid_signature` and \
             changes nothing."
                .to_owned(),
        ))),
    })
}

/// Responses shared by every operation.
fn shared_responses() -> Value {
    let error = |codes: &[&str]| routes::error_schema(codes);
    json!({
        "Internal": {
            "description": "`internal`: an internal failure (logged with its cause, never \
                shown). The contract is that no input produces it.",
            "content": { "application/json": { "schema": error(&["internal"]) } },
        },
        "Busy": {
            "description": "`busy`: the request's retry budget ran out while other \
                requests held the items it needs (DynamoDB transaction conflicts or \
                throttling). Nothing was changed; retry after `Retry-After` seconds.",
            "headers": { "Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": { "type": "integer", "minimum": 0 },
            }},
            "content": { "application/json": { "schema": error(&["busy"]) } },
        },
    })
}

fn info() -> Value {
    json!({
        "title": "Order system API",
        "version": env!("CARGO_PKG_VERSION"),
        "license": { "name": "MIT", "identifier": "MIT" },
        "description": include_str!("description.md"),
    })
}

/// The whole document, as JSON.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(components()).expect("the OpenAPI document serializes");
    let obj = doc.as_object_mut().expect("an object");
    obj.insert("info".into(), info());
    obj.insert(
        "servers".into(),
        json!([
            { "url": "http://127.0.0.1:9000", "description": "Local stack (`scripts/dev`)" },
            {
                "url": "https://{api_id}.execute-api.{region}.amazonaws.com",
                "description": "Deployed HTTP API (stack output `ApiUrl`)",
                "variables": {
                    "api_id": { "default": "api-id" },
                    "region": { "default": "us-east-1" },
                },
            },
        ]),
    );
    obj.insert("tags".into(), routes::tags());
    let mut paths = Map::new();
    for route in routes::routes() {
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        item[route.method] = route.operation();
    }
    obj.insert("paths".into(), Value::Object(paths));
    let components = obj
        .get_mut("components")
        .and_then(Value::as_object_mut)
        .expect("components");
    components.insert("securitySchemes".into(), security_schemes());
    components.insert("responses".into(), shared_responses());
    refine::apply(&mut doc);
    doc
}

/// The document as YAML: what `openapi.yaml` holds, keys in reading order.
pub fn yaml() -> String {
    let text = serde_yaml::to_string(&ordered(&document()))
        .expect("the OpenAPI document serializes as YAML");
    quote_times(&text)
}

/// Quotes RFC 3339 times written as plain scalars: YAML 1.1 readers (PyYAML,
/// js-yaml in Swagger UI) would take them for timestamps, not strings.
fn quote_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let value_at = match line.rfind(": ") {
            Some(i) => Some(i + 2),
            None => line[indent..].starts_with("- ").then_some(indent + 2),
        };
        match value_at {
            Some(i) if domain::time::Timestamp::parse(&line[i..]).is_ok() => {
                out.push_str(&format!("{}'{}'", &line[..i], &line[i..]));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Keys a reader looks for first, in this order; any other key follows, by name.
const KEY_ORDER: &[&str] = &[
    "openapi",
    "info",
    "servers",
    "tags",
    "paths",
    "components",
    "title",
    "version",
    "license",
    "name",
    "in",
    "operationId",
    "summary",
    "description",
    "x-required-role",
    "security",
    "required",
    "parameters",
    "requestBody",
    "responses",
    "type",
    "format",
    "enum",
    "pattern",
    "example",
    "schema",
    "content",
    "headers",
    "links",
];

fn ordered(v: &Value) -> serde_yaml::Value {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            let rank = |k: &str| {
                KEY_ORDER
                    .iter()
                    .position(|o| *o == k)
                    .unwrap_or(KEY_ORDER.len())
            };
            keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
            let mut out = serde_yaml::Mapping::new();
            for k in keys {
                out.insert(serde_yaml::Value::String(k.clone()), ordered(&map[k]));
            }
            serde_yaml::Value::Mapping(out)
        }
        Value::Array(items) => serde_yaml::Value::Sequence(items.iter().map(ordered).collect()),
        other => serde_yaml::to_value(other).expect("a JSON scalar is a YAML scalar"),
    }
}
