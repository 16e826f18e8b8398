//! The three supplier channels played over HTTP on 127.0.0.1: our own
//! warehouses and the dropship suppliers (HTTP JSON), and JD Kepler through a
//! JOS `routerjson` gateway that verifies the signature.
//!
//! Point the `suppliers` clients at it with
//! `WAREHOUSE_API_URL = DROPSHIP_API_URL = base_url()` and
//! `JD_API_URL = base_url()/jd/routerjson` (`sim.jd_url()`).
//!
//! Supplier routes (exactly those the clients call):
//! - `POST /warehouses/{warehouse}/packages`, `POST /warehouses/{warehouse}/packages/{package}/intercept`
//! - `POST /suppliers/{supplier}/orders`, `POST /suppliers/{supplier}/orders/{package}/intercept`
//! - `POST /jd/routerjson` (methods `jingdong.kepler.order.submit` / `jingdong.kepler.order.cancel` by default)
//!
//! Control routes: `GET /_sim/received`, `GET /_sim/mode`,
//! `POST /_sim/mode` `{"fail_next": n?, "fail_always": bool?, "intercept": "accept"|"refuse"|"pending"?}`,
//! `POST /_sim/reset`.
//!
//! Behaviour: a forward answers a reference (`WH-<package>`, `DS-<package>`, or a
//! numeric JD order id); forwarding the same package again answers the same
//! reference and is recorded again. An intercept of a package this simulator
//! never accepted is refused (404, or JD `success: false`). In fail mode every
//! supplier route answers 503 (recorded too). Bad JD requests (missing
//! parameter, wrong `v`/`format`, bad `sign`, timestamp not `yyyy-MM-dd HH:mm:ss`
//! UTC+8 within 10 minutes, unknown method, bad payload) answer a JOS
//! `error_response`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub mod gateway;
pub use gateway::{GatewayMode, GatewayRefund, Notification, RefundMode};
pub mod wechatpay;
pub use wechatpay::{
    BillEdit, Forgery, MerchantCredentials, WechatMode, WechatNotification, WechatRefund,
    WechatRefundMode,
};

pub const DEFAULT_JD_APP_SECRET: &str = "dev-jd-secret";
pub const DEFAULT_JD_FORWARD_METHOD: &str = "jingdong.kepler.order.submit";
pub const DEFAULT_JD_INTERCEPT_METHOD: &str = "jingdong.kepler.order.cancel";
/// How far a JD `timestamp` may be from the simulator's clock.
pub const JD_MAX_SKEW_SECS: i64 = 600;
const MAX_BODY: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Forward,
    Intercept,
    /// A JD call whose method is missing or unknown.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Warehouse,
    Dropship,
    Jd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterceptMode {
    /// Answer `intercepted`.
    #[default]
    Accept,
    /// Answer `refused`.
    Refuse,
    /// Answer `pending`.
    Pending,
}

impl InterceptMode {
    fn outcome(self) -> &'static str {
        match self {
            InterceptMode::Accept => "intercepted",
            InterceptMode::Refuse => "refused",
            InterceptMode::Pending => "pending",
        }
    }
}

/// One request to a supplier route, as received and as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Received {
    pub kind: Kind,
    pub channel: Channel,
    /// Warehouse id, dropship supplier id, or `"jd"`.
    pub target: String,
    /// From the path (intercept), the JSON body (`package_id`) or JD's
    /// `thirdOrderId`; empty when the request did not say.
    pub package_id: String,
    /// The raw request body.
    pub body: String,
    /// JD: the decoded form parameters (including `sign`); empty otherwise.
    pub params: BTreeMap<String, String>,
    /// JD: `360buy_param_json` parsed; warehouse/dropship: the JSON body; `null` if not JSON.
    pub payload: Value,
    pub content_type: Option<String>,
    /// The `X-Amzn-Trace-Id` the caller sent (a traced invocation's).
    pub trace_header: Option<String>,
    pub idempotency_key: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The supplier accepted the request (2xx and, for JD, no error).
    pub accepted: bool,
    /// Why it was not accepted.
    pub error: Option<String>,
    /// The reference answered to an accepted forward.
    pub reference: Option<String>,
    /// The outcome answered to an accepted intercept.
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Mode {
    pub fail_next: u32,
    pub fail_always: bool,
    pub intercept: InterceptMode,
}

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    pub jd_app_secret: String,
    pub jd_forward_method: String,
    pub jd_intercept_method: String,
    /// Print one line per supplier request on stderr.
    pub log_requests: bool,
    /// The `default` storefront's payment gateway secret (others:
    /// `dev-payment-secret-<id>`).
    pub payment_secret: String,
    /// Where refund notifications are posted (the API's base URL); None:
    /// kept for [`Simulator::take_refund_notifications`].
    pub notify_url: Option<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            port: 0,
            jd_app_secret: DEFAULT_JD_APP_SECRET.to_owned(),
            jd_forward_method: DEFAULT_JD_FORWARD_METHOD.to_owned(),
            jd_intercept_method: DEFAULT_JD_INTERCEPT_METHOD.to_owned(),
            log_requests: false,
            payment_secret: "dev-payment-secret".to_owned(),
            notify_url: None,
        }
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    mode: Mode,
    /// (channel, target, package) -> reference issued.
    refs: HashMap<(Channel, String, String), String>,
    next_jd: u64,
    gateway: gateway::GatewayState,
    wechat: wechatpay::WechatState,
}

struct Inner {
    addr: SocketAddr,
    options: SimOptions,
    state: Mutex<State>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// WeChat Pay's keys and the merchant's, generated at start.
    wechat_keys: wechatpay::Keys,
    /// While true, every request waits before it is answered.
    hold: tokio::sync::watch::Sender<bool>,
}

/// A running simulator. Clones share the same server and state.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.inner.addr)
            .finish()
    }
}

impl Simulator {
    /// Serves on a free port of 127.0.0.1 from a task of the current tokio
    /// runtime. Panics if no port can be bound (a test helper).
    pub async fn start(jd_app_secret: &str) -> Simulator {
        Self::start_with(SimOptions {
            jd_app_secret: jd_app_secret.to_owned(),
            ..SimOptions::default()
        })
        .await
        .expect("supplier-sim: cannot bind 127.0.0.1:0")
    }

    pub async fn start_with(options: SimOptions) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, options.port)).await?;
        let addr = listener.local_addr()?;
        let sim = Simulator {
            inner: Arc::new(Inner {
                addr,
                options,
                state: Mutex::new(State::default()),
                task: Mutex::new(None),
                wechat_keys: wechatpay::Keys::generate(),
                hold: tokio::sync::watch::Sender::new(false),
            }),
        };
        // The accept loop holds only a weak handle, so dropping every
        // Simulator stops accepting.
        let weak = Arc::downgrade(&sim.inner);
        let task = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // e.g. out of file descriptors: back off, keep serving.
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let Some(inner) = weak.upgrade() else { break };
                let sim = Simulator { inner };
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let sim = sim.clone();
                        async move { Ok::<_, Infallible>(sim.handle(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        *lock(&sim.inner.task) = Some(task);
        Ok(sim)
    }

    /// Stops accepting connections.
    pub fn shutdown(&self) {
        if let Some(task) = lock(&self.inner.task).take() {
            task.abort();
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://127.0.0.1:<port>`: `WAREHOUSE_API_URL` and `DROPSHIP_API_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// `JD_API_URL`.
    pub fn jd_url(&self) -> String {
        format!("{}/jd/routerjson", self.base_url())
    }

    pub fn jd_app_secret(&self) -> &str {
        &self.inner.options.jd_app_secret
    }

    /// Every supplier request so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.state().received.clone()
    }

    /// Accepted forwards of this package, repeats included.
    pub fn forwards_for(&self, package_id: &str) -> usize {
        self.count(Kind::Forward, package_id)
    }

    /// Accepted intercepts of this package.
    pub fn intercepts_for(&self, package_id: &str) -> usize {
        self.count(Kind::Intercept, package_id)
    }

    fn count(&self, kind: Kind, package_id: &str) -> usize {
        self.state()
            .received
            .iter()
            .filter(|r| r.kind == kind && r.accepted && r.package_id == package_id)
            .count()
    }

    /// The next `n` supplier requests answer 503.
    pub fn fail_next(&self, n: u32) {
        self.state().mode.fail_next = n;
    }

    /// Every supplier request answers 503 while on.
    pub fn fail_always(&self, on: bool) {
        self.state().mode.fail_always = on;
    }

    pub fn set_intercept(&self, mode: InterceptMode) {
        self.state().mode.intercept = mode;
    }

    /// Holds every request unanswered until `hold(false)` (to land a change
    /// while a supplier call is in flight).
    pub fn hold(&self, on: bool) {
        self.inner.hold.send_replace(on);
    }

    pub fn mode(&self) -> Mode {
        self.state().mode
    }

    /// The payment gateway's refunds, by refund id.
    pub fn gateway_refunds(&self) -> BTreeMap<String, GatewayRefund> {
        self.state().gateway.refunds.clone()
    }

    pub fn set_refund_mode(&self, mode: RefundMode) {
        self.state().gateway.mode.refund = mode;
    }

    /// The next `n` gateway calls answer 503 and make nothing.
    pub fn gateway_unavailable_next(&self, n: u32) {
        self.state().gateway.mode.unavailable_next = n;
    }

    /// How long the `time_out` mode holds its answer.
    pub fn gateway_time_out_ms(&self, ms: u64) {
        self.state().gateway.mode.time_out_ms = ms;
    }

    /// Refund notifications not delivered yet (no `notify_url`), oldest first.
    pub fn take_refund_notifications(&self) -> Vec<Notification> {
        std::mem::take(&mut self.state().gateway.pending)
    }

    /// `{base}/gateway`: `PAYMENT_GATEWAY_URL`.
    pub fn gateway_url(&self) -> String {
        format!("{}/gateway", self.base_url())
    }

    async fn gateway_route(
        &self,
        create: bool,
        refund_id: Option<&str>,
        call: &SupplierCall,
        storefront: Option<String>,
        signature: Option<String>,
    ) -> Response<Full<Bytes>> {
        let secret = &self.inner.options.payment_secret;
        let signed: &[u8] = match refund_id {
            Some(id) => id.as_bytes(),
            None => &call.body,
        };
        let answer = match gateway::GatewayState::verify(
            secret,
            storefront.as_deref(),
            signed,
            signature.as_deref(),
        ) {
            Err(a) => a,
            Ok(sf) if create => match serde_json::from_slice::<gateway::CreateIn>(&call.body) {
                Ok(input) => self.state().gateway.create(secret, &sf, input),
                Err(e) => gateway::Answer::Error(400, format!("bad refund body: {e}")),
            },
            Ok(_) => self.state().gateway.query(refund_id.unwrap_or_default()),
        };
        if self.inner.options.log_requests {
            eprintln!(
                "supplier-sim: gateway {} {}",
                if create { "refund" } else { "query" },
                refund_id.unwrap_or("(body)")
            );
        }
        self.deliver_notifications();
        let shape = |r: &GatewayRefund| json!({"refund_id": r.refund_id, "status": r.status, "gateway_refund_id": r.gateway_refund_id});
        match answer {
            gateway::Answer::Ok(r) => json_response(StatusCode::OK, &shape(&r)),
            gateway::Answer::Error(code, msg) => json_response(
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                &json!({"error": msg}),
            ),
            gateway::Answer::Late(r, ms) => {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                json_response(StatusCode::OK, &shape(&r))
            }
        }
    }

    /// Posts pending notifications to `notify_url`, a little later (as a
    /// provider does), each once; failures are logged and dropped.
    fn deliver_notifications(&self) {
        let Some(base) = self.inner.options.notify_url.clone() else {
            return;
        };
        let pending = self.take_refund_notifications();
        if pending.is_empty() {
            return;
        }
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            for n in pending {
                match post_json(&base, &n.path, &n.body, &n.signature).await {
                    Ok(status) => eprintln!("supplier-sim: notified {} -> {status}", n.path),
                    Err(e) => eprintln!("supplier-sim: notifying {} failed: {e}", n.path),
                }
            }
        });
    }

    /// `{base}/wechatpay`: `WECHATPAY_API_URL`.
    pub fn wechat_url(&self) -> String {
        format!("{}/wechatpay", self.base_url())
    }

    /// The merchant credentials the functions use (`WECHATPAY_*`).
    pub fn wechat_credentials(&self) -> MerchantCredentials {
        self.inner.wechat_keys.credentials.clone()
    }

    /// Spoils the WeChat notifications made from now on (or stops: `None`).
    pub fn forge_wechat(&self, forgery: wechatpay::Forgery) {
        self.inner.wechat_keys.set_forgery(forgery);
    }

    pub fn set_wechat_refund_mode(&self, mode: WechatRefundMode) {
        self.state().wechat.mode.refund = mode;
    }

    /// The next `n` WeChat Pay calls are refused (400 INVALID_REQUEST).
    pub fn wechat_refuse_next(&self, n: u32) {
        self.state().wechat.mode.refuse_next = n;
    }

    /// While on, WeChat Pay's answers carry a signature that does not verify.
    pub fn forge_wechat_answers(&self, on: bool) {
        self.inner
            .wechat_keys
            .forge_answers
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// The next `n` WeChat Pay calls answer 500 SYSTEM_ERROR.
    pub fn wechat_unavailable_next(&self, n: u32) {
        self.state().wechat.mode.unavailable_next = n;
    }

    pub fn wechat_time_out_ms(&self, ms: u64) {
        self.state().wechat.mode.time_out_ms = ms;
    }

    /// WeChat Pay refunds by `out_refund_no`.
    pub fn wechat_refunds(&self) -> BTreeMap<String, WechatRefund> {
        self.state().wechat.refunds.clone()
    }

    /// Prepays by `out_trade_no`.
    pub fn wechat_prepays(&self) -> BTreeMap<String, wechatpay::Prepay> {
        self.state().wechat.prepays.clone()
    }

    /// The buyer pays the prepay of `out_trade_no` (`amount_cents`: what
    /// they paid, the prepay's amount by default).
    pub fn wechat_pay(
        &self,
        out_trade_no: &str,
        amount_cents: Option<u64>,
    ) -> Result<wechatpay::Transaction, String> {
        let t = {
            let mut st = self.state();
            st.wechat
                .pay(&self.inner.wechat_keys, out_trade_no, amount_cents)?
        };
        self.deliver_wechat();
        Ok(t)
    }

    /// Injects a difference into the bills it serves.
    pub fn edit_wechat_bill(&self, edit: BillEdit) {
        self.state().wechat.edits.push(edit);
    }

    /// WeChat Pay notifications not delivered yet (no `notify_url` option).
    pub fn take_wechat_notifications(&self) -> Vec<WechatNotification> {
        std::mem::take(&mut self.state().wechat.pending)
    }

    /// Posts pending WeChat notifications to their `notify_url` when the
    /// simulator delivers notifications (its `notify_url` option is set).
    fn deliver_wechat(&self) {
        if self.inner.options.notify_url.is_none() {
            return;
        }
        let pending = self.take_wechat_notifications();
        if pending.is_empty() {
            return;
        }
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            for n in pending {
                let Some((base, path)) = split_url(&n.url) else {
                    eprintln!("supplier-sim: cannot notify {}", n.url);
                    continue;
                };
                match post_raw(&base, &path, &n.headers, &n.body).await {
                    Ok(status) => eprintln!("supplier-sim: notified {path} -> {status}"),
                    Err(e) => eprintln!("supplier-sim: notifying {path} failed: {e}"),
                }
            }
        });
    }

    /// One WeChat Pay API v3 request, verified like WeChat does.
    async fn wechat_route(
        &self,
        method: &Method,
        path_and_query: &str,
        segs: &[&str],
        query: &str,
        authorization: Option<String>,
        body: &[u8],
    ) -> Response<Full<Bytes>> {
        let keys = &self.inner.wechat_keys;
        if self.inner.options.log_requests {
            eprintln!("supplier-sim: wechatpay {method} {path_and_query}");
        }
        if let Err(e) = keys.verify_request(
            method.as_str(),
            path_and_query,
            body,
            authorization.as_deref(),
        ) {
            return self.wechat_reply(wechatpay::Reply {
                status: 401,
                body: json!({"code": "SIGN_ERROR", "message": e}),
                delay_ms: 0,
            });
        }
        let json_body = || serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
        let param = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let post = *method == Method::POST;
        let reply = {
            let mut st = self.state();
            let w = &mut st.wechat;
            match segs {
                ["pay", "transactions", "jsapi"] if post => w.prepay(&json_body()),
                ["refund", "domestic", "refunds"] if post => w.create_refund(keys, &json_body()),
                ["refund", "domestic", "refunds", no] if !post => w.query_refund(no),
                ["refund", "domestic", "refunds", id, "apply-abnormal-refund"] if post => {
                    w.apply_abnormal(keys, id, &json_body())
                }
                ["bill", "tradebill"] if !post => {
                    w.trade_bill(&self.base_url(), &param("bill_date"))
                }
                ["billdownload", "file"] if !post => {
                    return match w.bills.get(&param("token")) {
                        Some(file) => {
                            let mut resp = Response::new(Full::new(Bytes::from(file.clone())));
                            resp.headers_mut().insert(
                                CONTENT_TYPE,
                                hyper::header::HeaderValue::from_static("text/csv"),
                            );
                            resp
                        }
                        None => json_response(
                            StatusCode::NOT_FOUND,
                            &json!({"code": "RESOURCE_NOT_EXISTS", "message": "no such bill"}),
                        ),
                    };
                }
                _ => wechatpay::Reply {
                    status: 404,
                    body: json!({"code": "RESOURCE_NOT_EXISTS", "message": "no such route"}),
                    delay_ms: 0,
                },
            }
        };
        self.deliver_wechat();
        if reply.delay_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(reply.delay_ms)).await;
        }
        self.wechat_reply(reply)
    }

    /// A JSON answer signed with the platform key.
    fn wechat_reply(&self, reply: wechatpay::Reply) -> Response<Full<Bytes>> {
        let body = reply.body.to_string();
        let mut resp = json_response(
            StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &reply.body,
        );
        *resp.body_mut() = Full::new(Bytes::from(body.clone()));
        let forge = self
            .inner
            .wechat_keys
            .forge_answers
            .load(std::sync::atomic::Ordering::SeqCst);
        for (k, v) in self.inner.wechat_keys.signed_headers(&body, forge) {
            if let (Ok(k), Ok(v)) = (
                hyper::header::HeaderName::from_bytes(k.as_bytes()),
                hyper::header::HeaderValue::from_str(&v),
            ) {
                resp.headers_mut().insert(k, v);
            }
        }
        resp
    }

    /// Forgets requests and issued references; back to the default mode.
    pub fn reset(&self) {
        *self.state() = State::default();
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let _ = self.inner.hold.subscribe().wait_for(|held| !*held).await;
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return json_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &json!({"error": "body unreadable or over 1 MiB"}),
                )
            }
        };
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let incoming = SupplierCall {
            body,
            content_type: header(CONTENT_TYPE.as_str()),
            trace_header: header("x-amzn-trace-id"),
            idempotency_key: header("idempotency-key"),
        };
        let path = parts.uri.path().trim_matches('/').to_owned();
        let segs: Vec<&str> = path.split('/').collect();
        let post = parts.method == Method::POST;
        let get = parts.method == Method::GET;
        match segs.as_slice() {
            ["_sim", "received"] if get => json_response(StatusCode::OK, &self.received()),
            ["_sim", "mode"] if get => json_response(StatusCode::OK, &self.mode()),
            ["_sim", "mode"] if post => self.post_mode(&incoming.body),
            ["_sim", "reset"] if post => {
                self.reset();
                json_response(StatusCode::OK, &json!({"reset": true}))
            }
            ["warehouses", w, "packages"] if post => {
                self.rest_forward(Channel::Warehouse, w, incoming)
            }
            ["warehouses", w, "packages", p, "intercept"] if post => {
                self.rest_intercept(Channel::Warehouse, w, p, incoming)
            }
            ["suppliers", s, "orders"] if post => self.rest_forward(Channel::Dropship, s, incoming),
            ["suppliers", s, "orders", p, "intercept"] if post => {
                self.rest_intercept(Channel::Dropship, s, p, incoming)
            }
            ["jd", "routerjson"] if post => self.jd(incoming),
            ["gateway", "refunds"] if post => {
                self.gateway_route(
                    true,
                    None,
                    &incoming,
                    header("x-storefront"),
                    header("x-signature"),
                )
                .await
            }
            ["gateway", "refunds", id] if get => {
                self.gateway_route(
                    false,
                    Some(id),
                    &incoming,
                    header("x-storefront"),
                    header("x-signature"),
                )
                .await
            }
            ["wechatpay", "v3", rest @ ..] => {
                let pq = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default();
                let query = parts.uri.query().unwrap_or("").to_owned();
                if header("user-agent").is_none_or(|u| u.trim().is_empty()) {
                    // As WeChat Pay: "Http头缺少Accept或User-Agent".
                    return self.wechat_reply(wechatpay::Reply {
                        status: 400,
                        body: json!({"code": "INVALID_REQUEST", "message": "Http头缺少Accept或User-Agent"}),
                        delay_ms: 0,
                    });
                }
                self.wechat_route(
                    &parts.method,
                    &pq,
                    rest,
                    &query,
                    header("authorization"),
                    &incoming.body,
                )
                .await
            }
            ["_sim", "wechatpay", "credentials"] if get => {
                json_response(StatusCode::OK, &self.wechat_credentials())
            }
            ["_sim", "wechatpay"] if get => {
                let st = self.state();
                json_response(
                    StatusCode::OK,
                    &json!({"mode": st.wechat.mode, "prepays": st.wechat.prepays,
                        "transactions": st.wechat.transactions, "refunds": st.wechat.refunds,
                        "bill_edits": st.wechat.edits}),
                )
            }
            ["_sim", "wechatpay"] if post => {
                match serde_json::from_slice::<WechatMode>(&incoming.body) {
                    Ok(m) => {
                        self.state().wechat.mode = m;
                        json_response(StatusCode::OK, &m)
                    }
                    Err(e) => json_response(
                        StatusCode::BAD_REQUEST,
                        &json!({"error": format!("expected {{\"refund\", \"unavailable_next\", \"time_out_ms\"}}: {e}")}),
                    ),
                }
            }
            ["_sim", "wechatpay", "pay"] if post => {
                #[derive(Deserialize)]
                struct PayIn {
                    out_trade_no: String,
                    #[serde(default)]
                    amount_cents: Option<u64>,
                }
                match serde_json::from_slice::<PayIn>(&incoming.body) {
                    Ok(p) => match self.wechat_pay(&p.out_trade_no, p.amount_cents) {
                        Ok(t) => json_response(StatusCode::OK, &t),
                        Err(e) => json_response(StatusCode::NOT_FOUND, &json!({"error": e})),
                    },
                    Err(e) => json_response(
                        StatusCode::BAD_REQUEST,
                        &json!({"error": format!("expected {{\"out_trade_no\", \"amount_cents\"?}}: {e}")}),
                    ),
                }
            }
            ["_sim", "wechatpay", "bill"] if post => {
                match serde_json::from_slice::<BillEdit>(&incoming.body) {
                    Ok(edit) => {
                        self.edit_wechat_bill(edit.clone());
                        json_response(StatusCode::OK, &edit)
                    }
                    Err(e) => json_response(
                        StatusCode::BAD_REQUEST,
                        &json!({"error": format!("a bill edit (kind extra_payment, drop_payment or change_refund): {e}")}),
                    ),
                }
            }
            ["_sim", "gateway"] if get => {
                let st = self.state();
                json_response(
                    StatusCode::OK,
                    &json!({"mode": st.gateway.mode, "refunds": st.gateway.refunds}),
                )
            }
            ["_sim", "gateway"] if post => {
                match serde_json::from_slice::<GatewayMode>(&incoming.body) {
                    Ok(m) => {
                        self.state().gateway.mode = m;
                        json_response(StatusCode::OK, &m)
                    }
                    Err(e) => json_response(
                        StatusCode::BAD_REQUEST,
                        &json!({"error": format!("expected {{\"refund\", \"unavailable_next\", \"time_out_ms\"}}: {e}")}),
                    ),
                }
            }
            ["_sim", "received"]
            | ["_sim", "mode"]
            | ["_sim", "reset"]
            | ["warehouses", _, "packages"]
            | ["warehouses", _, "packages", _, "intercept"]
            | ["suppliers", _, "orders"]
            | ["suppliers", _, "orders", _, "intercept"]
            | ["jd", "routerjson"]
            | ["gateway", "refunds"]
            | ["gateway", "refunds", _]
            | ["_sim", "gateway"]
            | ["_sim", "wechatpay", ..] => json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &json!({"error": "method not allowed"}),
            ),
            _ => json_response(StatusCode::NOT_FOUND, &json!({"error": "no such route"})),
        }
    }

    fn post_mode(&self, body: &[u8]) -> Response<Full<Bytes>> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ModeIn {
            fail_next: Option<u32>,
            fail_always: Option<bool>,
            intercept: Option<InterceptMode>,
        }
        let input: ModeIn = if body.iter().all(u8::is_ascii_whitespace) {
            ModeIn {
                fail_next: None,
                fail_always: None,
                intercept: None,
            }
        } else {
            match serde_json::from_slice(body) {
                Ok(m) => m,
                Err(e) => {
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        &json!({"error": format!("expected {{\"fail_next\": n?, \"fail_always\": bool?, \"intercept\": \"accept\"|\"refuse\"|\"pending\"?}}: {e}")}),
                    )
                }
            }
        };
        let mut st = self.state();
        if let Some(n) = input.fail_next {
            st.mode.fail_next = n;
        }
        if let Some(on) = input.fail_always {
            st.mode.fail_always = on;
        }
        if let Some(m) = input.intercept {
            st.mode.intercept = m;
        }
        let mode = st.mode;
        drop(st);
        json_response(StatusCode::OK, &mode)
    }

    /// Consumes one failure if fail mode is on.
    fn should_fail(st: &mut State) -> bool {
        if st.mode.fail_always {
            return true;
        }
        if st.mode.fail_next > 0 {
            st.mode.fail_next -= 1;
            return true;
        }
        false
    }

    fn record(&self, st: &mut State, r: Received) {
        if self.inner.options.log_requests {
            eprintln!(
                "supplier-sim: {:?} {:?} {} package={} -> {} {}",
                r.channel,
                r.kind,
                r.target,
                r.package_id,
                r.status,
                r.reference
                    .as_deref()
                    .or(r.outcome.as_deref())
                    .or(r.error.as_deref())
                    .unwrap_or("")
            );
        }
        st.received.push(r);
    }

    fn rest_forward(
        &self,
        channel: Channel,
        target: &str,
        inc: SupplierCall,
    ) -> Response<Full<Bytes>> {
        let payload: Value = serde_json::from_slice(&inc.body).unwrap_or(Value::Null);
        let package_id = payload
            .get("package_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let mut rec = inc.record(Kind::Forward, channel, target, &package_id, payload);
        let mut st = self.state();
        if Self::should_fail(&mut st) {
            return self.fail(&mut st, rec);
        }
        if let Err(e) = check_json_content_type(&rec).and_then(|_| check_rest_forward(&rec)) {
            return self.rest_refuse(&mut st, rec, StatusCode::BAD_REQUEST, e);
        }
        let prefix = if channel == Channel::Warehouse {
            "WH"
        } else {
            "DS"
        };
        let key = (channel, target.to_owned(), package_id.clone());
        let (reference, status) = match st.refs.get(&key) {
            Some(r) => (r.clone(), StatusCode::OK),
            None => {
                let r = format!("{prefix}-{package_id}");
                st.refs.insert(key, r.clone());
                (r, StatusCode::CREATED)
            }
        };
        rec.status = status.as_u16();
        rec.accepted = true;
        rec.reference = Some(reference.clone());
        self.record(&mut st, rec);
        json_response(status, &json!({"reference": reference}))
    }

    fn rest_intercept(
        &self,
        channel: Channel,
        target: &str,
        package_id: &str,
        inc: SupplierCall,
    ) -> Response<Full<Bytes>> {
        let payload: Value = serde_json::from_slice(&inc.body).unwrap_or(Value::Null);
        let mut rec = inc.record(Kind::Intercept, channel, target, package_id, payload);
        let mut st = self.state();
        if Self::should_fail(&mut st) {
            return self.fail(&mut st, rec);
        }
        if let Err(e) = check_json_content_type(&rec) {
            return self.rest_refuse(&mut st, rec, StatusCode::BAD_REQUEST, e);
        }
        if let Some(p) = rec.payload.get("package_id") {
            if p.as_str() != Some(package_id) {
                let e = "package_id in the body differs from the path".to_owned();
                return self.rest_refuse(&mut st, rec, StatusCode::BAD_REQUEST, e);
            }
        }
        let key = (channel, target.to_owned(), package_id.to_owned());
        let Some(issued) = st.refs.get(&key).cloned() else {
            let e = format!("unknown package {package_id} at {target}");
            return self.rest_refuse(&mut st, rec, StatusCode::NOT_FOUND, e);
        };
        match rec.payload.get("reference") {
            None => {}
            Some(Value::String(r)) if *r == issued => {}
            Some(other) => {
                let e = format!("reference {other} is not {issued}");
                return self.rest_refuse(&mut st, rec, StatusCode::BAD_REQUEST, e);
            }
        }
        let outcome = st.mode.intercept.outcome();
        rec.status = 200;
        rec.accepted = true;
        rec.outcome = Some(outcome.to_owned());
        self.record(&mut st, rec);
        json_response(StatusCode::OK, &json!({"outcome": outcome}))
    }

    fn fail(&self, st: &mut State, mut rec: Received) -> Response<Full<Bytes>> {
        rec.status = 503;
        rec.error = Some("fail mode".to_owned());
        self.record(st, rec);
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "supplier-sim fail mode"}),
        )
    }

    fn rest_refuse(
        &self,
        st: &mut State,
        mut rec: Received,
        status: StatusCode,
        error: String,
    ) -> Response<Full<Bytes>> {
        rec.status = status.as_u16();
        rec.error = Some(error.clone());
        self.record(st, rec);
        json_response(status, &json!({"error": error}))
    }

    fn jd(&self, inc: SupplierCall) -> Response<Full<Bytes>> {
        let opts = &self.inner.options;
        let mut params = BTreeMap::new();
        let mut duplicate = None;
        for (k, v) in form_urlencoded::parse(&inc.body) {
            if params.insert(k.to_string(), v.to_string()).is_some() {
                duplicate = Some(k.to_string());
            }
        }
        let method = params.get("method").cloned().unwrap_or_default();
        let kind = if method == opts.jd_forward_method {
            Kind::Forward
        } else if method == opts.jd_intercept_method {
            Kind::Intercept
        } else {
            Kind::Unknown
        };
        let payload: Value = params
            .get("360buy_param_json")
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or(Value::Null);
        let package_id = payload
            .get("thirdOrderId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let mut rec = inc.record(Kind::Unknown, Channel::Jd, "jd", &package_id, payload);
        rec.kind = kind;
        rec.params = params;
        let mut st = self.state();
        if Self::should_fail(&mut st) {
            return self.fail(&mut st, rec);
        }
        rec.status = 200;
        let checked = self.jd_check(&rec, duplicate);
        if let Err((code, en, zh)) = checked {
            rec.error = Some(format!("{code}: {en}"));
            self.record(&mut st, rec);
            return json_response(
                StatusCode::OK,
                &json!({"error_response": {"code": code, "en_desc": en, "zh_desc": zh}}),
            );
        }
        let key = jd_response_key(&method);
        let result = match kind {
            Kind::Forward => {
                let k = (Channel::Jd, "jd".to_owned(), package_id.clone());
                let id = match st.refs.get(&k) {
                    Some(id) => id.clone(),
                    None => {
                        st.next_jd += 1;
                        let id = (9_000_000_000u64 + st.next_jd).to_string();
                        st.refs.insert(k, id.clone());
                        id
                    }
                };
                rec.accepted = true;
                rec.reference = Some(id.clone());
                json!({"success": true, "resultCode": "0000", "resultMessage": "ok",
                       "thirdOrderId": package_id, "jdOrderId": id.parse::<u64>().map(Value::from).unwrap_or(Value::String(id))})
            }
            _ => {
                let asked = match rec.payload.get("jdOrderId") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => String::new(),
                };
                let k = (Channel::Jd, "jd".to_owned(), package_id.clone());
                match st.refs.get(&k) {
                    Some(id) if *id == asked => {
                        let outcome = st.mode.intercept.outcome();
                        rec.accepted = true;
                        rec.outcome = Some(outcome.to_owned());
                        json!({"success": true, "resultCode": "0000", "resultMessage": "ok",
                               "jdOrderId": asked, "outcome": outcome})
                    }
                    _ => {
                        let msg = format!(
                            "order not found: thirdOrderId {package_id}, jdOrderId {asked}"
                        );
                        rec.error = Some(msg.clone());
                        json!({"success": false, "resultCode": "3102", "resultMessage": msg})
                    }
                }
            }
        };
        self.record(&mut st, rec);
        json_response(
            StatusCode::OK,
            &json!({ key: {"code": "0", "result": result} }),
        )
    }

    /// JOS gateway checks, then the business payload: (code, en_desc, zh_desc).
    fn jd_check(
        &self,
        rec: &Received,
        duplicate: Option<String>,
    ) -> Result<(), (&'static str, String, &'static str)> {
        let opts = &self.inner.options;
        let ct = rec.content_type.as_deref().unwrap_or("");
        if !ct
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
        {
            return Err((
                "40",
                format!("content type must be application/x-www-form-urlencoded, got {ct:?}"),
                "请求格式错误",
            ));
        }
        if let Some(d) = duplicate {
            return Err(("40", format!("parameter {d} given twice"), "参数重复"));
        }
        let p = &rec.params;
        for name in [
            "app_key",
            "method",
            "access_token",
            "timestamp",
            "v",
            "format",
            "360buy_param_json",
            "sign",
        ] {
            if p.get(name).is_none_or(|v| v.is_empty()) {
                return Err((
                    "41",
                    format!("missing required parameter: {name}"),
                    "缺少必选参数",
                ));
            }
        }
        if p["v"] != "2.0" {
            return Err(("42", format!("v must be 2.0, got {}", p["v"]), "版本错误"));
        }
        if p["format"] != "json" {
            return Err((
                "42",
                format!("format must be json, got {}", p["format"]),
                "格式错误",
            ));
        }
        let expected = jd_sign(&opts.jd_app_secret, p);
        if p["sign"] != expected {
            return Err(("19", "invalid signature".to_owned(), "签名无效"));
        }
        jd_check_timestamp(&p["timestamp"]).map_err(|e| ("43", e, "时间戳错误"))?;
        match rec.kind {
            Kind::Unknown => Err((
                "22",
                format!("unknown method {}", p["method"]),
                "方法不存在",
            )),
            Kind::Forward => check_jd_submit(&rec.payload).map_err(|e| ("60", e, "参数错误")),
            Kind::Intercept => check_jd_cancel(&rec.payload).map_err(|e| ("60", e, "参数错误")),
        }
    }
}

struct SupplierCall {
    body: Bytes,
    content_type: Option<String>,
    trace_header: Option<String>,
    idempotency_key: Option<String>,
}

impl SupplierCall {
    fn record(
        &self,
        kind: Kind,
        channel: Channel,
        target: &str,
        package_id: &str,
        payload: Value,
    ) -> Received {
        Received {
            kind,
            channel,
            target: target.to_owned(),
            package_id: package_id.to_owned(),
            body: String::from_utf8_lossy(&self.body).into_owned(),
            params: BTreeMap::new(),
            payload,
            content_type: self.content_type.clone(),
            trace_header: self.trace_header.clone(),
            idempotency_key: self.idempotency_key.clone(),
            status: 0,
            accepted: false,
            error: None,
            reference: None,
            outcome: None,
        }
    }
}

/// POSTs a JSON body with `X-Signature` to `base` + `path` over plain HTTP/1.1;
/// the answer's status code.
async fn post_json(base: &str, path: &str, body: &str, signature: &str) -> Result<u16, String> {
    post_raw(
        base,
        path,
        &[("X-Signature".into(), signature.into())],
        body,
    )
    .await
}

/// `http://host:port/path?query` as (`http://host:port`, `/path?query`).
fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let at = rest.find('/').unwrap_or(rest.len());
    let path = if at == rest.len() { "/" } else { &rest[at..] };
    Some((format!("http://{}", &rest[..at]), path.to_owned()))
}

/// POSTs a JSON `body` with `headers` to `base` + `path`; the answer's status.
async fn post_raw(
    base: &str,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> Result<u16, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base
        .strip_prefix("http://")
        .ok_or("notify_url must be http://")?
        .trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| e.to_string())?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect::<String>(),
        body.len()
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    tokio::time::timeout(std::time::Duration::from_secs(30), read)
        .await
        .map_err(|_| "no answer in 30 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {:.80}", text))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn check_json_content_type(rec: &Received) -> Result<(), String> {
    let ct = rec.content_type.as_deref().unwrap_or("");
    if ct.to_ascii_lowercase().starts_with("application/json") {
        Ok(())
    } else {
        Err(format!("content type must be application/json, got {ct:?}"))
    }
}

fn non_empty_str<'a>(v: &'a Value, field: &str) -> Result<&'a str, String> {
    match v.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        _ => Err(format!("{field} must be a non-empty string")),
    }
}

fn positive_int(v: &Value, field: &str) -> Result<u64, String> {
    v.get(field)
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{field} must be a positive integer"))
}

/// The warehouse/dropship forward body the clients send.
fn check_rest_forward(rec: &Received) -> Result<(), String> {
    let p = &rec.payload;
    if !p.is_object() {
        return Err("body must be a JSON object".to_owned());
    }
    let package = non_empty_str(p, "package_id")?;
    non_empty_str(p, "order_id")?;
    if rec.idempotency_key.as_deref() != Some(package) {
        return Err(format!(
            "Idempotency-Key header must equal package_id {package}, got {:?}",
            rec.idempotency_key
        ));
    }
    let lines = p
        .get("lines")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or("lines must be a non-empty array")?;
    for line in lines {
        non_empty_str(line, "sku").map_err(|e| format!("lines[]: {e}"))?;
        positive_int(line, "qty").map_err(|e| format!("lines[]: {e}"))?;
    }
    let address = p.get("address").ok_or("address is required")?;
    for field in ["name", "phone", "line1", "city"] {
        non_empty_str(address, field).map_err(|e| format!("address: {e}"))?;
    }
    if !address.get("postcode").is_some_and(Value::is_string) {
        return Err("address: postcode must be a string".to_owned());
    }
    if p.get("goods_cents").and_then(Value::as_u64).is_none() {
        return Err("goods_cents must be a non-negative integer".to_owned());
    }
    Ok(())
}

fn check_jd_submit(p: &Value) -> Result<(), String> {
    non_empty_str(p, "thirdOrderId")?;
    let skus = p
        .get("sku")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or("sku must be a non-empty array")?;
    for sku in skus {
        match sku.get("skuId") {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(Value::Number(_)) => {}
            _ => return Err("sku[].skuId is required".to_owned()),
        }
        positive_int(sku, "num").map_err(|e| format!("sku[]: {e}"))?;
    }
    for field in ["name", "mobile", "address", "city"] {
        non_empty_str(p, field)?;
    }
    if !p.get("zip").is_some_and(Value::is_string) {
        return Err("zip must be a string".to_owned());
    }
    Ok(())
}

fn check_jd_cancel(p: &Value) -> Result<(), String> {
    non_empty_str(p, "thirdOrderId")?;
    match p.get("jdOrderId") {
        Some(Value::String(s)) if !s.is_empty() => Ok(()),
        Some(Value::Number(_)) => Ok(()),
        _ => Err("jdOrderId is required".to_owned()),
    }
}

/// The JOS signature, computed here independently of the client crate.
pub fn jd_sign(app_secret: &str, params: &BTreeMap<String, String>) -> String {
    // BTreeMap iterates in byte order of the names.
    let mut text = String::from(app_secret);
    for (k, v) in params.iter().filter(|(k, _)| *k != "sign") {
        text.push_str(k);
        text.push_str(v);
    }
    text.push_str(app_secret);
    let digest = Md5::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02X}")).collect()
}

/// `jingdong.kepler.order.submit` -> `jingdong_kepler_order_submit_response`.
pub fn jd_response_key(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// Exactly `yyyy-MM-dd HH:mm:ss`, read as UTC+8, within [`JD_MAX_SKEW_SECS`] of now.
pub fn jd_check_timestamp(ts: &str) -> Result<(), String> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let bad = || format!("timestamp {ts:?} is not yyyy-MM-dd HH:mm:ss");
    if ts.len() != 19 {
        return Err(bad());
    }
    let local = time::PrimitiveDateTime::parse(ts, format).map_err(|_| bad())?;
    let at = local.assume_offset(time::macros::offset!(+8));
    let skew = (time::OffsetDateTime::now_utc() - at).whole_seconds();
    if skew.abs() > JD_MAX_SKEW_SECS {
        return Err(format!(
            "timestamp {ts} (UTC+8) is {skew} s away from now; more than {JD_MAX_SKEW_SECS} s"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_matches_python() {
        // hashlib.md5(('s' + '360buy_param_json{"name":"张三"}' + 'methodm' + 's').encode()).hexdigest().upper()
        let p: BTreeMap<String, String> = [
            ("method", "m"),
            ("360buy_param_json", r#"{"name":"张三"}"#),
            ("sign", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(jd_sign("s", &p), "3791C1AFE6FD458DB8AD4EFF168ACC4E");
    }

    #[test]
    fn timestamps_are_checked() {
        let now = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+8));
        let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        assert!(jd_check_timestamp(&now.format(f).unwrap()).is_ok());
        let utc = time::OffsetDateTime::now_utc();
        assert!(
            jd_check_timestamp(&utc.format(f).unwrap()).is_err(),
            "UTC is 8 h off"
        );
        assert!(jd_check_timestamp("2024-01-02T03:04:05").is_err());
        assert!(jd_check_timestamp("2024-1-2 3:04:05").is_err());
    }
}
