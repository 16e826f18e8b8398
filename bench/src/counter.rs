//! An SDK interceptor that counts every request sent (each attempt is one
//! round trip) by service and operation, with how it ended, and can capture
//! the operations' inputs so that they can be replayed with the bare SDK.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use aws_sdk_dynamodb::operation as ddb;
use aws_sdk_sqs::operation as sqs;

/// An operation's input, as the handler built it.
#[derive(Debug, Clone)]
pub enum Captured {
    GetItem(ddb::get_item::GetItemInput),
    BatchGetItem(ddb::batch_get_item::BatchGetItemInput),
    TransactWriteItems(ddb::transact_write_items::TransactWriteItemsInput),
    UpdateItem(ddb::update_item::UpdateItemInput),
    PutItem(ddb::put_item::PutItemInput),
    DeleteItem(ddb::delete_item::DeleteItemInput),
    Query(ddb::query::QueryInput),
    SendMessageBatch(sqs::send_message_batch::SendMessageBatchInput),
    /// Anything else: named, not replayable.
    Other(String),
}

/// `"DynamoDB.GetItem"` -> outcome (`ok`, or the error code; for refused
/// transactions the cancellation reason) -> requests.
pub type Counts = BTreeMap<String, BTreeMap<String, u64>>;

#[derive(Debug, Default)]
struct Inner {
    counts: Mutex<Counts>,
    capturing: AtomicBool,
    captured: Mutex<Vec<Captured>>,
}

#[derive(Debug, Clone, Default)]
pub struct Counter {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Counter {
    pub fn snapshot(&self) -> Counts {
        lock(&self.inner.counts).clone()
    }

    /// Starts capturing inputs (and forgets earlier ones).
    pub fn capture(&self, on: bool) {
        lock(&self.inner.captured).clear();
        self.inner.capturing.store(on, Ordering::SeqCst);
    }

    pub fn take_captured(&self) -> Vec<Captured> {
        std::mem::take(&mut *lock(&self.inner.captured))
    }
}

/// Requests made between two snapshots, by operation (all outcomes).
pub fn delta(before: &Counts, after: &Counts) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (op, outcomes) in after {
        let total: u64 = outcomes.values().sum();
        let was: u64 = before.get(op).map(|o| o.values().sum()).unwrap_or(0);
        if total > was {
            out.insert(op.clone(), total - was);
        }
    }
    out
}

/// Requests of one operation between two snapshots, by outcome.
pub fn outcomes(before: &Counts, after: &Counts, op: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if let Some(now) = after.get(op) {
        for (outcome, n) in now {
            let was = before
                .get(op)
                .and_then(|o| o.get(outcome))
                .copied()
                .unwrap_or(0);
            if *n > was {
                out.insert(outcome.clone(), n - was);
            }
        }
    }
    out
}

fn capture(input: &aws_smithy_runtime_api::client::interceptors::context::Input) -> Captured {
    macro_rules! try_as {
        ($($variant:ident => $ty:ty),* $(,)?) => {
            $(if let Some(i) = input.downcast_ref::<$ty>() {
                return Captured::$variant(i.clone());
            })*
        };
    }
    try_as!(
        GetItem => ddb::get_item::GetItemInput,
        BatchGetItem => ddb::batch_get_item::BatchGetItemInput,
        TransactWriteItems => ddb::transact_write_items::TransactWriteItemsInput,
        UpdateItem => ddb::update_item::UpdateItemInput,
        PutItem => ddb::put_item::PutItemInput,
        DeleteItem => ddb::delete_item::DeleteItemInput,
        Query => ddb::query::QueryInput,
        SendMessageBatch => sqs::send_message_batch::SendMessageBatchInput,
    );
    Captured::Other(format!("{input:?}").chars().take(60).collect())
}

/// How one attempt ended: `ok`, the error type the service answered, or for
/// a cancelled transaction the reasons (`ConditionalCheckFailed` wins over
/// `TransactionConflict`), or `transport` when no answer came.
fn outcome(ctx: &FinalizerInterceptorContextRef<'_>) -> String {
    let Some(resp) = ctx.response() else {
        return "transport".into();
    };
    let status = resp.status().as_u16();
    if status < 300 {
        return "ok".into();
    }
    let body: serde_json::Value = resp
        .body()
        .bytes()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    let kind = body["__type"]
        .as_str()
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
        .unwrap_or_else(|| format!("HTTP {status}"));
    if let Some(reasons) = body["CancellationReasons"].as_array() {
        let codes: Vec<&str> = reasons.iter().filter_map(|r| r["Code"].as_str()).collect();
        for code in ["ConditionalCheckFailed", "TransactionConflict"] {
            if codes.contains(&code) {
                return code.into();
            }
        }
        if let Some(code) = codes.iter().find(|c| **c != "None") {
            return (*code).to_owned();
        }
    }
    kind
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "bench-round-trip-counter"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.inner.capturing.load(Ordering::SeqCst) {
            let c = capture(context.input());
            lock(&self.inner.captured).push(c);
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map(|m| format!("{}.{}", m.service(), m.name()))
            .unwrap_or_else(|| "unknown".into());
        let outcome = outcome(context);
        *lock(&self.inner.counts)
            .entry(op)
            .or_default()
            .entry(outcome)
            .or_default() += 1;
        Ok(())
    }
}
