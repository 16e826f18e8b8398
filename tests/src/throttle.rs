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
    /// Read units a second and at once per partition, when reads are limited.
    reads: Option<(f64, f64)>,
    /// Buckets by (kind, partition key): writes and reads have their own.
    buckets: Mutex<HashMap<(Kind, String), Bucket>>,
    throttled: AtomicU64,
    throttled_reads: AtomicU64,
    /// Only partition keys starting with one of these are limited, when set.
    prefixes: Option<Vec<String>>,
    /// Every request seen, by operation (`GetItem`, `TransactWriteItems`...).
    calls: Mutex<HashMap<String, u64>>,
    /// Items read so far, by the prefix of their partition key (up to its last `#`).
    items_read: Mutex<HashMap<String, u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Write,
    Read,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    units: f64,
    at: Instant,
}

/// One item a request writes or reads: its place in the request, its
/// partition (a table's or an index's), its cost in units.
#[derive(Debug, Clone, PartialEq)]
struct Write {
    index: usize,
    pk: String,
    wcu: f64,
}

/// The attributes that key the table's global secondary indexes
/// (template.yaml): an item carrying one is written to that index's
/// partition too, whose write limit is the same.
const INDEX_KEYS: [&str; 4] = ["user_pk", "due_pk", "status_pk", "pday_pk"];

impl WriteLimit {
    /// Each partition admits `wcu_per_s` WCU a second, `burst_wcu` at once.
    pub fn per_partition(wcu_per_s: f64, burst_wcu: f64) -> Self {
        Self::build(wcu_per_s, burst_wcu, None, None)
    }

    fn build(
        wcu_per_s: f64,
        burst_wcu: f64,
        reads: Option<(f64, f64)>,
        prefixes: Option<Vec<String>>,
    ) -> Self {
        Self {
            inner: Arc::new(Model {
                wcu_per_s,
                burst_wcu: burst_wcu.max(2.0),
                reads,
                buckets: Mutex::new(HashMap::new()),
                throttled: AtomicU64::new(0),
                throttled_reads: AtomicU64::new(0),
                prefixes,
                calls: Mutex::new(HashMap::new()),
                items_read: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Reads limited too: `rcu_per_s` read units a second per partition,
    /// `burst_rcu` at once (a consistent read of an item under 4 KB costs 1,
    /// an eventually consistent one 0.5).
    pub fn with_reads(self, rcu_per_s: f64, burst_rcu: f64) -> Self {
        let m = &self.inner;
        Self::build(
            m.wcu_per_s,
            m.burst_wcu,
            Some((rcu_per_s, burst_rcu.max(1.0))),
            m.prefixes.clone(),
        )
    }

    /// The same limit, on the partition keys starting with one of `prefixes` only.
    pub fn only_keys_starting_with(self, prefixes: &[&str]) -> Self {
        let m = &self.inner;
        Self::build(
            m.wcu_per_s,
            m.burst_wcu,
            m.reads,
            Some(prefixes.iter().map(|p| (*p).to_owned()).collect()),
        )
    }

    /// No limit at all: only counts the requests.
    pub fn unlimited() -> Self {
        // No partition key starts with a NUL: nothing is limited.
        Self::per_partition(0.0, 2.0).only_keys_starting_with(&["\u{0}"])
    }

    /// Requests seen so far by operation; the count is reset.
    pub fn take_calls(&self) -> HashMap<String, u64> {
        std::mem::take(&mut *self.inner.calls.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Items read (admitted, not throttled) so far by the kind of their
    /// partition key (`SKU#`, `SKU#HOT#SHARD#`, `ORDER#`...); the count is reset.
    pub fn take_items_read(&self) -> HashMap<String, u64> {
        std::mem::take(
            &mut *self
                .inner
                .items_read
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    /// Writes answered as throttled so far.
    pub fn throttled(&self) -> u64 {
        self.inner.throttled.load(Ordering::Relaxed)
    }

    /// Reads answered as throttled so far.
    pub fn throttled_reads(&self) -> u64 {
        self.inner.throttled_reads.load(Ordering::Relaxed)
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

    /// Leaves out the items of partitions this limit does not hold.
    fn keep_limited(&self, writes: &mut Vec<Write>) {
        if let Some(ps) = &self.inner.prefixes {
            writes.retain(|w| ps.iter().any(|p| w.pk.starts_with(p.as_str())));
        }
    }

    fn count_reads(&self, reads: &[Write]) {
        let mut seen = self
            .inner
            .items_read
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for r in reads {
            let kind = match r.pk.rfind('#') {
                Some(i) => &r.pk[..=i],
                None => r.pk.as_str(),
            };
            *seen.entry(kind.to_owned()).or_default() += 1;
        }
    }

    /// None when every item is admitted (and charged); else the index of
    /// the first item whose partition is short (nothing charged).
    fn admit(&self, kind: Kind, items: &[Write]) -> Option<usize> {
        if items.is_empty() {
            return None;
        }
        let m = &self.inner;
        let (per_s, burst, counter) = match (kind, m.reads) {
            (Kind::Write, _) => (m.wcu_per_s, m.burst_wcu, &m.throttled),
            (Kind::Read, Some((r, b))) => (r, b, &m.throttled_reads),
            (Kind::Read, None) => return None,
        };
        let now = Instant::now();
        let mut buckets = m.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let mut need: HashMap<&str, f64> = HashMap::new();
        for w in items {
            *need.entry(&w.pk).or_default() += w.wcu;
        }
        for pk in need.keys() {
            let b = buckets.entry((kind, (*pk).to_owned())).or_insert(Bucket {
                units: burst,
                at: now,
            });
            let refill = (now - b.at).as_secs_f64() * per_s;
            b.units = (b.units + refill).min(burst);
            b.at = now;
        }
        if let Some(w) = items
            .iter()
            .find(|w| buckets[&(kind, w.pk.clone())].units < need[w.pk.as_str()])
        {
            counter.fetch_add(1, Ordering::Relaxed);
            return Some(w.index);
        }
        for (pk, units) in need {
            if let Some(b) = buckets.get_mut(&(kind, pk.to_owned())) {
                b.units -= units;
            }
        }
        None
    }
}

/// The index partitions an item written whole lands in: one write unit each
/// (the indexes project keys or small items).
fn index_writes(index: usize, item: &Value) -> impl Iterator<Item = Write> + '_ {
    INDEX_KEYS.iter().filter_map(move |k| {
        Some(Write {
            index,
            pk: item[*k]["S"].as_str()?.to_owned(),
            wcu: 1.0,
        })
    })
}

/// The items a request writes (table and index partitions), and how many
/// items its transaction has. An update that sets an index key through its
/// expression is not charged to the index (the store writes orders whole).
fn writes_of(op: &str, body: &[u8]) -> (Vec<Write>, usize) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return (Vec::new(), 0);
    };
    let pk = |item: &Value| item["pk"]["S"].as_str().map(str::to_owned);
    match op {
        "TransactWriteItems" => {
            let items = v["TransactItems"].as_array().cloned().unwrap_or_default();
            let mut writes = Vec::new();
            for (index, t) in items.iter().enumerate() {
                let key = if t["Put"].is_object() {
                    writes.extend(index_writes(index, &t["Put"]["Item"]));
                    &t["Put"]["Item"]
                } else if t["Update"].is_object() {
                    &t["Update"]["Key"]
                } else if t["Delete"].is_object() {
                    &t["Delete"]["Key"]
                } else {
                    continue;
                };
                if let Some(pk) = pk(key) {
                    writes.push(Write {
                        index,
                        pk,
                        wcu: 2.0,
                    });
                }
            }
            (writes, items.len())
        }
        "PutItem" | "UpdateItem" | "DeleteItem" => {
            let key = if op == "PutItem" {
                &v["Item"]
            } else {
                &v["Key"]
            };
            let mut writes: Vec<Write> = pk(key)
                .map(|pk| Write {
                    index: 0,
                    pk,
                    wcu: 1.0,
                })
                .into_iter()
                .collect();
            if op == "PutItem" {
                writes.extend(index_writes(0, &v["Item"]));
            }
            (writes, 1)
        }
        _ => (Vec::new(), 0),
    }
}

/// The items a request reads: GetItem and BatchGetItem (a consistent read
/// of an item under 4 KB costs 1 read unit, an eventually consistent one
/// 0.5). Queries and scans are not modelled.
fn reads_of(op: &str, body: &[u8]) -> Vec<Write> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let cost = |consistent: &Value| {
        if consistent.as_bool() == Some(true) {
            1.0
        } else {
            0.5
        }
    };
    let pk = |key: &Value| key["pk"]["S"].as_str().map(str::to_owned);
    match op {
        "GetItem" => pk(&v["Key"])
            .map(|pk| Write {
                index: 0,
                pk,
                wcu: cost(&v["ConsistentRead"]),
            })
            .into_iter()
            .collect(),
        "BatchGetItem" => v["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.values())
            .flat_map(|t| {
                let c = cost(&t["ConsistentRead"]);
                t["Keys"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(move |k| {
                        Some(Write {
                            index: 0,
                            pk: pk(&k)?,
                            wcu: c,
                        })
                    })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// DynamoDB's answer to a throttled read: GetItem's exception; a batch read
/// whose partitions are short comes back with every key unprocessed (the
/// model admits a batch whole or not at all, harsher than DynamoDB, which
/// serves the keys it can).
fn throttled_read(op: &str, body: &[u8]) -> HttpResponse {
    let body = if op == "BatchGetItem" {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        json!({"Responses": {}, "UnprocessedKeys": v["RequestItems"]})
    } else {
        json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was exceeded.",
        })
    };
    let status = if op == "BatchGetItem" { 200 } else { 400 };
    answer(status, body)
}

fn answer(status: u16, body: Value) -> HttpResponse {
    let mut resp = HttpResponse::new(
        StatusCode::try_from(status).expect("a status code"),
        SdkBody::from(body.to_string()),
    );
    resp.headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    resp.headers_mut()
        .insert("x-amzn-requestid", "write-limit-model");
    resp
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
    answer(400, body)
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
        let body = request.body().bytes().unwrap_or_default().to_vec();
        *self
            .limit
            .inner
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(op.clone())
            .or_default() += 1;
        let all_reads = reads_of(&op, &body);
        let mut reads = all_reads.clone();
        self.limit.keep_limited(&mut reads);
        if self.limit.admit(Kind::Read, &reads).is_some() {
            return HttpConnectorFuture::ready(Ok(throttled_read(&op, &body)));
        }
        self.limit.count_reads(&all_reads);
        let (mut writes, items) = writes_of(&op, &body);
        self.limit.keep_limited(&mut writes);
        match self.limit.admit(Kind::Write, &writes) {
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
        assert_eq!(limit.admit(Kind::Write, &writes), None);
        assert_eq!(limit.admit(Kind::Write, &writes), None);
        assert_eq!(
            limit.admit(Kind::Write, &writes),
            Some(1),
            "HOT has no WCU left"
        );
        assert_eq!(limit.throttled(), 1);
        let single = writes_of(
            "UpdateItem",
            json!({"Key": {"pk": {"S": "NEW"}}}).to_string().as_bytes(),
        )
        .0;
        assert_eq!(
            limit.admit(Kind::Write, &single),
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
        assert_eq!(limit.admit(Kind::Write, &other), None);
    }

    #[test]
    fn buckets_refill_at_the_rate() {
        let limit = WriteLimit::per_partition(1_000.0, 2.0);
        let w = vec![Write {
            index: 0,
            pk: "P".into(),
            wcu: 2.0,
        }];
        assert_eq!(limit.admit(Kind::Write, &w), None);
        assert_eq!(limit.admit(Kind::Write, &w), Some(0));
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(limit.admit(Kind::Write, &w), None);
    }

    #[test]
    fn a_prefix_limits_some_partitions_only() {
        let limit = WriteLimit::per_partition(0.0, 2.0).only_keys_starting_with(&["SKU#"]);
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
        assert_eq!(limit.admit(Kind::Write, &writes), None);
        assert_eq!(limit.admit(Kind::Write, &writes), Some(1));
    }

    #[test]
    fn every_index_of_the_template_is_charged() {
        let t = include_str!("../../template.yaml");
        let gsi = &t[t.find("GlobalSecondaryIndexes:").expect("indexes")..];
        let gsi = &gsi[..gsi
            .find("TimeToLiveSpecification")
            .expect("after the indexes")];
        let lines: Vec<&str> = gsi.lines().map(str::trim).collect();
        let hashes: Vec<&str> = lines
            .windows(2)
            .filter(|w| w[1] == "KeyType: HASH")
            .filter_map(|w| w[0].strip_prefix("- AttributeName: "))
            .collect();
        assert_eq!(hashes, INDEX_KEYS);
    }

    #[test]
    fn index_entries_are_charged_to_their_index_partition() {
        let limit = WriteLimit::per_partition(0.0, 2.0).only_keys_starting_with(&["DUE#"]);
        let body = json!({"TransactItems": [
            {"Put": {"Item": {"pk": {"S": "ORDER#1"}, "due_pk": {"S": "DUE#3"}, "user_pk": {"S": "USER#u"},
                              "status_pk": {"S": "STATUS#default#pending_payment#07"}}}},
        ]})
        .to_string();
        let mut writes = writes_of("TransactWriteItems", body.as_bytes()).0;
        assert_eq!(
            writes.len(),
            4,
            "the order, its due entry, its user entry, its status entry"
        );
        limit.keep_limited(&mut writes);
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].wcu, 1.0);
        assert_eq!(limit.admit(Kind::Write, &writes), None);
        assert_eq!(limit.admit(Kind::Write, &writes), None);
        assert_eq!(limit.admit(Kind::Write, &writes), Some(0), "DUE#3 is spent");
    }

    #[test]
    fn reads_cost_by_consistency_and_a_short_batch_comes_back_unprocessed() {
        let limit = WriteLimit::per_partition(1_000.0, 2.0).with_reads(0.0, 2.0);
        let get = |consistent: bool| {
            json!({"TableName": "t", "Key": {"pk": {"S": "SKU#A"}}, "ConsistentRead": consistent})
                .to_string()
        };
        let eventual = reads_of("GetItem", get(false).as_bytes());
        assert_eq!(eventual[0].wcu, 0.5);
        let consistent = reads_of("GetItem", get(true).as_bytes());
        assert_eq!(consistent[0].wcu, 1.0);
        assert_eq!(limit.admit(Kind::Read, &consistent), None);
        assert_eq!(limit.admit(Kind::Read, &eventual), None);
        assert_eq!(limit.admit(Kind::Read, &eventual), None);
        assert_eq!(limit.admit(Kind::Read, &eventual), Some(0), "2 units spent");
        assert_eq!(limit.throttled_reads(), 1);
        assert_eq!(
            limit.throttled(),
            0,
            "reads and writes have their own buckets"
        );
        let batch = json!({"RequestItems": {"t": {"Keys": [
            {"pk": {"S": "SKU#A"}, "sk": {"S": "SKU"}},
            {"pk": {"S": "SKU#B"}, "sk": {"S": "SKU"}},
        ], "ConsistentRead": true}}})
        .to_string();
        let reads = reads_of("BatchGetItem", batch.as_bytes());
        assert_eq!(reads.len(), 2);
        assert_eq!(limit.admit(Kind::Read, &reads), Some(0));
        let answer = throttled_read("BatchGetItem", batch.as_bytes());
        let v: Value = serde_json::from_slice(answer.body().bytes().unwrap()).unwrap();
        assert_eq!(
            v["UnprocessedKeys"]["t"]["Keys"].as_array().unwrap().len(),
            2
        );
        limit.count_reads(&reads);
        assert_eq!(limit.take_items_read().get("SKU#"), Some(&2));
    }
}
