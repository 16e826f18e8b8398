//! The handlers wired as the integration tests wire them (tests/src/stack.rs),
//! except that the SDK clients the handlers use carry the round-trip
//! counter. Each stack has its own table (from template.yaml), its own
//! queues and supplier simulator; the `raw` clients are uncounted, for the
//! bench's own setup and checks.

use crate::counter::Counter;
use crate::Res;
use adapters::dynamo::schema::TableDef;
use adapters::local_queues::QueueDef;
use adapters::sqs::SqsPublisher;
use adapters::{App, AuthMode, DynamoStore};
use aws_sdk_dynamodb::types::AttributeValue;
use domain::config::Config;
use integration_tests::throttle::WriteLimit;
use integration_tests::{decode, place_body, put_sku_event, Event};
use serde_json::{json, Value};
use std::collections::HashMap;
use supplier_sim::Simulator;

pub const PAYMENT_SECRET: &str = "bench-payment-secret";
/// Every supplier's webhook key in the bench (one per supplier id).
pub const SUPPLIER_SECRET: &str = "bench-supplier-secret";

/// `SUPPLIER_WEBHOOK_SECRETS`: jd and S-1 to S-9, all with [`SUPPLIER_SECRET`].
pub fn supplier_secrets_json() -> String {
    let map: serde_json::Map<String, Value> = std::iter::once("jd".to_owned())
        .chain((1..=9).map(|i| format!("S-{i}")))
        .map(|id| (id, Value::String(SUPPLIER_SECRET.to_owned())))
        .collect();
    Value::Object(map).to_string()
}

fn supplier_secrets() -> domain::payment::signature::SupplierSecrets {
    domain::payment::signature::SupplierSecrets::parse(&supplier_secrets_json()).expect("secrets")
}
pub const JD_SECRET: &str = "bench-jd-secret";

#[derive(Debug, Clone)]
pub struct Endpoints {
    pub dynamodb: String,
    pub sqs: String,
}

pub fn credentials() -> aws_sdk_dynamodb::config::Credentials {
    aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "bench")
}

pub fn ddb_client(ep: &Endpoints, counter: Option<&Counter>) -> aws_sdk_dynamodb::Client {
    ddb_client_limited(ep, counter, None)
}

/// A DynamoDB client whose writes go through `limit` (a model of the write
/// limit per partition), when given.
pub fn ddb_client_limited(
    ep: &Endpoints,
    counter: Option<&Counter>,
    limit: Option<&WriteLimit>,
) -> aws_sdk_dynamodb::Client {
    let mut b = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .endpoint_url(&ep.dynamodb)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(credentials());
    if let Some(c) = counter {
        b = b.interceptor(c.clone());
    }
    if let Some(l) = limit {
        b = b.http_client(l.http_client());
    }
    aws_sdk_dynamodb::Client::from_conf(b.build())
}

pub fn sqs_client(ep: &Endpoints, counter: Option<&Counter>) -> aws_sdk_sqs::Client {
    let mut b = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .endpoint_url(&ep.sqs)
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(credentials());
    if let Some(c) = counter {
        b = b.interceptor(c.clone());
    }
    aws_sdk_sqs::Client::from_conf(b.build())
}

pub fn new_table_name(what: &str) -> String {
    format!(
        "bench-{what}-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    )
}

pub struct Stack {
    pub counter: Counter,
    pub table: String,
    /// Counted clients, as the handlers use them.
    pub app: App,
    pub publisher: SqsPublisher,
    /// Uncounted clients for setup and checks.
    pub raw: aws_sdk_dynamodb::Client,
    pub raw_sqs: aws_sdk_sqs::Client,
    pub queues: HashMap<String, String>,
    pub sim: Simulator,
    pub pay: pay::Pay,
    pub cancel: cancel::Cancel,
    pub expire: expire::Expire,
    pub forward: forward::Forward,
    pub status_sync: status_sync::StatusSync,
    pub backoffice: backoffice::Backoffice,
    pub refund: refund::Refund,
}

impl Stack {
    pub async fn new(ep: &Endpoints, what: &str, config: Config) -> Res<Stack> {
        Self::limited(ep, what, config, None).await
    }

    /// [`Stack::new`], the handlers' writes going through `limit` when given.
    pub async fn limited(
        ep: &Endpoints,
        what: &str,
        config: Config,
        limit: Option<&WriteLimit>,
    ) -> Res<Stack> {
        let counter = Counter::default();
        let raw = ddb_client(ep, None);
        let raw_sqs = sqs_client(ep, None);
        let table = new_table_name(what);
        // Without the stream: DynamoDB Local's makes every write slower, and
        // the bench measures our code, not the emulator's stream.
        TableDef::from_template()
            .map_err(|e| format!("template.yaml: {e}"))?
            .without_stream()
            .create(&raw, &table)
            .await
            .map_err(|e| format!("create table {table}: {e}"))?;
        let queues = QueueDef::create_all(&raw_sqs, &table)
            .await
            .map_err(|e| format!("create queues: {e}"))?;
        let app = App::new(
            DynamoStore::new(ddb_client_limited(ep, Some(&counter), limit), &table),
            config,
            AuthMode::DevHeaders,
        );
        let publisher = SqsPublisher::new(
            sqs_client(ep, Some(&counter)),
            &queues["ForwardQueue"],
            &queues["RefundQueue"],
        );
        let sim = Simulator::start_with(supplier_sim::SimOptions {
            jd_app_secret: JD_SECRET.to_owned(),
            payment_secret: PAYMENT_SECRET.to_owned(),
            ..supplier_sim::SimOptions::default()
        })
        .await?;
        let suppliers = suppliers::SupplierRouter::new(suppliers::SupplierConfig::local(
            &sim.base_url(),
            JD_SECRET,
        ))
        .map_err(|e| format!("supplier router: {e}"))?;
        Ok(Stack {
            pay: pay::Pay {
                app: app.clone(),
                publisher: publisher.clone(),
                secrets: adapters::secrets::PaymentSecrets::local(PAYMENT_SECRET),
                wechatpay: wechatpay(&sim)?,
            },
            cancel: cancel::Cancel {
                app: app.clone(),
                publisher: publisher.clone(),
            },
            expire: expire::Expire {
                app: app.clone(),
                publisher: publisher.clone(),
                budget: expire::DEFAULT_BUDGET,
            },
            forward: forward::Forward {
                app: app.clone(),
                publisher: publisher.clone(),
                suppliers,
                max_receives: forward::DEFAULT_MAX_RECEIVES,
            },
            status_sync: status_sync::StatusSync {
                app: app.clone(),
                publisher: publisher.clone(),
                secrets: supplier_secrets(),
            },
            backoffice: backoffice::Backoffice {
                app: app.clone(),
                publisher: publisher.clone(),
            },
            refund: refund::Refund {
                app: app.clone(),
                publisher: publisher.clone(),
                providers: refund::Providers {
                    store: app.store.clone(),
                    secrets: adapters::secrets::PaymentSecrets::local(PAYMENT_SECRET),
                    gateway: Some(
                        suppliers::gateway::GatewayClient::new(
                            &sim.gateway_url(),
                            std::time::Duration::from_millis(5000),
                        )
                        .map_err(|e| format!("gateway client: {e}"))?,
                    ),
                    wechatpay: wechatpay(&sim)?,
                },
            },
            counter,
            table,
            app,
            publisher,
            raw,
            raw_sqs,
            queues,
            sim,
        })
    }

    /// The same handlers with another configuration (same table, clients, queues).
    pub fn pay_with(&self, config: Config) -> pay::Pay {
        let mut app = self.app.clone();
        app.config = config;
        pay::Pay {
            app,
            ..self.pay.clone()
        }
    }

    /// `PUT /skus/{sku}` as staff.
    pub async fn put_sku(&self, sku: &str, source: Value, policy: &str, available: u64) -> Res<()> {
        self.put_sku_sharded(sku, source, policy, available, 1)
            .await
    }

    /// `PUT /skus/{sku}` as staff, its stock in `shards` items.
    pub async fn put_sku_sharded(
        &self,
        sku: &str,
        source: Value,
        policy: &str,
        available: u64,
        shards: u8,
    ) -> Res<()> {
        let body = json!({
            "stock_shards": shards,
            "name": format!("{sku} item"),
            "price_cents": 1990,
            "source": source,
            "stock_policy": policy,
            "listed": true,
            "per_user_limit": null,
            "available": available,
        });
        let req = put_sku_event(sku, &body).build();
        let (status, v) = decode(catalog::handle(&self.app, req).await);
        if status != 200 {
            return Err(format!("PUT /skus/{sku}: {status} {v}").into());
        }
        Ok(())
    }

    /// The bench's catalog: a self-operated SKU reserved at placement and a
    /// dropship SKU deducted at payment, both with plenty of stock.
    pub async fn seed(&self) -> Res<()> {
        self.put_sku(
            "TEA-1",
            json!({"kind": "self", "warehouse": "WH-1"}),
            "lock_on_place",
            100_000_000,
        )
        .await?;
        self.put_sku(
            "RUG-1",
            json!({"kind": "dropship", "supplier": "S-1"}),
            "deduct_on_pay",
            100_000_000,
        )
        .await
    }

    pub async fn place(&self, user: &str, lines: &Value, key: Option<&str>) -> (u16, Value) {
        decode(place::handle(&self.app, place_event(user, lines, key).build()).await)
    }

    /// Places an order; it must be created.
    pub async fn placed(&self, user: &str, lines: &Value) -> Res<Value> {
        let (status, order) = self.place(user, lines, None).await;
        if status != 201 {
            return Err(format!("place: {status} {order}").into());
        }
        Ok(order)
    }

    /// Pays an order in full; it must be accepted.
    pub async fn paid(&self, pay: &pay::Pay, order: &Value) -> Res<Value> {
        let req = pay_event(order, &format!("PAY-{}", ulid::Ulid::new())).build();
        let (status, v) = decode(pay::handle(pay, req).await);
        if status != 200 {
            return Err(format!("pay: {status} {v}").into());
        }
        Ok(v)
    }

    /// The stored item of an order, as DynamoDB holds it.
    pub async fn order_item(&self, id: &str) -> Res<HashMap<String, AttributeValue>> {
        let out = self
            .raw
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("ORDER#{id}")))
            .key("sk", AttributeValue::S("ORDER".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
        out.item
            .ok_or_else(|| format!("order {id} not stored").into())
    }

    /// Orders stored in the table (a scan: the bench's own tables are small).
    pub async fn count_orders(&self) -> Res<u64> {
        let mut n = 0;
        let mut start = None;
        loop {
            let out = self
                .raw
                .scan()
                .table_name(&self.table)
                .filter_expression("entity = :e")
                .expression_attribute_values(":e", AttributeValue::S("order".into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
            n += out.items().len() as u64;
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(n);
            }
        }
    }

    /// `available` of a SKU as stored.
    pub async fn available(&self, sku: &str) -> Res<i64> {
        let out = self
            .raw
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("SKU#{sku}")))
            .key("sk", AttributeValue::S("SKU".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
        out.item
            .as_ref()
            .and_then(|i| i.get("available"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("SKU {sku}: no available").into())
    }
}

pub fn place_event(user: &str, lines: &Value, key: Option<&str>) -> Event {
    let mut e = Event::new("POST", "/orders", "/orders")
        .user(user)
        .json(&place_body(lines.clone()));
    if let Some(k) = key {
        e = e.header("idempotency-key", k);
    }
    e
}

/// A signed payment notification for the order's total.
pub fn pay_event(order: &Value, payment_id: &str) -> Event {
    let body = json!({
        "order_id": order["id"], "payment_id": payment_id,
        "amount_cents": order["total_cents"], "paid_at": integration_tests::now(),
    })
    .to_string();
    let sig = domain::payment::signature::sign(PAYMENT_SECRET.as_bytes(), body.as_bytes());
    Event::new("POST", "/payments/notify", "/payments/notify")
        .raw_body(&body)
        .header("x-signature", &sig)
}

pub fn cancel_event(user: &str, id: &str) -> Event {
    Event::new(
        "POST",
        "/orders/{id}/cancel",
        &format!("/orders/{id}/cancel"),
    )
    .path_param("id", id)
    .user(user)
}

pub fn get_order_event(user: &str, id: &str) -> Event {
    Event::new("GET", "/orders/{id}", &format!("/orders/{id}"))
        .path_param("id", id)
        .user(user)
}

/// A signed supplier callback.
pub fn supplier_event(supplier: &str, body: &Value) -> Event {
    let text = body.to_string();
    let sig = domain::payment::signature::sign(SUPPLIER_SECRET.as_bytes(), text.as_bytes());
    let path = format!("/suppliers/{supplier}/package-status");
    Event::new("POST", "/suppliers/{supplier}/package-status", &path)
        .path_param("supplier", supplier)
        .raw_body(&text)
        .header("x-signature", &sig)
}

/// The id of the first package of the order whose source is `kind`.
pub fn package_of(order: &Value, kind: &str) -> Res<String> {
    order["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["source"]["kind"] == kind))
        .and_then(|p| p["id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("no {kind} package in {order}").into())
}

pub fn id_of(order: &Value) -> Res<String> {
    order["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no id in {order}").into())
}

/// WeChat Pay at the simulator (the bench pays through the gateway route).
fn wechatpay(sim: &supplier_sim::Simulator) -> Res<suppliers::wechatpay::WechatPay> {
    Ok(suppliers::wechatpay::WechatPay {
        client: suppliers::wechatpay::WechatPayClient::new(
            &sim.wechat_url(),
            std::time::Duration::from_millis(1500),
        )
        .map_err(|e| format!("WeChat Pay client: {e}"))?,
        public_base_url: None,
    })
}

impl Stack {
    /// The message on `queue` whose body mentions `needle` (waiting up to 10 s).
    pub async fn receive_with(
        &self,
        queue: &str,
        needle: &str,
    ) -> Res<aws_sdk_sqs::types::Message> {
        let url = &self.queues[queue];
        for _ in 0..10 {
            let out = self
                .raw_sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .visibility_timeout(30)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
            if let Some(m) = out
                .messages
                .unwrap_or_default()
                .into_iter()
                .find(|msg| msg.body().is_some_and(|b| b.contains(needle)))
            {
                return Ok(m);
            }
        }
        Err(format!("{queue}: no message about {needle} arrived").into())
    }
}
