//! The paid path's parts for tests: queues created from template.yaml in the
//! SQS emulator, the supplier simulator on loopback, and the pay, cancel,
//! expire and forward handlers wired to them. Forward-queue messages are
//! really received from the emulator and handed to `forward` as Lambda's SQS
//! event source would: successes deleted, failures left to come back.

use crate::{call_app, Event, Func, TestApp};
use adapters::local_queues::{lambda_event, QueueDef};
use adapters::sqs::SqsPublisher;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use domain::config::Config;
use domain::payment::signature;
use serde_json::{json, Value};
use std::collections::HashMap;
use supplier_sim::Simulator;

pub const PAYMENT_SECRET: &str = "test-payment-secret";
pub const JD_SECRET: &str = "test-jd-secret";
/// S-1's webhook key; every supplier has its own (`supplier_secret`).
pub const SUPPLIER_SECRET: &str = "test-supplier-secret-S-1";

/// A supplier's own webhook key in the tests (jd and S-1 to S-9 have one).
pub fn supplier_secret(supplier: &str) -> String {
    format!("test-supplier-secret-{supplier}")
}

/// `SUPPLIER_WEBHOOK_SECRETS` of the test stack: jd and S-1 to S-9.
pub fn supplier_secrets() -> signature::SupplierSecrets {
    let map: serde_json::Map<String, Value> = std::iter::once("jd".to_owned())
        .chain((1..=9).map(|i| format!("S-{i}")))
        .map(|id| (id.clone(), Value::String(supplier_secret(&id))))
        .collect();
    signature::SupplierSecrets::parse(&Value::Object(map).to_string()).expect("secrets")
}

/// The event Lambda's SQS event source would hand `forward` for these messages.
fn forward_event(messages: &[aws_sdk_sqs::types::Message]) -> SqsEvent {
    serde_json::from_value(lambda_event(
        messages,
        "arn:aws:sqs:us-east-1:000000000000:forward",
    ))
    .expect("an SQS event")
}

pub struct Stack {
    pub t: TestApp,
    pub sqs: aws_sdk_sqs::Client,
    pub queues: HashMap<String, String>,
    pub sim: Simulator,
    pub pay: pay::Pay,
    pub cancel: cancel::Cancel,
    pub backoffice: backoffice::Backoffice,
    pub expire: expire::Expire,
    pub forward: forward::Forward,
    pub status_sync: status_sync::StatusSync,
    pub after_sales: after_sales::AfterSales,
    pub refund: refund::Refund,
    pub reconcile: reconcile::Reconcile,
}

fn sqs_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_SQS").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL_SQS is not set: these tests need the SQS emulator. Run them with scripts/test, which starts it.")
    })
}

pub fn sqs_client() -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(sqs_endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

/// The AWS SDK configuration of the emulator (moto: SQS, Secrets Manager).
pub fn emulator_sdk() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(sqs_endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
            Credentials::new("local", "local", None, None, "tests"),
        ))
        .build()
}

fn s3_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_S3").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL_S3 is not set: these tests need the S3 emulator (moto). Run them with scripts/test, which starts it.")
    })
}

/// A proof bucket of this test's own in the emulator, created.
pub async fn proof_bucket(prefix: &str) -> adapters::proofs::S3Proofs {
    let name: String = format!("proof-{prefix}")
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(63)
        .collect();
    let proofs = adapters::proofs::S3Proofs::new(
        &name,
        Some(&s3_endpoint()),
        "us-east-1",
        emulator_sdk().credentials_provider(),
    );
    let url = proofs
        .presign("PUT", "", &[], 300)
        .await
        .expect("a presigned CreateBucket");
    let (status, body) = crate::http_send("PUT", &url, &[], Vec::new()).await;
    assert_eq!(
        status,
        200,
        "creating bucket {name} in the emulator: {}",
        String::from_utf8_lossy(&body)
    );
    proofs
}

/// Where the handlers tell WeChat Pay to notify (the tests deliver the
/// simulator's notifications themselves).
pub const PUBLIC_BASE_URL: &str = "http://stack.test";

/// The local payment secrets: the gateway's, and the simulator's WeChat
/// Pay merchant credentials for every storefront naming none.
pub fn local_secrets(sim: &Simulator) -> adapters::secrets::PaymentSecrets {
    adapters::secrets::PaymentSecrets::local(PAYMENT_SECRET).with_wechatpay(Some(
        serde_json::to_string(&sim.wechat_credentials()).expect("credentials as JSON"),
    ))
}

/// WeChat Pay at the simulator.
pub fn wechatpay(sim: &Simulator) -> suppliers::wechatpay::WechatPay {
    suppliers::wechatpay::WechatPay {
        client: suppliers::wechatpay::WechatPayClient::new(
            &sim.wechat_url(),
            std::time::Duration::from_millis(1500),
        )
        .expect("WeChat Pay client"),
        public_base_url: Some(PUBLIC_BASE_URL.to_owned()),
    }
}

/// What one delivery of a batch did.
#[derive(Debug, Default)]
pub struct Delivery {
    pub received: usize,
    pub failed: Vec<String>,
}

impl Stack {
    pub async fn spawn(config: Config) -> Stack {
        Self::spawn_on(crate::dynamo_client(), config).await
    }

    /// [`Stack::spawn`] on a table with the template's stream (the order
    /// events' tests: [`crate::events::EventTap`]).
    pub async fn spawn_streaming(config: Config) -> Stack {
        Self::build(TestApp::create(crate::dynamo_client(), config, true).await).await
    }

    /// [`Stack::spawn`], the handlers using `client` (e.g. one counting calls).
    pub async fn spawn_on(client: aws_sdk_dynamodb::Client, config: Config) -> Stack {
        Self::build(TestApp::spawn_on(client, config).await).await
    }

    async fn build(t: TestApp) -> Stack {
        let sqs = sqs_client();
        let prefix = t.app.store.table().to_owned();
        let queues = QueueDef::create_all(&sqs, &prefix)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot create queues in the SQS emulator at {}: {e}",
                    sqs_endpoint()
                )
            });
        let publisher =
            SqsPublisher::new(sqs.clone(), &queues["ForwardQueue"], &queues["RefundQueue"]);
        let sim = Simulator::start_with(supplier_sim::SimOptions {
            jd_app_secret: JD_SECRET.to_owned(),
            payment_secret: PAYMENT_SECRET.to_owned(),
            ..Default::default()
        })
        .await
        .expect("supplier-sim on 127.0.0.1");
        let suppliers = suppliers::SupplierRouter::new(suppliers::SupplierConfig::local(
            &sim.base_url(),
            JD_SECRET,
        ))
        .expect("supplier router");
        Stack {
            pay: pay::Pay {
                app: t.app.clone(),
                publisher: publisher.clone(),
                secrets: local_secrets(&sim),
                wechatpay: wechatpay(&sim),
            },
            cancel: cancel::Cancel {
                app: t.app.clone(),
                publisher: publisher.clone(),
            },
            backoffice: backoffice::Backoffice {
                app: t.app.clone(),
                publisher: publisher.clone(),
            },
            status_sync: status_sync::StatusSync {
                app: t.app.clone(),
                publisher: publisher.clone(),
                secrets: supplier_secrets(),
            },
            after_sales: after_sales::AfterSales {
                app: t.app.clone(),
                publisher: publisher.clone(),
                proofs: proof_bucket(&prefix).await,
            },
            expire: expire::Expire {
                app: t.app.clone(),
                publisher: publisher.clone(),
                budget: expire::DEFAULT_BUDGET,
            },
            refund: refund::Refund {
                app: t.app.clone(),
                publisher: publisher.clone(),
                providers: refund::Providers {
                    store: t.app.store.clone(),
                    secrets: local_secrets(&sim),
                    wechatpay: wechatpay(&sim),
                    gateway: Some(
                        suppliers::gateway::GatewayClient::new(
                            &sim.gateway_url(),
                            std::time::Duration::from_millis(1500),
                        )
                        .expect("gateway client"),
                    ),
                },
            },
            reconcile: reconcile::Reconcile {
                app: t.app.clone(),
                publisher: publisher.clone(),
                secrets: local_secrets(&sim),
                wechatpay: wechatpay(&sim),
            },
            forward: forward::Forward {
                app: t.app.clone(),
                publisher,
                suppliers,
                max_receives: forward::DEFAULT_MAX_RECEIVES,
            },
            t,
            sqs,
            queues,
            sim,
        }
    }

    /// `POST /payments/notify/{storefront}` (the bare route for None), signed with `secret`.
    pub async fn notify_in(
        &self,
        pay: &pay::Pay,
        storefront: Option<&str>,
        secret: &str,
        body: &Value,
    ) -> (u16, Value) {
        let text = body.to_string();
        let sig = signature::sign(secret.as_bytes(), text.as_bytes());
        let e = match storefront {
            Some(sf) => Event::new(
                "POST",
                "/payments/notify/{storefront}",
                &format!("/payments/notify/{sf}"),
            )
            .path_param("storefront", sf),
            None => Event::new("POST", "/payments/notify", "/payments/notify"),
        };
        let req = e.raw_body(&text).header("x-signature", &sig).build();
        crate::decode(pay::handle(pay, req).await)
    }

    /// `POST /payments/notify` with a raw body and signature header.
    pub async fn notify_raw(&self, body: &str, signature: Option<&str>) -> (u16, Value) {
        let mut e = Event::new("POST", "/payments/notify", "/payments/notify").raw_body(body);
        if let Some(s) = signature {
            e = e.header("x-signature", s);
        }
        let resp = pay::handle(&self.pay, e.build()).await;
        crate::decode(resp)
    }

    /// A correctly signed notification.
    pub async fn notify(&self, body: &Value) -> (u16, Value) {
        let text = body.to_string();
        let sig = signature::sign(PAYMENT_SECRET.as_bytes(), text.as_bytes());
        self.notify_raw(&text, Some(&sig)).await
    }

    /// Pays `order` in full with `payment_id`.
    pub async fn pay_order(&self, order: &Value, payment_id: &str) -> (u16, Value) {
        self.notify(&json!({
            "order_id": order["id"], "payment_id": payment_id,
            "amount_cents": order["total_cents"], "paid_at": crate::now(),
        }))
        .await
    }

    pub async fn cancel_order(&self, user: &str, id: &str) -> (u16, Value) {
        let e = Event::new(
            "POST",
            "/orders/{id}/cancel",
            &format!("/orders/{id}/cancel"),
        )
        .path_param("id", id)
        .user(user);
        crate::decode(cancel::handle(&self.cancel, e.build()).await)
    }

    pub async fn sweep(&self) -> domain::order::sweep::SweepSummary {
        expire::handle(&self.expire, json!({"source": "aws.scheduler"}))
            .await
            .expect("sweep")
    }

    pub async fn order(&self, user: &str, id: &str) -> Value {
        let (status, v) = self.t.get_order(user, id).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// Up to 10 forward-queue messages, waiting up to `wait_secs` for the
    /// first, hidden from other receives for `visibility` seconds.
    async fn receive_forward(
        &self,
        wait_secs: i32,
        visibility: i32,
    ) -> Vec<aws_sdk_sqs::types::Message> {
        self.receive("ForwardQueue", wait_secs, visibility).await
    }

    /// Up to 10 messages of `queue` (its logical id), waiting up to
    /// `wait_secs` for the first, hidden for `visibility` seconds.
    async fn receive(
        &self,
        queue: &str,
        wait_secs: i32,
        visibility: i32,
    ) -> Vec<aws_sdk_sqs::types::Message> {
        self.sqs
            .receive_message()
            .queue_url(&self.queues[queue])
            .max_number_of_messages(10)
            .wait_time_seconds(wait_secs)
            .visibility_timeout(visibility)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default()
    }

    /// Receives up to 10 forward-queue messages (waiting up to `wait_secs` for
    /// the first) and hands them to `forward` as one SQS event.
    pub async fn deliver(&self, wait_secs: i32) -> Delivery {
        let messages = self.receive_forward(wait_secs, 1).await;
        if messages.is_empty() {
            return Delivery::default();
        }
        let event = forward_event(&messages);
        let response = forward::handle(&self.forward, event).await;
        self.settle("ForwardQueue", &messages, &response).await
    }

    /// What the event source mapping does with a batch's answer: successes
    /// deleted, failures left to come back.
    async fn settle(
        &self,
        queue: &str,
        messages: &[aws_sdk_sqs::types::Message],
        response: &aws_lambda_events::event::sqs::SqsBatchResponse,
    ) -> Delivery {
        let failed: Vec<String> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        for m in messages {
            if !failed.iter().any(|f| Some(f.as_str()) == m.message_id()) {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queues[queue])
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
        Delivery {
            received: messages.len(),
            failed,
        }
    }

    /// Receives up to 10 refund-queue messages (waiting up to `wait_secs`
    /// for the first) and hands them to `refund` as one SQS event, as the
    /// event source mapping does: successes deleted, failures left to come
    /// back (after 1 s here).
    pub async fn deliver_refunds(&self, wait_secs: i32) -> Delivery {
        let messages = self.receive("RefundQueue", wait_secs, 1).await;
        if messages.is_empty() {
            return Delivery::default();
        }
        let event: SqsEvent = serde_json::from_value(lambda_event(
            &messages,
            "arn:aws:sqs:us-east-1:000000000000:refund",
        ))
        .expect("an SQS event");
        let response = refund::handle_batch(&self.refund, event).await;
        self.settle("RefundQueue", &messages, &response).await
    }

    /// Delivers refund messages until the queue stays empty for `quiet_secs`.
    pub async fn drain_refunds(&self, quiet_secs: i32) -> usize {
        let mut handled = 0;
        loop {
            let d = self.deliver_refunds(quiet_secs).await;
            if d.received == 0 {
                return handled;
            }
            handled += d.received;
        }
    }

    /// `POST /payments/refund-notify[/{storefront}]` with a raw body and signature.
    pub async fn refund_notify_raw(
        &self,
        storefront: Option<&str>,
        body: &str,
        signature: Option<&str>,
    ) -> (u16, Value) {
        let mut e = match storefront {
            Some(sf) => Event::new(
                "POST",
                "/payments/refund-notify/{storefront}",
                &format!("/payments/refund-notify/{sf}"),
            )
            .path_param("storefront", sf),
            None => Event::new("POST", "/payments/refund-notify", "/payments/refund-notify"),
        }
        .raw_body(body);
        if let Some(s) = signature {
            e = e.header("x-signature", s);
        }
        crate::decode(refund::handle_http(&self.refund, e.build()).await)
    }

    /// Hands the simulator's pending refund notifications to the API, as
    /// the gateway posts them; their answers, in order.
    pub async fn refund_notifications(&self) -> Vec<(u16, Value)> {
        let mut out = Vec::new();
        for n in self.sim.take_refund_notifications() {
            out.push(
                self.refund_notify_raw(Some(&n.storefront), &n.body, Some(&n.signature))
                    .await,
            );
        }
        out
    }

    /// The order as an admin sees it (its attention items and staff actions).
    pub async fn order_as_admin(&self, id: &str) -> Value {
        let e = Event::new("GET", "/orders/{id}", &format!("/orders/{id}"))
            .path_param("id", id)
            .user("ada")
            .header("x-user-role", "admin");
        let (status, v) = self.t.call(crate::Func::Orders, e.build()).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// Posts a WeChat Pay notification to the route its `url` names (the
    /// payment's or the refund's, with its storefront), as WeChat does.
    pub async fn wechat_notify(&self, n: &supplier_sim::WechatNotification) -> (u16, Value) {
        let path = n
            .url
            .strip_prefix(PUBLIC_BASE_URL)
            .unwrap_or_else(|| panic!("a notification to {}", n.url));
        let (route, refund) = match path.rsplit_once('/') {
            Some(("/payments/wechatpay/notify", _)) => {
                ("/payments/wechatpay/notify/{storefront}", false)
            }
            Some(("/payments/wechatpay/refund-notify", _)) => {
                ("/payments/wechatpay/refund-notify/{storefront}", true)
            }
            _ => panic!("no WeChat Pay route at {path}"),
        };
        let sf = path.rsplit('/').next().unwrap_or_default();
        let mut e = Event::new("POST", route, path)
            .path_param("storefront", sf)
            .raw_body(&n.body);
        for (k, v) in &n.headers {
            e = e.header(k, v);
        }
        let resp = if refund {
            refund::handle_http(&self.refund, e.build()).await
        } else {
            pay::handle(&self.pay, e.build()).await
        };
        crate::decode(resp)
    }

    /// Hands the simulator's pending WeChat Pay notifications to the API;
    /// their answers, in order.
    pub async fn wechat_notifications(&self) -> Vec<(u16, Value)> {
        let mut out = Vec::new();
        for n in self.sim.take_wechat_notifications() {
            out.push(self.wechat_notify(&n).await);
        }
        out
    }

    /// `POST /orders/{id}/pay/wechatpay` by `user`.
    pub async fn start_wechat(&self, user: &str, order_id: &str, openid: &str) -> (u16, Value) {
        let e = Event::new(
            "POST",
            "/orders/{id}/pay/wechatpay",
            &format!("/orders/{order_id}/pay/wechatpay"),
        )
        .path_param("id", order_id)
        .user(user)
        .json(&json!({ "openid": openid }));
        crate::decode(pay::handle(&self.pay, e.build()).await)
    }

    /// The buyer pays `order` through WeChat Pay: prepay, the simulator's
    /// payment (`amount`: the order's total by default), its notification
    /// delivered. The notification's answer and the transaction id.
    pub async fn pay_wechat(
        &self,
        user: &str,
        order: &Value,
        amount: Option<u64>,
    ) -> (u16, String) {
        let id = order["id"].as_str().expect("an order id");
        let (status, v) = self.start_wechat(user, id, "oBuyer_1").await;
        assert_eq!(status, 200, "{v}");
        let t = self
            .sim
            .wechat_pay(id, amount)
            .expect("the simulator's payment");
        let answers = self.wechat_notifications().await;
        assert_eq!(answers.len(), 1, "{answers:?}");
        (answers[0].0, t.transaction_id)
    }

    /// A staff refund action (`retry` or `record-offline`) by `user` with `role`.
    pub async fn refund_action(
        &self,
        action: &str,
        refund_id: &str,
        user: &str,
        role: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let route = format!("/refunds/{{refund_id}}/{action}");
        let mut e = Event::new("POST", &route, &format!("/refunds/{refund_id}/{action}"))
            .path_param("refund_id", refund_id)
            .user(user)
            .header("x-user-role", role);
        if let Some(b) = body {
            e = e.json(&b);
        }
        crate::decode(refund::handle_http(&self.refund, e.build()).await)
    }

    /// Delivers until the queue stays empty for `quiet_secs`.
    pub async fn drain(&self, quiet_secs: i32) -> usize {
        let mut handled = 0;
        loop {
            let d = self.deliver(quiet_secs).await;
            if d.received == 0 {
                return handled;
            }
            handled += d.received;
        }
    }

    /// Messages in a queue, visible or not (approximate, as SQS reports it).
    pub async fn depth(&self, logical_id: &str) -> usize {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queues[logical_id])
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        attrs
            .values()
            .map(|v| v.parse::<usize>().unwrap_or(0))
            .sum()
    }

    /// Bodies of every message in a queue that is not expected to be consumed (refunds, DLQ).
    pub async fn peek(&self, logical_id: &str) -> Vec<Value> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queues[logical_id])
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive");
        out.messages
            .unwrap_or_default()
            .iter()
            .map(|m| serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null))
            .collect()
    }

    /// Places an order through the place handler and asserts it was created.
    pub async fn placed(&self, user: &str, lines: Value) -> Value {
        let (status, order) = self.t.place(user, lines, None).await;
        assert_eq!(status, 201, "{order}");
        order
    }

    pub async fn call(&self, func: Func, req: lambda_http::Request) -> (u16, Value) {
        call_app(&self.t.app, func, req).await
    }

    /// `POST /suppliers/{supplier}/package-status`, raw body and signature.
    pub async fn supplier_raw(
        &self,
        supplier: &str,
        body: &str,
        signature: Option<&str>,
    ) -> (u16, Value) {
        let path = format!("/suppliers/{supplier}/package-status");
        let mut e = Event::new("POST", "/suppliers/{supplier}/package-status", &path)
            .path_param("supplier", supplier)
            .raw_body(body);
        if let Some(s) = signature {
            e = e.header("x-signature", s);
        }
        crate::decode(status_sync::handle(&self.status_sync, e.build()).await)
    }

    /// A correctly signed supplier callback.
    pub async fn supplier(&self, supplier: &str, body: &Value) -> (u16, Value) {
        let text = body.to_string();
        let sig = signature::sign(supplier_secret(supplier).as_bytes(), text.as_bytes());
        self.supplier_raw(supplier, &text, Some(&sig)).await
    }

    /// A supplier reports `status` for a package now.
    pub async fn report(&self, supplier: &str, package: &str, status: &str) -> (u16, Value) {
        self.supplier(
            supplier,
            &json!({"package_id": package, "status": status, "tracking_no": format!("T-{package}"), "at": crate::now()}),
        )
        .await
    }

    fn package_event(&self, action: &str, package: &str) -> Event {
        Event::new(
            "POST",
            &format!("/packages/{{package_id}}/{action}"),
            &format!("/packages/{package}/{action}"),
        )
        .path_param("package_id", package)
    }

    /// Staff mark a self-operated package shipped.
    pub async fn ship(&self, package: &str, carrier: &str, tracking: &str) -> (u16, Value) {
        let e = self
            .package_event("ship", package)
            .user("staff-1")
            .staff()
            .json(&json!({"carrier": carrier, "tracking_no": tracking}));
        crate::decode(status_sync::handle(&self.status_sync, e.build()).await)
    }

    /// `POST /packages/{id}/resolve` as `user` (staff when `staff`).
    pub async fn resolve_as(
        &self,
        user: &str,
        staff: bool,
        package: &str,
        body: &Value,
    ) -> (u16, Value) {
        let mut e = self.package_event("resolve", package).user(user).json(body);
        if staff {
            e = e.staff();
        }
        crate::decode(status_sync::handle(&self.status_sync, e.build()).await)
    }

    /// Any caller's `POST /packages/{id}/ship` with a body.
    pub async fn ship_as(&self, user: &str, package: &str, body: &Value) -> (u16, Value) {
        let e = self.package_event("ship", package).user(user).json(body);
        crate::decode(status_sync::handle(&self.status_sync, e.build()).await)
    }

    pub async fn confirm_receipt(&self, user: &str, package: &str) -> (u16, Value) {
        let e = self.package_event("confirm-receipt", package).user(user);
        crate::decode(status_sync::handle(&self.status_sync, e.build()).await)
    }

    /// `POST /orders/{id}/after-sales` by `user`.
    pub async fn open_case(&self, user: &str, order: &str, body: &Value) -> (u16, Value) {
        let e = Event::new(
            "POST",
            "/orders/{id}/after-sales",
            &format!("/orders/{order}/after-sales"),
        )
        .path_param("id", order)
        .user(user)
        .json(body);
        crate::decode(after_sales::handle(&self.after_sales, e.build()).await)
    }

    /// Opens a case as `user` would at `now` (the domain's use case with its
    /// clock given): the error code when refused.
    pub async fn open_case_at(
        &self,
        user: &str,
        order: &str,
        body: &Value,
        now: domain::time::Timestamp,
    ) -> Result<(), &'static str> {
        use domain::error::Problem;
        let caller =
            domain::ids::Caller::buyer(domain::ids::UserId::parse(user).expect("a user id"));
        let request = domain::after_sales::OpenCase::parse(body.to_string().as_bytes())
            .expect("a valid case body");
        let id = domain::ids::OrderId::parse(order).expect("an order id");
        domain::after_sales::open_case(
            &self.t.app.store,
            &self.after_sales.publisher,
            &self.t.app.config,
            &caller,
            &id,
            &request,
            now,
        )
        .await
        .map(|_| ())
        .map_err(|e| e.code())
    }

    /// A case route: `step` is `review`, `return-shipment`, `complete`,
    /// `withdraw`, or "" for `GET /after-sales/{case_id}`.
    pub async fn case(
        &self,
        user: &str,
        staff: bool,
        case: &str,
        step: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let (method, route, path) = if step.is_empty() {
            (
                "GET",
                "/after-sales/{case_id}".to_owned(),
                format!("/after-sales/{case}"),
            )
        } else {
            (
                "POST",
                format!("/after-sales/{{case_id}}/{step}"),
                format!("/after-sales/{case}/{step}"),
            )
        };
        let mut e = Event::new(method, &route, &path)
            .path_param("case_id", case)
            .user(user);
        if staff {
            e = e.staff();
        }
        if let Some(b) = body {
            e = e.json(b);
        }
        crate::decode(after_sales::handle(&self.after_sales, e.build()).await)
    }

    /// Runs the sweep as if at `now` (to reach automatic receipt without waiting days).
    pub async fn sweep_at(
        &self,
        now: domain::time::Timestamp,
    ) -> domain::order::sweep::SweepSummary {
        domain::order::sweep::sweep(
            &self.t.app.store,
            &self.expire.publisher,
            &self.t.app.config,
            expire::DEFAULT_BUDGET,
            now,
        )
        .await
        .expect("sweep")
    }

    /// The sweep asks again about unanswered intercepts (as it does
    /// `INTERCEPT_RETRY_SECS` after the last ask), and the queue delivers them.
    pub async fn ask_intercepts_again(&self) {
        let later =
            domain::time::Timestamp::now().plus_secs(self.t.app.config.intercept_retry_secs + 1);
        self.sweep_at(later).await;
        self.drain(1).await;
    }

    /// The order as stored, internals included (version, outbox, claims).
    pub async fn stored(&self, id: &str) -> domain::order::Order {
        use domain::ports::Orders;
        let id = domain::ids::OrderId::parse(id).expect("an order id");
        self.t
            .app
            .store
            .get_order(&id)
            .await
            .expect("read")
            .expect("stored")
    }

    /// `GET /orders/{id}` as staff.
    pub async fn order_as_staff(&self, id: &str) -> Value {
        let req = Event::new("GET", "/orders/{id}", &format!("/orders/{id}"))
            .path_param("id", id)
            .user("staff-1")
            .staff()
            .build();
        let (status, v) = self.call(Func::Orders, req).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// `POST /orders/{id}/cancel` with a body, as `user` (staff or not).
    pub async fn cancel_as(&self, user: &str, staff: bool, id: &str, body: &Value) -> (u16, Value) {
        let mut e = Event::new(
            "POST",
            "/orders/{id}/cancel",
            &format!("/orders/{id}/cancel"),
        )
        .path_param("id", id)
        .user(user)
        .json(body);
        if staff {
            e = e.staff();
        }
        crate::decode(cancel::handle(&self.cancel, e.build()).await)
    }

    /// Who placed a stored order.
    pub async fn stored_user(&self, id: &str) -> String {
        self.stored(id).await.user_id.to_string()
    }
}

/// What one delivery with duplicates did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Copies {
    /// Distinct messages received from the queue.
    pub received: usize,
    /// Deliveries made (each message handed to `forward` 1 or more times).
    pub delivered: usize,
    /// Deliveries that reported a failure (the message is retried).
    pub failed: usize,
}

impl Stack {
    /// Receives up to 10 forward-queue messages and hands each to `forward`
    /// `copies()` times at once, in separate batches (as when two Lambda
    /// instances got the same message): at-least-once delivery at its worst.
    /// A message is deleted once any of its copies succeeded.
    pub async fn deliver_copies(
        &self,
        wait_secs: i32,
        mut copies: impl FnMut() -> usize,
    ) -> Copies {
        let url = &self.queues["ForwardQueue"];
        let messages = self.receive_forward(wait_secs, 2).await;
        if messages.is_empty() {
            return Copies::default();
        }
        let counts: Vec<usize> = messages.iter().map(|_| copies().max(1)).collect();
        let most = counts.iter().copied().max().unwrap_or(1);
        let events: Vec<SqsEvent> = (0..most)
            .map(|j| {
                let batch: Vec<_> = messages
                    .iter()
                    .zip(&counts)
                    .filter(|(_, n)| **n > j)
                    .map(|(m, _)| m.clone())
                    .collect();
                forward_event(&batch)
            })
            .collect();
        let responses = futures::future::join_all(
            events
                .into_iter()
                .map(|e| forward::handle(&self.forward, e)),
        )
        .await;
        let mut result = Copies {
            received: messages.len(),
            delivered: counts.iter().sum(),
            failed: 0,
        };
        for (m, n) in messages.iter().zip(&counts) {
            let id = m.message_id().unwrap_or_default();
            let failures = responses
                .iter()
                .take(*n)
                .filter(|r| {
                    r.batch_item_failures
                        .iter()
                        .any(|f| f.item_identifier == id)
                })
                .count();
            result.failed += failures;
            if failures < *n {
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
        result
    }

    /// [`Stack::deliver_copies`] until the queue stays empty for `quiet_secs`.
    pub async fn drain_copies(&self, quiet_secs: i32, mut copies: impl FnMut() -> usize) -> Copies {
        let mut total = Copies::default();
        loop {
            let c = self.deliver_copies(quiet_secs, &mut copies).await;
            if c.received == 0 {
                return total;
            }
            total.received += c.received;
            total.delivered += c.delivered;
            total.failed += c.failed;
        }
    }

    /// Takes every message out of a queue nobody consumes here (refunds,
    /// dead letters) and returns their bodies.
    pub async fn take_all(&self, logical_id: &str) -> Vec<Value> {
        let url = &self.queues[logical_id];
        let mut bodies = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(300)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return bodies;
            }
            for m in &messages {
                bodies
                    .push(serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null));
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }

    /// The per-user limit counter `LIMIT#<user>#<sku>` (units held), 0 if absent.
    pub async fn limit_held(&self, user: &str, sku: &str) -> i64 {
        use aws_sdk_dynamodb::types::AttributeValue;
        let out = self
            .t
            .app
            .store
            .client()
            .get_item()
            .table_name(self.t.app.store.table())
            .key("pk", AttributeValue::S(format!("LIMIT#{user}#{sku}")))
            .key("sk", AttributeValue::S("LIMIT".into()))
            .consistent_read(true)
            .send()
            .await
            .expect("get limit");
        out.item
            .and_then(|i| i.get("held").cloned())
            .and_then(|v| v.as_n().ok().and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    }
}
