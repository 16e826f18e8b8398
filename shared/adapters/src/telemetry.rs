//! Logs and metrics for CloudWatch.
//!
//! Logs: JSON lines, level from `RUST_LOG` (the same locally and deployed).
//! Each line carries its spans: the runtime's invocation (`requestId`,
//! `xrayTraceId`) and, for API requests, [`crate::http::request_span`]
//! (route, order, package, case, user). No secret or address is ever logged.
//!
//! Metrics: whatever the code counts through the `metrics` facade (the
//! domain counts its events, the adapters throttles, the handlers latency)
//! is summed per invocation and printed after it as CloudWatch Embedded
//! Metric Format lines ([`Emf`]): CloudWatch turns them into metrics of the
//! namespace `METRICS_NAMESPACE` (default `OrderSystem`), no API call and
//! no agent. Dimensions are the metric's labels, kept few (function,
//! operation, supplier, storefront); a metric labelled by storefront is
//! also published without dimensions (the total across storefronts).

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// EMF takes at most 100 metrics per document and 100 values per metric.
const EMF_MAX: usize = 100;

static FUNCTION: OnceLock<&'static str> = OnceLock::new();
static GLOBAL: OnceLock<Emf> = OnceLock::new();
static COLD: AtomicBool = AtomicBool::new(true);

/// Logging and the metrics recorder of the function `function` (its crate
/// name: the `function` dimension).
pub fn init(function: &'static str) {
    let _ = FUNCTION.set(function);
    let _ = tracing::subscriber::set_global_default(logs(std::io::stdout));
    let namespace = std::env::var("METRICS_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "OrderSystem".to_owned());
    if GLOBAL.set(Emf::new(namespace)).is_ok() {
        let _ = metrics::set_global_recorder(GlobalEmf);
    }
}

/// The log lines: JSON, each with the list of its spans, to `writer`.
fn logs<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false)
        .without_time()
        .with_writer(writer)
        .finish()
}

/// The function's name, as [`init`] was given it.
pub fn function() -> &'static str {
    FUNCTION.get().copied().unwrap_or("unknown")
}

/// Runs one invocation: counts a cold start (the first), records its
/// `Latency` under `operation`, then prints what was counted.
pub async fn invocation<T>(operation: &str, f: impl Future<Output = T>) -> T {
    invocation_of(function(), operation, f).await
}

/// [`invocation`] of `function`.
pub async fn invocation_of<T>(function: &str, operation: &str, f: impl Future<Output = T>) -> T {
    let labels = [
        ("function", function.to_owned()),
        ("operation", operation.to_owned()),
    ];
    if COLD.swap(false, Ordering::Relaxed) {
        metrics::counter!("ColdStart", "function" => function.to_owned()).increment(1);
    }
    let started = Instant::now();
    let out = f.await;
    metrics::histogram!("Latency", &labels).record(started.elapsed().as_secs_f64() * 1000.0);
    flush();
    out
}

/// Counts an API answer's status: `ServerErrors` for a 5xx, `Busy` for a 503.
pub fn answered(function: &str, operation: &str, status: u16) {
    let labels = [
        ("function", function.to_owned()),
        ("operation", operation.to_owned()),
    ];
    if status >= 500 {
        metrics::counter!("ServerErrors", &labels).increment(1);
    }
    if status == 503 {
        metrics::counter!("Busy", &labels).increment(1);
    }
}

/// Prints the EMF lines of what was counted since the last flush (one
/// `write` to stdout, so no other line lands inside them).
pub fn flush() {
    if let Some(emf) = GLOBAL.get() {
        let mut buf = Vec::new();
        emf.write_to(&mut buf, domain::time::Timestamp::now().unix_millis());
        if !buf.is_empty() {
            let _ = std::io::stdout().lock().write_all(&buf);
        }
    }
}

struct GlobalEmf;

impl Recorder for GlobalEmf {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, m: &Metadata<'_>) -> Counter {
        GLOBAL
            .get()
            .map_or(Counter::noop(), |e| e.register_counter(key, m))
    }
    fn register_gauge(&self, key: &Key, m: &Metadata<'_>) -> Gauge {
        GLOBAL
            .get()
            .map_or(Gauge::noop(), |e| e.register_gauge(key, m))
    }
    fn register_histogram(&self, key: &Key, m: &Metadata<'_>) -> Histogram {
        GLOBAL
            .get()
            .map_or(Histogram::noop(), |e| e.register_histogram(key, m))
    }
}

#[derive(Debug, Default)]
struct Cell {
    /// Counters: the sum since the last flush.
    count: AtomicU64,
    /// Histograms: every value since the last flush; gauges: the last one.
    values: Mutex<Vec<f64>>,
    gauge: AtomicBool,
}

impl Cell {
    fn values(&self) -> std::sync::MutexGuard<'_, Vec<f64>> {
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.count.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.count.store(value, Ordering::Relaxed);
    }
}

impl GaugeFn for Cell {
    fn increment(&self, value: f64) {
        let mut v = self.values();
        let last = v.last().copied().unwrap_or(0.0);
        *v = vec![last + value];
    }
    fn decrement(&self, value: f64) {
        GaugeFn::increment(self, -value);
    }
    fn set(&self, value: f64) {
        *self.values() = vec![value];
    }
}

impl HistogramFn for Cell {
    fn record(&self, value: f64) {
        self.values().push(value);
    }
}

/// A `metrics` recorder that prints CloudWatch EMF: [`Emf::write_to`] writes
/// one document per set of labels with everything counted since the last
/// write, and starts over.
#[derive(Debug)]
pub struct Emf {
    namespace: String,
    cells: Mutex<BTreeMap<Key, Arc<Cell>>>,
}

impl Emf {
    pub fn new(namespace: impl Into<String>) -> Emf {
        Emf {
            namespace: namespace.into(),
            cells: Mutex::new(BTreeMap::new()),
        }
    }

    fn cell(&self, key: &Key) -> Arc<Cell> {
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        cells.entry(key.clone()).or_default().clone()
    }

    /// The EMF documents of what was counted since the last call, emptied.
    pub fn documents(&self, now_ms: i64) -> Vec<Value> {
        type Labels = Vec<(String, String)>;
        // Gauges apart: a total across storefronts means nothing for them.
        let mut groups: BTreeMap<(Labels, bool), Vec<(String, Value)>> = BTreeMap::new();
        {
            let cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
            for (key, cell) in cells.iter() {
                let count = cell.count.swap(0, Ordering::Relaxed);
                let values = std::mem::take(&mut *cell.values());
                let gauge = cell.gauge.load(Ordering::Relaxed);
                let value = if gauge || !values.is_empty() {
                    if values.is_empty() {
                        continue;
                    }
                    json!(values)
                } else if count > 0 {
                    json!(count)
                } else {
                    continue;
                };
                let labels: Labels = key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                groups
                    .entry((labels, gauge))
                    .or_default()
                    .push((key.name().to_owned(), value));
            }
        }
        let mut docs = Vec::new();
        for ((labels, gauge), metrics) in groups {
            // Histogram values beyond 100 go to further documents.
            let mut pending: Vec<(String, Vec<Value>)> = metrics
                .into_iter()
                .map(|(name, v)| match v {
                    Value::Array(a) => (name, a),
                    one => (name, vec![one]),
                })
                .collect();
            while !pending.is_empty() {
                let mut doc = Map::new();
                let mut defs = Vec::new();
                for (name, values) in pending.iter_mut().take(EMF_MAX) {
                    let take = values.len().min(EMF_MAX);
                    let chunk: Vec<Value> = values.drain(..take).collect();
                    let value = if chunk.len() == 1 && !is_series(name) {
                        chunk.into_iter().next().unwrap_or(Value::Null)
                    } else {
                        Value::Array(chunk)
                    };
                    defs.push(json!({"Name": name, "Unit": unit_of(name)}));
                    doc.insert(name.clone(), value);
                }
                pending.retain(|(_, v)| !v.is_empty());
                let keys: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
                let mut dimensions = vec![json!(keys)];
                if keys == ["storefront"] && !gauge {
                    dimensions.push(json!([]));
                }
                for (k, v) in &labels {
                    doc.insert(k.clone(), json!(v));
                }
                doc.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": now_ms,
                        "CloudWatchMetrics": [{
                            "Namespace": self.namespace,
                            "Dimensions": dimensions,
                            "Metrics": defs,
                        }],
                    }),
                );
                docs.push(Value::Object(doc));
            }
        }
        docs
    }

    /// [`Emf::documents`] as lines.
    pub fn write_to(&self, out: &mut Vec<u8>, now_ms: i64) {
        for doc in self.documents(now_ms) {
            out.extend_from_slice(doc.to_string().as_bytes());
            out.push(b'\n');
        }
    }
}

fn is_series(name: &str) -> bool {
    name.ends_with("Latency")
}

/// The unit by the metric's name: `...Latency` in milliseconds, `...Cents`
/// money (no unit), everything else a count.
fn unit_of(name: &str) -> &'static str {
    if name.ends_with("Latency") {
        "Milliseconds"
    } else if name.ends_with("Cents") {
        "None"
    } else {
        "Count"
    }
}

impl Recorder for Emf {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.cell(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let cell = self.cell(key);
        cell.gauge.store(true, Ordering::Relaxed);
        Gauge::from_arc(cell)
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.cell(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_summed_per_labels_and_start_over_after_a_write() {
        let emf = Emf::new("Test");
        metrics::with_local_recorder(&emf, || {
            metrics::counter!("order.placed", "storefront" => "a").increment(1);
            metrics::counter!("order.placed", "storefront" => "a").increment(2);
            metrics::counter!("order.placed", "storefront" => "b").increment(1);
            metrics::counter!("PaidCents", "storefront" => "a").increment(4900);
            for ms in [1.5, 2.5] {
                metrics::histogram!("Latency", "function" => "place", "operation" => "CreateOrder")
                    .record(ms);
            }
            metrics::gauge!("AttentionOpen", "storefront" => "a").set(7.0);
        });
        let docs = emf.documents(1_000);
        assert_eq!(docs.len(), 4, "{docs:#?}");
        let a = docs
            .iter()
            .find(|d| d["storefront"] == "a" && d.get("order.placed").is_some())
            .unwrap();
        assert_eq!(a["order.placed"], 3);
        assert_eq!(a["PaidCents"], 4900);
        let gauge = docs
            .iter()
            .find(|d| d.get("AttentionOpen").is_some())
            .unwrap();
        assert_eq!(gauge["AttentionOpen"], 7.0);
        assert_eq!(
            gauge["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["storefront"]]),
            "a gauge has no total across storefronts"
        );
        let aws = &a["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(aws["Namespace"], "Test");
        assert_eq!(
            aws["Dimensions"],
            json!([["storefront"], []]),
            "and the total"
        );
        let units: BTreeMap<String, String> = aws["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["Name"].as_str().unwrap().into(),
                    m["Unit"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(units["PaidCents"], "None");
        assert_eq!(units["order.placed"], "Count");
        let lat = docs.iter().find(|d| d["function"] == "place").unwrap();
        assert_eq!(lat["Latency"], json!([1.5, 2.5]));
        assert_eq!(
            lat["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["function", "operation"]])
        );
        assert_eq!(a["_aws"]["Timestamp"], 1_000);
        assert!(emf.documents(2_000).is_empty(), "nothing counted since");
    }

    #[tokio::test]
    async fn the_first_invocation_is_a_cold_start_and_each_is_timed() {
        let emf = Emf::new("Test");
        let _local = metrics::set_default_local_recorder(&emf);
        assert_eq!(invocation("forward", async { 7 }).await, 7);
        invocation("forward", async {}).await;
        answered("place", "CreateOrder", 503);
        answered("place", "CreateOrder", 422);
        let docs = emf.documents(0);
        let cold: Vec<&Value> = docs
            .iter()
            .filter(|d| d.get("ColdStart").is_some())
            .collect();
        assert_eq!(cold.len(), 1);
        assert_eq!(cold[0]["ColdStart"], 1, "once, however many invocations");
        let timed = docs.iter().find(|d| d["operation"] == "forward").unwrap();
        assert_eq!(timed["Latency"].as_array().unwrap().len(), 2);
        let api = docs
            .iter()
            .find(|d| d["operation"] == "CreateOrder")
            .unwrap();
        assert_eq!(
            (api["ServerErrors"].clone(), api["Busy"].clone()),
            (json!(1), json!(1)),
            "a 503 is both, a 422 neither"
        );
    }

    /// A log line inside an invocation names its trace: the runtime's span
    /// (what `lambda_runtime::run` wraps each invocation in) is listed.
    #[test]
    fn every_log_line_of_an_invocation_carries_its_trace_id() {
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let mut ctx = lambda_runtime::Context::default();
        ctx.request_id = "req-1".into();
        ctx.xray_trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into());
        tracing::subscriber::with_default(logs(move || out.clone()), || {
            let span = lambda_runtime::layers::trace::request_span(&ctx);
            let _inside = span.enter();
            tracing::info!(order = "o-1", "handled");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let span = &line["spans"][0];
        assert_eq!(span["requestId"], "req-1");
        assert_eq!(
            span["xrayTraceId"],
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
        );
        assert_eq!(line["fields"]["message"], "handled");
    }

    #[test]
    fn more_than_a_hundred_values_go_to_further_documents() {
        let emf = Emf::new("Test");
        metrics::with_local_recorder(&emf, || {
            for i in 0..250 {
                metrics::histogram!("Latency", "function" => "f").record(f64::from(i));
            }
        });
        let docs = emf.documents(0);
        let sizes: Vec<usize> = docs
            .iter()
            .map(|d| d["Latency"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [100, 100, 50]);
    }
}
