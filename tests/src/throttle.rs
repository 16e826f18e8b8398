//! A model of DynamoDB's write limit per partition, for DynamoDB Local (which
//! never throttles). It wraps the SDK's HTTP client: every partition key has
//! a token bucket of write capacity units (WCU), refilled at `wcu_per_s` up
//! to `burst_wcu`. A write whose partition is short is answered as DynamoDB
//! answers it, without reaching DynamoDB Local: PutItem, UpdateItem and
//! DeleteItem with `ProvisionedThroughputExceededException`, and
//! TransactWriteItems with `TransactionCanceledException` naming
//! `ThrottlingError` at the throttled item. A transaction is admitted whole or
//! not at all.
//!
//! Costs, for items under 1 KB: 1 WCU per single write, 2 per item a
//! transaction puts, updates or deletes. Reads, ConditionChecks and
//! BatchWriteItem are not limited. [`WriteLimit::only_keys_starting_with`]
//! limits some partitions only: a model run slower than real time would
//! otherwise throttle keys that are never hot for real (an order's own item,
//! written a few times in a few milliseconds).

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The limit every partition key is held to.
#[derive(Debug, Clone)]
pub struct WriteLimit {
    inner: Arc<Model>,
}

#[derive(Debug)]
struct Model {
    wcu_per_s: f64,
    burst_wcu: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
    throttled: AtomicU64,
    /// Only partition keys starting with this are limited, when set.
    prefix: Option<String>,
    /// Every request seen, by operation (`GetItem`, `TransactWriteItems`...).
    calls: Mutex<HashMap<String, u64>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    wcu: f64,
    at: Instant,
}

/// One item a request writes: its place in the request, its partition, its cost.
#[derive(Debug, Clone, PartialEq)]
struct Write {
    index: usize,
    pk: String,
    wcu: f64,
}

impl WriteLimit {
    /// Each partition admits `wcu_per_s` WCU a second, `burst_wcu` at once.
    pub fn per_partition(wcu_per_s: f64, burst_wcu: f64) -> Self {
        Self {
            inner: Arc::new(Model {
                wcu_per_s,
                burst_wcu: burst_wcu.max(2.0),
                buckets: Mutex::new(HashMap::new()),
                throttled: AtomicU64::new(0),
                prefix: None,
                calls: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The same limit, on the partition keys starting with `prefix` only.
    pub fn only_keys_starting_with(self, prefix: &str) -> Self {
        let m = &self.inner;
        Self {
            inner: Arc::new(Model {
                wcu_per_s: m.wcu_per_s,
                burst_wcu: m.burst_wcu,
                buckets: Mutex::new(HashMap::new()),
                throttled: AtomicU64::new(0),
                prefix: Some(prefix.to_owned()),
                calls: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// No limit at all: only counts the requests.
    pub fn unlimited() -> Self {
        // No partition key starts with a NUL: nothing is limited.
        Self::per_partition(0.0, 2.0).only_keys_starting_with("\u{0}")
    }

    /// Requests seen so far by operation; the count is reset.
    pub fn take_calls(&self) -> HashMap<String, u64> {
        std::mem::take(&mut *self.inner.calls.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Requests answered as throttled so far.
    pub fn throttled(&self) -> u64 {
        self.inner.throttled.load(Ordering::Relaxed)
    }

    /// The SDK's own HTTP client (rustls, as the SDK builds it) behind the model.
    pub fn http_client(&self) -> SharedHttpClient {
        let inner = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_https();
        SharedHttpClient::new(Limited {
            limit: self.clone(),
            inner,
        })
    }

    /// Leaves out the writes to partitions this limit does not hold.
    fn keep_limited(&self, writes: &mut Vec<Write>) {
        if let Some(p) = &self.inner.prefix {
            writes.retain(|w| w.pk.starts_with(p.as_str()));
        }
    }

    /// None when every write is admitted (and charged); else the index of
    /// the first write whose partition is short (nothing charged).
    fn admit(&self, writes: &[Write]) -> Option<usize> {
        if writes.is_empty() {
            return None;
        }
        let m = &self.inner;
        let now = Instant::now();
        let mut buckets = m.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let mut need: HashMap<&str, f64> = HashMap::new();
        for w in writes {
            *need.entry(&w.pk).or_default() += w.wcu;
        }
        for (pk, _) in need.iter() {
            let b = buckets.entry((*pk).to_owned()).or_insert(Bucket {
                wcu: m.burst_wcu,
                at: now,
            });
            let refill = (now - b.at).as_secs_f64() * m.wcu_per_s;
            b.wcu = (b.wcu + refill).min(m.burst_wcu);
            b.at = now;
        }
        if let Some(w) = writes
            .iter()
            .find(|w| buckets[&w.pk].wcu < need[w.pk.as_str()])
        {
            m.throttled.fetch_add(1, Ordering::Relaxed);
            return Some(w.index);
        }
        for (pk, wcu) in need {
            if let Some(b) = buckets.get_mut(pk) {
                b.wcu -= wcu;
            }
        }
        None
    }
}

/// The items a request writes, and how many items its transaction has.
fn writes_of(op: &str, body: &[u8]) -> (Vec<Write>, usize) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return (Vec::new(), 0);
    };
    let pk = |item: &Value| item["pk"]["S"].as_str().map(str::to_owned);
    match op {
        "TransactWriteItems" => {
            let items = v["TransactItems"].as_array().cloned().unwrap_or_default();
            let writes = items
                .iter()
                .enumerate()
                .filter_map(|(index, t)| {
                    let key = if t["Put"].is_object() {
                        &t["Put"]["Item"]
                    } else if t["Update"].is_object() {
                        &t["Update"]["Key"]
                    } else if t["Delete"].is_object() {
                        &t["Delete"]["Key"]
                    } else {
                        return None;
                    };
                    Some(Write {
                        index,
                        pk: pk(key)?,
                        wcu: 2.0,
                    })
                })
                .collect();
            (writes, items.len())
        }
        "PutItem" | "UpdateItem" | "DeleteItem" => {
            let key = if op == "PutItem" {
                &v["Item"]
            } else {
                &v["Key"]
            };
            let writes = pk(key)
                .map(|pk| Write {
                    index: 0,
                    pk,
                    wcu: 1.0,
                })
                .into_iter()
                .collect();
            (writes, 1)
        }
        _ => (Vec::new(), 0),
    }
}

/// DynamoDB's answer to a throttled write.
fn throttled(op: &str, items: usize, at: usize) -> HttpResponse {
    let body = if op == "TransactWriteItems" {
        let reasons: Vec<Value> = (0..items)
            .map(|i| {
                if i == at {
                    json!({"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity for one or more partitions."})
                } else {
                    json!({"Code": "None"})
                }
            })
            .collect();
        let codes: Vec<&str> = reasons
            .iter()
            .map(|r| r["Code"].as_str().unwrap_or("None"))
            .collect();
        json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
            "CancellationReasons": reasons,
        })
    } else {
        json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was exceeded.",
        })
    };
    let mut resp = HttpResponse::new(
        StatusCode::try_from(400).expect("a status code"),
        SdkBody::from(body.to_string()),
    );
    resp.headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    resp.headers_mut()
        .insert("x-amzn-requestid", "write-limit-model");
    resp
}

#[derive(Debug)]
struct Limited {
    limit: WriteLimit,
    inner: SharedHttpClient,
}

impl HttpClient for Limited {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LimitedConnector {
            limit: self.limit.clone(),
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct LimitedConnector {
    limit: WriteLimit,
    inner: SharedHttpConnector,
}

impl HttpConnector for LimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let op = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("")
            .to_owned();
        let (mut writes, items) = request
            .body()
            .bytes()
            .map(|b| writes_of(&op, b))
            .unwrap_or_default();
        *self
            .limit
            .inner
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(op.clone())
            .or_default() += 1;
        self.limit.keep_limited(&mut writes);
        match self.limit.admit(&writes) {
            None => self.inner.call(request),
            Some(at) => HttpConnectorFuture::ready(Ok(throttled(&op, items, at))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_is_charged_whole_or_refused_at_its_short_partition() {
        let limit = WriteLimit::per_partition(0.0, 4.0);
        let body = json!({"TransactItems": [
            {"ConditionCheck": {"Key": {"pk": {"S": "A"}}}},
            {"Update": {"Key": {"pk": {"S": "HOT"}}}},
            {"Put": {"Item": {"pk": {"S": "NEW"}}}},
        ]})
        .to_string();
        let (writes, items) = writes_of("TransactWriteItems", body.as_bytes());
        assert_eq!(items, 3);
        assert_eq!(writes.len(), 2, "the ConditionCheck writes nothing");
        assert_eq!(limit.admit(&writes), None);
        assert_eq!(limit.admit(&writes), None);
        assert_eq!(limit.admit(&writes), Some(1), "HOT has no WCU left");
        assert_eq!(limit.throttled(), 1);
        let single = writes_of(
            "UpdateItem",
            json!({"Key": {"pk": {"S": "NEW"}}}).to_string().as_bytes(),
        )
        .0;
        assert_eq!(
            limit.admit(&single),
            Some(0),
            "NEW was charged twice: 4 WCU"
        );
        let other = writes_of(
            "PutItem",
            json!({"Item": {"pk": {"S": "COLD"}}})
                .to_string()
                .as_bytes(),
        )
        .0;
        assert_eq!(limit.admit(&other), None);
    }

    #[test]
    fn buckets_refill_at_the_rate() {
        let limit = WriteLimit::per_partition(1_000.0, 2.0);
        let w = vec![Write {
            index: 0,
            pk: "P".into(),
            wcu: 2.0,
        }];
        assert_eq!(limit.admit(&w), None);
        assert_eq!(limit.admit(&w), Some(0));
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(limit.admit(&w), None);
    }

    #[test]
    fn a_prefix_limits_some_partitions_only() {
        let limit = WriteLimit::per_partition(0.0, 2.0).only_keys_starting_with("SKU#");
        let body = json!({"TransactItems": [
            {"Put": {"Item": {"pk": {"S": "ORDER#1"}}}},
            {"Update": {"Key": {"pk": {"S": "SKU#HOT#SHARD#03"}}}},
        ]})
        .to_string();
        let mut writes = writes_of("TransactWriteItems", body.as_bytes()).0;
        limit.keep_limited(&mut writes);
        assert_eq!(writes.len(), 1);
        assert_eq!(
            writes[0].index, 1,
            "the reason goes to the item's own place"
        );
        assert_eq!(limit.admit(&writes), None);
        assert_eq!(limit.admit(&writes), Some(1));
    }
}
