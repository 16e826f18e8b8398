//! Test harness: every test gets its own freshly created table in the
//! DynamoDB Local that `scripts/test` started, and drives the real handlers
//! with API Gateway HTTP API (v2) events.

use adapters::dynamo::schema::TableDef;
use adapters::{App, AuthMode, DynamoStore};
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use domain::config::Config;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};

pub mod answers;
pub mod events;
pub mod stack;
pub mod throttle;
pub mod wechat;

/// The functions under test.
#[derive(Debug, Clone, Copy)]
pub enum Func {
    Catalog,
    Place,
    Orders,
}

pub struct TestApp {
    pub app: App,
}

/// DynamoDB Local's endpoint (its tables' streams too).
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: these tests need DynamoDB Local. \
             Run them with scripts/test, which starts it."
        )
    })
}

/// A client of DynamoDB Local with the functions' own retry and timeout settings.
pub fn dynamo_client() -> aws_sdk_dynamodb::Client {
    let conf = adapters::dynamo::client_settings(aws_sdk_dynamodb::Config::builder())
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// A client whose writes go through a model of DynamoDB's per-partition
/// write limit ([`throttle::WriteLimit`]).
pub fn dynamo_client_limited(limit: &throttle::WriteLimit) -> aws_sdk_dynamodb::Client {
    let conf = dynamo_client()
        .config()
        .to_builder()
        .http_client(limit.http_client())
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// The request as Lambda hands it over with `ms` left before its deadline:
/// the handler's retries must answer within it.
pub fn with_deadline(mut req: Request, ms: u64) -> Request {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut ctx = lambda_http::Context::default();
    ctx.deadline = now_ms + ms;
    req.extensions_mut().insert(ctx);
    req
}

static TABLES: AtomicU64 = AtomicU64::new(0);

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Config::default()).await
    }

    /// A new table named after the process and a counter, created from template.yaml.
    pub async fn spawn_with(config: Config) -> Self {
        Self::spawn_on(dynamo_client(), config).await
    }

    /// [`TestApp::spawn_with`], the handlers using `client` (e.g. one of
    /// [`dynamo_client_limited`]).
    pub async fn spawn_on(client: aws_sdk_dynamodb::Client, config: Config) -> Self {
        Self::create(client, config, false).await
    }

    /// A new table; with the template's stream only when `stream` (the
    /// order-event tests read it; elsewhere it would only slow DynamoDB
    /// Local's writes: [`TableDef::without_stream`]).
    pub async fn create(client: aws_sdk_dynamodb::Client, config: Config, stream: bool) -> Self {
        let table = format!(
            "t{}-{}-{}",
            std::process::id(),
            TABLES.fetch_add(1, Ordering::Relaxed),
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let def = TableDef::from_template().expect("template.yaml table");
        let def = if stream { def } else { def.without_stream() };
        def.create(&client, &table).await.unwrap_or_else(|e| {
            panic!(
                "cannot create a table in DynamoDB Local at {}: {e}",
                endpoint()
            )
        });
        Self {
            app: App::new(
                DynamoStore::new(client, table),
                config,
                AuthMode::DevHeaders,
            ),
        }
    }

    /// Same table and config, but identities from JWT claims (as deployed).
    pub fn with_jwt_auth(&self) -> App {
        App::new(
            self.app.store.clone(),
            self.app.config.clone(),
            AuthMode::Jwt,
        )
    }

    pub async fn call(&self, func: Func, req: Request) -> (u16, Value) {
        call_app(&self.app, func, req).await
    }

    /// Like [`TestApp::call`], with the answer's headers too.
    pub async fn call_with_headers(
        &self,
        func: Func,
        req: Request,
    ) -> (u16, Value, lambda_http::http::HeaderMap) {
        let resp = handle(&self.app, func, req).await;
        let headers = resp.headers().clone();
        let (status, value) = decode(resp);
        (status, value, headers)
    }

    /// `PUT /skus/{sku}` as staff; panics unless it succeeds.
    pub async fn put_sku(&self, sku: &str, body: Value) -> Value {
        let req = put_sku_event(sku, &body).build();
        let (status, value) = self.call(Func::Catalog, req).await;
        assert_eq!(status, 200, "put_sku {sku}: {value}");
        value
    }

    /// A SKU with the given stock; `source` defaults to our warehouse WH-1.
    pub async fn sku(
        &self,
        sku: &str,
        price: u64,
        policy: &str,
        available: u64,
        limit: Option<u32>,
    ) -> Value {
        self.put_sku(
            sku,
            json!({
                "name": format!("{sku} item"),
                "price_cents": price,
                "source": {"kind": "self", "warehouse": "WH-1"},
                "stock_policy": policy,
                "listed": true,
                "per_user_limit": limit,
                "available": available,
            }),
        )
        .await
    }

    pub async fn place(&self, user: &str, lines: Value, key: Option<&str>) -> (u16, Value) {
        let mut e = Event::new("POST", "/orders", "/orders")
            .user(user)
            .json(&place_body(lines));
        if let Some(k) = key {
            e = e.header("idempotency-key", k);
        }
        self.call(Func::Place, e.build()).await
    }

    pub async fn get_sku(&self, sku: &str) -> Value {
        let req = Event::new("GET", "/skus/{sku}", &format!("/skus/{sku}"))
            .path_param("sku", sku)
            .build();
        let (status, value) = self.call(Func::Catalog, req).await;
        assert_eq!(status, 200, "get_sku {sku}: {value}");
        value
    }

    pub async fn available(&self, sku: &str) -> i64 {
        self.get_sku(sku).await["available"]
            .as_i64()
            .expect("available")
    }

    pub async fn get_order(&self, user: &str, id: &str) -> (u16, Value) {
        let req = Event::new("GET", "/orders/{id}", &format!("/orders/{id}"))
            .path_param("id", id)
            .user(user)
            .build();
        self.call(Func::Orders, req).await
    }

    /// Counts the items of each kind in the whole table.
    /// Every stored order, read back through the store.
    pub async fn all_orders(&self) -> Vec<domain::order::Order> {
        use domain::ports::Orders;
        let mut orders = Vec::new();
        for item in self.scan_entity("order").await {
            let Some(pk) = item.get("pk").and_then(|v| v.as_s().ok()) else {
                continue;
            };
            let id =
                domain::ids::OrderId::parse(pk.trim_start_matches("ORDER#")).expect("an order id");
            orders.push(
                self.app
                    .store
                    .get_order(&id)
                    .await
                    .expect("read")
                    .expect("stored"),
            );
        }
        orders
    }

    /// Every item of one kind (`entity`), scanned.
    async fn scan_entity(
        &self,
        entity: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let client = self.app.store.client();
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = client
                .scan()
                .table_name(self.app.store.table())
                .filter_expression("entity = :e")
                .expression_attribute_values(
                    ":e",
                    aws_sdk_dynamodb::types::AttributeValue::S(entity.into()),
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(out.items().iter().cloned());
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    pub async fn count_entities(&self, entity: &str) -> usize {
        self.scan_entity(entity).await.len()
    }
}

pub async fn call_app(app: &App, func: Func, req: Request) -> (u16, Value) {
    decode(handle(app, func, req).await)
}

async fn handle(app: &App, func: Func, req: Request) -> Response<Body> {
    match func {
        Func::Catalog => catalog::handle(app, req).await,
        Func::Place => place::handle(app, req).await,
        Func::Orders => orders::handle(app, req).await,
    }
}

/// Status and JSON body of an answer; asserts the JSON and error shapes.
pub fn decode(resp: Response<Body>) -> (u16, Value) {
    let status = resp.status().as_u16();
    // 204 (WeChat Pay's "received"): no body at all.
    if status == 204 {
        assert!(resp.body().is_empty(), "a 204 has no body");
        return (status, Value::Null);
    }
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        ct, "application/json",
        "every answer is JSON (status {status})"
    );
    let body: &[u8] = resp.body().as_ref();
    let value: Value = serde_json::from_slice(body).expect("response body is JSON");
    if status >= 400 {
        assert!(value["error"]["code"].is_string(), "error shape: {value}");
        assert!(
            value["error"]["message"].is_string(),
            "error shape: {value}"
        );
    }
    (status, value)
}

/// `PUT /skus/{sku}` by staff with `body`.
pub fn put_sku_event(sku: &str, body: &Value) -> Event {
    Event::new("PUT", "/skus/{sku}", &format!("/skus/{sku}"))
        .path_param("sku", sku)
        .user("staff-1")
        .staff()
        .json(body)
}

pub fn address() -> Value {
    json!({"name": "Li Lei", "phone": "13800000000", "line1": "1 Demo Road", "city": "Shanghai", "postcode": "200000"})
}

pub fn place_body(lines: Value) -> Value {
    json!({ "lines": lines, "address": address() })
}

/// Builds an API Gateway HTTP API (payload 2.0) event, as API Gateway sends it.
pub struct Event {
    method: String,
    route: String,
    path: String,
    headers: serde_json::Map<String, Value>,
    path_params: serde_json::Map<String, Value>,
    query: Vec<(String, String)>,
    body: Option<String>,
    claims: Option<Value>,
}

impl Event {
    pub fn new(method: &str, route: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            route: route.to_owned(),
            path: path.to_owned(),
            headers: serde_json::Map::new(),
            path_params: serde_json::Map::new(),
            query: Vec::new(),
            body: None,
            claims: None,
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.to_lowercase(), json!(value));
        self
    }
    /// Local identity (AUTH_MODE=dev-headers).
    pub fn user(self, user: &str) -> Self {
        self.header("x-user-id", user)
    }
    pub fn staff(self) -> Self {
        self.header("x-user-role", "staff")
    }
    /// Deployed identity: JWT authorizer claims.
    pub fn claims(mut self, claims: Value) -> Self {
        self.claims = Some(claims);
        self
    }
    pub fn path_param(mut self, name: &str, value: &str) -> Self {
        self.path_params.insert(name.to_owned(), json!(value));
        self
    }
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }
    pub fn raw_body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self.header("content-type", "application/json")
    }
    pub fn json(self, body: &Value) -> Self {
        let text = body.to_string();
        self.raw_body(&text)
    }
    pub fn build(self) -> Request {
        lambda_http::request::from_str(&self.event_json().to_string())
            .expect("a valid API Gateway v2 event")
    }
}

impl Event {
    /// The API Gateway v2 event as JSON, exactly as [`Event::build`] sends it.
    pub fn event_json(&self) -> Value {
        let raw_query = self
            .query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let query: serde_json::Map<String, Value> = self
            .query
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let mut ctx = json!({
            "accountId": "123456789012",
            "apiId": "test",
            "domainName": "test.execute-api.local",
            "domainPrefix": "test",
            "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "tests"},
            "requestId": ulid::Ulid::new().to_string(),
            "routeKey": format!("{} {}", self.method, self.route),
            "stage": "$default",
            "time": "25/Nov/2026:03:12:00 +0000",
            "timeEpoch": 1_795_576_320_000_i64,
        });
        if let Some(claims) = &self.claims {
            ctx["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
        }
        let mut event = json!({
            "version": "2.0",
            "routeKey": format!("{} {}", self.method, self.route),
            "rawPath": self.path,
            "rawQueryString": raw_query,
            "headers": self.headers,
            "requestContext": ctx,
            "isBase64Encoded": false,
        });
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if !self.path_params.is_empty() {
            event["pathParameters"] = Value::Object(self.path_params.clone());
        }
        if let Some(body) = &self.body {
            event["body"] = json!(body);
        }
        event
    }

    /// The event with `isBase64Encoded: true` and `bytes` (any bytes, not
    /// only UTF-8) as its base64 body, as API Gateway sends binary bodies.
    pub fn base64_json(&self, bytes: &[u8]) -> Value {
        use base64::Engine as _;
        let mut event = self.event_json();
        event["isBase64Encoded"] = json!(true);
        event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
        event
    }

    /// [`Event::build`] with a base64 body.
    pub fn build_base64(self, bytes: &[u8]) -> Request {
        request_from_json(&self.base64_json(bytes)).expect("a valid API Gateway v2 event")
    }
}

/// A Lambda HTTP request from an API Gateway v2 event; `Err` for an event
/// API Gateway could never send (e.g. a header value with control bytes).
pub fn request_from_json(event: &Value) -> Result<Request, String> {
    let text = event.to_string();
    // lambda_http panics on some events it cannot turn into a request (an
    // over-long URI): API Gateway would not have sent those either.
    std::panic::catch_unwind(|| lambda_http::request::from_str(&text))
        .map_err(|_| "lambda_http cannot build a request from it".to_owned())?
        .map_err(|e| e.to_string())
}

/// Now as RFC 3339, by the stack's clock (`CLOCK_OFFSET_SECS` moves both):
/// the time of every payment and supplier event a test sends.
pub fn now() -> String {
    domain::time::Timestamp::now().to_rfc3339()
}

/// One plain HTTP/1 request (the emulator's presigned S3 URLs): the status
/// and the body.
pub async fn http_send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    use http_body_util::{BodyExt, Full};
    let client: hyper_util::client::legacy::Client<_, Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let mut req = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if body.is_empty() && method != "GET" {
        // hyper sends no length for an empty body; S3 wants one on a PUT.
        req = req.header("content-length", "0");
    }
    let resp = client
        .request(
            req.body(Full::new(bytes::Bytes::from(body)))
                .expect("a request"),
        )
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes()
        .to_vec();
    (status, bytes)
}
