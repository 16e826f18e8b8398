//! The stress command (issue 7): duplicate deliveries, pay/expire/cancel
//! races, faults between the steps of multi-step operations, a generated
//! corpus of malformed requests, and forged or misdirected requests, all
//! against DynamoDB Local, the SQS emulator and the supplier simulator,
//! through the real handlers. Each test prints one line of totals, and
//! fails listing every violation it found.
//!
//! Sizes are short by default (CI); `STRESS=long` (scripts/stress) raises
//! them. Short / long: `STRESS_DUP_ORDERS` 16 / 200 orders,
//! `STRESS_RACE_ORDERS` 60 / 1,000 orders, `STRESS_CRASH_ROUNDS` 1 / 10
//! rounds of every fault, `STRESS_BAD_REQUESTS` 1,000 / 10,000 requests,
//! `STRESS_FORGERIES` 100 / 1,000 extra forged signatures; each can be set
//! on its own. `STRESS_SEED` replays a run's generated inputs (the seed is
//! printed; the interleaving of concurrent calls still varies), and
//! `STRESS_TIMEOUT_SECS` bounds each test (default 120 short, 1200 long).

use adapters::DynamoStore;
use domain::config::Config;
use domain::error::StoreError;
use domain::ids::{Caller, OrderId, PackageId, UserId};
use domain::messages::{Message, Publisher};
use domain::payment::signature;
use domain::ports::{
    Change, CommitError, ForwardRequest, InterceptOutcome, Ledger, Orders, Supplier, SupplierError,
};
use domain::time::Timestamp;
use futures::future::join_all;
use futures::{FutureExt, StreamExt};
use integration_tests::answers::package_of;
use integration_tests::stack::{Stack, PAYMENT_SECRET, SUPPLIER_SECRET};
use integration_tests::{request_from_json, Event};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- sizes

fn long() -> bool {
    std::env::var("STRESS").is_ok_and(|v| v == "long")
}

/// A size from `var`, else the long or the short default.
fn size(var: &str, short: usize, long_size: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.replace([',', '_'], "").parse().ok())
        .unwrap_or(if long() { long_size } else { short })
}

fn seed() -> u64 {
    std::env::var("STRESS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_nanos() as u64)
        })
}

/// Runs one part within its time bound.
async fn bounded<F: std::future::Future<Output = ()>>(name: &str, part: F) {
    let secs = size("STRESS_TIMEOUT_SECS", 120, 1200) as u64;
    let started = Instant::now();
    // Boxed: the parts are large futures, too large for a test thread's stack.
    if tokio::time::timeout(Duration::from_secs(secs), Box::pin(part))
        .await
        .is_err()
    {
        panic!("stress {name}: not done within its time bound of {secs} s");
    }
    eprintln!(
        "stress {name}: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// 12345 -> "12,345".
fn n(v: usize) -> String {
    let digits: Vec<char> = v.to_string().chars().collect();
    let groups: Vec<String> = digits
        .rchunks(3)
        .rev()
        .map(|c| c.iter().collect())
        .collect();
    groups.join(",")
}

/// A small seeded generator (splitmix64): the same seed, the same run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// In `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Violations found, reported together at the end of a part.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) -> bool {
        if !ok {
            self.0.push(what());
        }
        ok
    }
    fn assert_none(&self, part: &str) {
        if !self.0.is_empty() {
            let shown: Vec<&String> = self.0.iter().take(30).collect();
            panic!(
                "stress {part}: {} violation(s), first {}:\n  {}",
                self.0.len(),
                shown.len(),
                shown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n  ")
            );
        }
    }
}

fn events_for<'a>(
    order: &'a domain::order::Order,
    event: &str,
) -> Vec<&'a domain::order::TimelineEntry> {
    order
        .timeline()
        .iter()
        .filter(|e| e.event == event)
        .collect()
}

fn package_events(order: &domain::order::Order, package: &str, event: &str) -> usize {
    order
        .timeline()
        .iter()
        .filter(|e| {
            e.event == event && e.package_id.as_ref().is_some_and(|p| p.as_str() == package)
        })
        .count()
}

fn package_ids(order: &Value) -> Vec<String> {
    order["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect()
}

fn order_id(order: &Value) -> String {
    order["id"].as_str().expect("an order id").to_owned()
}

/// References the supplier simulator issued for a package (one per real
/// shipment: a repeated submission with the same idempotency key gets the same).
fn references(s: &Stack, package: &str) -> HashSet<String> {
    s.sim
        .received()
        .into_iter()
        .filter(|r| r.package_id == package && r.accepted && r.kind == supplier_sim::Kind::Forward)
        .filter_map(|r| r.reference)
        .collect()
}

fn notice(order: &Value, payment_id: &str) -> Value {
    json!({
        "order_id": order["id"], "payment_id": payment_id,
        "amount_cents": order["total_cents"], "paid_at": integration_tests::now(),
    })
}

/// Mixed catalog: our warehouse, a dropship supplier, JD.
async fn mixed_catalog(s: &Stack, stock: u64) {
    s.t.put_sku("TEA", json!({"name": "Tea", "price_cents": 1300, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place", "available": stock})).await;
    s.t.put_sku("LAMP", json!({"name": "Lamp", "price_cents": 2100, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "deduct_on_pay", "available": stock})).await;
    s.t.put_sku("PHONE", json!({"name": "Phone", "price_cents": 1550, "source": {"kind": "jd"}, "stock_policy": "lock_on_place", "available": stock, "per_user_limit": 5})).await;
}

// ------------------------------------------------- 1. duplicate delivery

struct DupPlan {
    user: String,
    tea: usize,
    pay_copies: usize,
    /// A second payment of the same order (paid twice), delivered this often.
    second_payment: usize,
    reject_dropship: bool,
    /// Cancelled by its owner once with the suppliers (cancel requests and
    /// intercept messages duplicated), instead of shipped.
    cancel: bool,
    callback_copies: [usize; 6],
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_duplicate_deliveries() {
    bounded("duplicates", duplicates()).await;
}

async fn duplicates() {
    let orders = size("STRESS_DUP_ORDERS", 16, 200);
    let seed = seed();
    let mut rng = Rng::new(seed ^ 0xD0B1);
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    mixed_catalog(&s, 1_000_000).await;
    let plans: Vec<DupPlan> = (0..orders)
        .map(|i| DupPlan {
            user: format!("dup-{i}"),
            tea: rng.range(1, 3),
            pay_copies: rng.range(2, 5),
            second_payment: if rng.chance(25) { rng.range(2, 5) } else { 0 },
            reject_dropship: rng.chance(33),
            cancel: rng.chance(20),
            callback_copies: std::array::from_fn(|_| rng.range(2, 5)),
        })
        .collect();
    let mut findings = Findings::default();
    let mut phases: Vec<(&str, f64)> = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &'static str, phases: &mut Vec<(&str, f64)>| {
        phases.push((name, clock.elapsed().as_secs_f64()));
        clock = Instant::now();
    };
    let placed: Vec<Value> = futures::stream::iter(&plans)
        .map(|p| {
            s.placed(
                &p.user,
                json!([{"sku": "TEA", "qty": p.tea}, {"sku": "LAMP", "qty": 1}, {"sku": "PHONE", "qty": 1}]),
            )
        })
        .buffered(8)
        .collect()
        .await;

    lap("place", &mut phases);
    // Every payment notification 2-5 times at once (and some orders paid twice).
    let payment_answers: Vec<Vec<(u16, Value)>> = futures::stream::iter(plans.iter().zip(&placed))
        .map(|(p, order)| {
            let first = notice(order, &format!("pay-{}", p.user));
            let second = notice(order, &format!("pay-again-{}", p.user));
            let copies = std::iter::repeat_n(first, p.pay_copies)
                .chain(std::iter::repeat_n(second, p.second_payment))
                .collect::<Vec<_>>();
            let s = &s;
            async move { join_all(copies.iter().map(|b| s.notify(b))).await }
        })
        .buffered(6)
        .collect()
        .await;
    let mut payment_deliveries = 0;
    for answers in &payment_answers {
        for (status, v) in answers {
            payment_deliveries += 1;
            findings.check(
                *status == 200 || (*status == 409 && v["error"]["code"] == "already_paid"),
                || format!("payment answered {status}: {v}"),
            );
        }
    }

    lap("pay", &mut phases);
    // Every forward message 2-5 times at once, in separate batches.
    let forwarded = s.drain_copies(1, || rng.range(2, 5)).await;
    lap("forward", &mut phases);

    // Every supplier callback, staff shipment and receipt 2-5 times at once;
    // or the owner's cancel, 2-5 times at once.
    let callback_answers: Vec<Vec<(String, u16, Value)>> =
        futures::stream::iter(plans.iter().zip(&placed))
            .map(|(p, order)| {
                let s = &s;
                async move {
                    if p.cancel {
                        let id = order_id(order);
                        return join_all((0..p.callback_copies[0]).map(|_| async {
                            let (code, v) = s.cancel_order(&p.user, &id).await;
                            ("cancel".to_owned(), code, v)
                        }))
                        .await;
                    }
                    let own = package_of(order, "self");
                    let drop = package_of(order, "dropship");
                    let jd = package_of(order, "jd");
                    let c = p.callback_copies;
                    let end = if p.reject_dropship {
                        "rejected"
                    } else {
                        "received"
                    };
                    let mut calls: Vec<(String, &str, String, &str)> = Vec::new();
                    calls.extend(std::iter::repeat_n(
                        ("S-1".to_owned(), "shipped", drop.clone(), "drop"),
                        c[0],
                    ));
                    calls.extend(std::iter::repeat_n(
                        ("S-1".to_owned(), end, drop.clone(), "drop"),
                        c[1],
                    ));
                    calls.extend(std::iter::repeat_n(
                        ("jd".to_owned(), "awaiting_receipt", jd.clone(), "jd"),
                        c[2],
                    ));
                    calls.extend(std::iter::repeat_n(
                        ("jd".to_owned(), "received", jd.clone(), "jd"),
                        c[3],
                    ));
                    let suppliers =
                        join_all(calls.iter().map(|(sup, status, pkg, _)| async move {
                            let (code, v) = s.report(sup, pkg, status).await;
                            (format!("{sup} {status}"), code, v)
                        }));
                    let ships = join_all((0..c[4]).map(|_| {
                        let own = own.clone();
                        async move {
                            let (code, v) = s.ship(&own, "SF", "SF-1").await;
                            ("ship".to_owned(), code, v)
                        }
                    }));
                    let (mut out, shipped) = futures::join!(suppliers, ships);
                    out.extend(shipped);
                    let confirms = join_all((0..c[5]).map(|_| {
                        let own = own.clone();
                        async move {
                            let (code, v) = s.confirm_receipt(&p.user, &own).await;
                            ("confirm".to_owned(), code, v)
                        }
                    }))
                    .await;
                    out.extend(confirms);
                    out
                }
            })
            .buffered(6)
            .collect()
            .await;
    lap("callbacks", &mut phases);
    // Every intercept message 2-5 times at once.
    let intercepts = s.drain_copies(1, || rng.range(2, 5)).await;
    lap("intercepts", &mut phases);
    let mut callback_deliveries = 0;
    for answers in &callback_answers {
        for (what, status, v) in answers {
            callback_deliveries += 1;
            findings.check(*status == 200, || format!("{what} answered {status}: {v}"));
        }
    }

    // Exactly once, whatever was delivered twice.
    let (mut doubles, mut double_refunds, mut double_forwards, mut lost) = (0, 0, 0, 0);
    let mut double_intercepts = 0;
    let mut refund_ids: HashMap<String, i64> = HashMap::new();
    let (mut tea_sold, mut kept) = (0, 0);
    for (p, order) in plans.iter().zip(&placed) {
        let id = order_id(order);
        let stored = s.stored(&id).await;
        let paid = events_for(&stored, "paid").len();
        doubles += paid.saturating_sub(1);
        lost += usize::from(paid == 0);
        findings.check(paid == 1, || format!("{id}: {paid} `paid` events"));
        let intercepted = [
            "package_forwarded",
            "package_intercept_requested",
            "package_intercepted",
        ];
        let expected_events: Vec<(String, Vec<&str>)> = if p.cancel {
            package_ids(order)
                .into_iter()
                .map(|pkg| (pkg, intercepted.to_vec()))
                .collect()
        } else {
            vec![
                (
                    package_of(order, "self"),
                    vec!["package_forwarded", "package_shipped", "package_received"],
                ),
                (
                    package_of(order, "dropship"),
                    vec![
                        "package_forwarded",
                        "package_shipped",
                        if p.reject_dropship {
                            "package_rejected"
                        } else {
                            "package_received"
                        },
                    ],
                ),
                (
                    package_of(order, "jd"),
                    vec!["package_forwarded", "package_shipped", "package_received"],
                ),
            ]
        };
        for (pkg, wanted) in &expected_events {
            for event in wanted {
                let count = package_events(&stored, pkg, event);
                doubles += count.saturating_sub(1);
                lost += usize::from(count == 0);
                findings.check(count == 1, || format!("{pkg}: {count} `{event}` events"));
            }
            let forwards = s.sim.forwards_for(pkg);
            double_forwards += forwards.saturating_sub(1);
            lost += usize::from(forwards == 0);
            findings.check(forwards == 1, || {
                format!("{pkg}: the supplier took {forwards} forwards")
            });
            let stops = s.sim.intercepts_for(pkg);
            double_intercepts += stops.saturating_sub(1);
            findings.check(stops == usize::from(p.cancel), || {
                format!("{pkg}: the supplier was asked to stop it {stops} times")
            });
        }
        if p.cancel {
            let ends = events_for(&stored, "cancelled").len();
            doubles += ends.saturating_sub(1);
            findings.check(ends == 1, || format!("{id}: {ends} `cancelled` events"));
        } else {
            tea_sold += p.tea;
            kept += 1;
        }
        // Refunds: one per payment too many, one per rejected or intercepted package.
        let refunds = stored.refunds();
        let ids: HashSet<&str> = refunds.iter().map(|r| r.id.as_str()).collect();
        double_refunds += refunds.len() - ids.len();
        let expected = usize::from(p.second_payment > 0)
            + if p.cancel {
                3
            } else {
                usize::from(p.reject_dropship)
            };
        double_refunds += refunds.len().saturating_sub(expected);
        lost += expected.saturating_sub(refunds.len());
        findings.check(
            refunds.len() == expected && ids.len() == refunds.len(),
            || format!("{id}: refunds {refunds:?}, expected {expected}"),
        );
        let total = order["total_cents"].as_u64().unwrap();
        let received = stored.received_cents().0;
        findings.check(
            received == total * (1 + u64::from(p.second_payment > 0)),
            || format!("{id}: received {received} of total {total}"),
        );
        findings.check(stored.refunded_cents() <= stored.received_cents(), || {
            format!("{id}: refunded more than received")
        });
        let end = if p.cancel { "cancelled" } else { "completed" };
        findings.check(stored.status().as_str() == end, || {
            format!("{id}: ended {}, expected {end}", stored.status().as_str())
        });
        if p.cancel {
            findings.check(stored.refunded_cents() == stored.received_cents(), || {
                format!(
                    "{id}: cancelled, refunded {} of {}",
                    stored.refunded_cents().0,
                    stored.received_cents().0
                )
            });
        }
        findings.check(stored.outbox().is_empty(), || {
            format!("{id}: outbox left {:?}", stored.outbox())
        });
        for r in refunds {
            refund_ids.insert(r.id.clone(), r.amount_cents.0 as i64);
        }
    }
    // Stock: what was sold stays sold (rejected goods are not restocked),
    // what was intercepted came back, once.
    for (sku, sold) in [("TEA", tea_sold), ("LAMP", kept), ("PHONE", kept)] {
        let left = s.t.available(sku).await;
        findings.check(left + sold as i64 == 1_000_000, || {
            format!("{sku}: {left} left + {sold} sold != 1,000,000")
        });
    }
    // Every refund reached the refund queue, with its amount; no other did.
    let (sent, dup_sent) = refunds_sent(&s, &refund_ids, &mut findings).await;
    eprintln!(
        "stress duplicates: {} orders ({} cancelled at their suppliers), {} deliveries ({} payment, {} forward or intercept, {} callback or cancel), \
         {doubles} double transitions, {double_refunds} double refunds, {double_forwards} double forwards, \
         {double_intercepts} double intercepts, \
         {lost} lost; {} refunds recorded, {sent} sent ({dup_sent} re-sent copies); phases {}; seed {seed}",
        n(orders),
        n(plans.iter().filter(|p| p.cancel).count()),
        n(payment_deliveries + forwarded.delivered + intercepts.delivered + callback_deliveries),
        n(payment_deliveries),
        n(forwarded.delivered + intercepts.delivered),
        n(callback_deliveries),
        n(refund_ids.len()),
        phases
            .iter()
            .map(|(k, v)| format!("{k} {v:.1} s"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    findings.assert_none("duplicates");
}

/// Reads the refund queue: each recorded refund must be there with its
/// amount. Returns (distinct refunds sent, extra copies).
async fn refunds_sent(
    s: &Stack,
    recorded: &HashMap<String, i64>,
    findings: &mut Findings,
) -> (usize, usize) {
    let bodies = s.take_all("RefundQueue").await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for b in &bodies {
        let id = b["refund_id"].as_str().unwrap_or_default().to_owned();
        match recorded.get(&id) {
            Some(amount) => {
                findings.check(b["amount_cents"].as_i64() == Some(*amount), || {
                    format!("refund message {b} does not match the recorded {amount}")
                });
            }
            None => {
                findings.check(false, || format!("a refund message nobody recorded: {b}"));
            }
        }
        *seen.entry(id).or_default() += 1;
    }
    for id in recorded.keys() {
        findings.check(seen.contains_key(id), || {
            format!("refund {id} never reached the refund queue")
        });
    }
    let extra = seen.values().map(|c| c - 1).sum();
    (seen.len(), extra)
}

// ---------------------------------------- 2. pay vs expire vs cancel

struct RacePlan {
    user: String,
    hot: usize,
    dop: usize,
    tea: usize,
    /// Deliveries of the payment (1 = once).
    pay_copies: usize,
    /// A second, different payment of the same order.
    second_payment: bool,
    cancel: bool,
    lags_ms: [u64; 3],
}

struct RaceRun {
    user: String,
    id: String,
    total: u64,
    payments: Vec<String>,
    answers: Vec<(String, u16, Value)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_pay_expire_cancel_race() {
    bounded("race", race()).await;
}

async fn race() {
    let orders = size("STRESS_RACE_ORDERS", 60, 1000);
    let seed = seed();
    let mut rng = Rng::new(seed ^ 0x8ACE);
    // Deadline = placement time: every order is due the moment it exists.
    let s = Stack::spawn(Config {
        payment_ttl_secs: 0,
        ..Config::default()
    })
    .await;
    let initial: u64 = 1_000_000;
    // Scarce pay-time stock: some payments find it gone and close the order.
    let dop_initial = (orders / 8).max(2) as u64;
    s.t.put_sku("HOT", json!({"name": "Hot", "price_cents": 100, "source": {"kind": "jd"}, "stock_policy": "lock_on_place", "available": initial, "per_user_limit": 6})).await;
    s.t.put_sku("DOP", json!({"name": "Dop", "price_cents": 50, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "deduct_on_pay", "available": dop_initial})).await;
    s.t.put_sku("TEA", json!({"name": "Tea", "price_cents": 70, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place", "available": initial})).await;
    let plans: Vec<RacePlan> = (0..orders)
        .map(|i| RacePlan {
            user: format!("racer-{i}"),
            hot: rng.range(1, 3),
            dop: rng.below(2),
            tea: rng.below(3),
            pay_copies: rng.range(1, 3),
            second_payment: rng.chance(15),
            cancel: rng.chance(60),
            lags_ms: std::array::from_fn(|_| rng.below(30) as u64),
        })
        .collect();
    let runs: Vec<RaceRun> = futures::stream::iter(&plans)
        .map(|p| race_one(&s, p))
        .buffer_unordered(10)
        .collect()
        .await;
    let last = s.sweep().await;

    let mut findings = Findings::default();
    let mut by_end: BTreeMap<String, usize> = BTreeMap::new();
    let (mut hot_held, mut tea_held, mut dop_sold) = (0u64, 0u64, 0u64);
    let mut refund_ids: HashMap<String, i64> = HashMap::new();
    let mut payments = 0;
    // Runs finished in any order: find each plan's run by its user.
    let runs_by_user: HashMap<&str, &RaceRun> = runs.iter().map(|r| (r.user.as_str(), r)).collect();
    for p in &plans {
        let run = runs_by_user[p.user.as_str()];
        let stored = s.stored(&run.id).await;
        let status = stored.status().as_str();
        let reason = stored.close_reason().unwrap_or("-");
        *by_end.entry(format!("{status} ({reason})")).or_default() += 1;
        let live = !matches!(status, "cancelled" | "closed");
        let paid_live = live && stored.is_paid();
        findings.check(
            matches!(status, "cancelled" | "closed" | "awaiting_shipment"),
            || format!("{}: ended {status} ({reason})", run.id),
        );
        for pkg in stored.packages() {
            let ps = pkg.status().as_str();
            let legal = if live {
                ps == "pending"
            } else {
                ps == "cancelled"
            };
            findings.check(legal, || {
                format!("{}: order {status}, package {ps}", run.id)
            });
        }
        for (what, code, v) in &run.answers {
            let ok = match what.as_str() {
                "pay" => {
                    *code == 200
                        || (*code == 409
                            && matches!(
                                v["error"]["code"].as_str(),
                                Some("order_closed" | "already_paid" | "out_of_stock")
                            ))
                }
                "cancel" => *code == 200 || (*code == 409 && v["error"]["code"] == "order_closed"),
                _ => *code < 300,
            };
            findings.check(ok, || format!("{}: {what} answered {code}: {v}", run.id));
        }
        // Every payment is the order's payment or a refund.
        let mut received = 0u64;
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        for pid in &run.payments {
            payments += 1;
            match s.t.app.store.payment(pid).await.expect("read payment") {
                Some(rec) => {
                    findings.check(rec.order_id.as_str() == run.id, || {
                        format!("{pid} recorded on another order")
                    });
                    received += rec.amount_cents.0;
                    if rec.outcome == "paid" {
                        findings.check(
                            stored.payment().is_some_and(|pay| &pay.payment_id == pid),
                            || format!("{}: {pid} paid it but is not its payment", run.id),
                        );
                    }
                    *outcomes.entry(rec.outcome).or_default() += 1;
                }
                None => {
                    findings.check(false, || {
                        format!("{}: payment {pid} was not recorded", run.id)
                    });
                }
            }
        }
        findings.check(stored.received_cents().0 == received, || {
            format!(
                "{}: received {} but payments sum to {received}",
                run.id,
                stored.received_cents().0
            )
        });
        findings.check(
            outcomes.get("paid").copied().unwrap_or(0) == usize::from(stored.is_paid()),
            || {
                format!(
                    "{}: outcomes {outcomes:?}, paid {}",
                    run.id,
                    stored.is_paid()
                )
            },
        );
        let reasons = |r: &str| stored.refunds().iter().filter(|x| x.reason == r).count();
        for (outcome, reason) in [
            ("order_closed", "paid_after_close"),
            ("already_paid", "duplicate_payment"),
            ("out_of_stock", "out_of_stock"),
        ] {
            let want = outcomes.get(outcome).copied().unwrap_or(0);
            findings.check(reasons(reason) == want, || {
                format!(
                    "{}: {want} payments ended {outcome}, {} refunds for {reason}",
                    run.id,
                    reasons(reason)
                )
            });
        }
        let refunded = stored.refunded_cents().0;
        findings.check(refunded <= received, || {
            format!("{}: refunded {refunded} of {received}", run.id)
        });
        if live {
            findings.check(received - refunded.min(received) == run.total, || {
                format!(
                    "{}: paid order keeps {} of total {}",
                    run.id,
                    received - refunded,
                    run.total
                )
            });
        } else {
            findings.check(refunded == received, || {
                format!(
                    "{}: ended with {refunded} refunded of {received} received",
                    run.id
                )
            });
        }
        let ids: HashSet<&str> = stored.refunds().iter().map(|r| r.id.as_str()).collect();
        findings.check(ids.len() == stored.refunds().len(), || {
            format!("{}: refund ids repeat", run.id)
        });
        for r in stored.refunds() {
            refund_ids.insert(r.id.clone(), r.amount_cents.0 as i64);
        }
        findings.check(stored.outbox().is_empty(), || {
            format!("{}: outbox left", run.id)
        });
        // Stock and limits held by live orders only.
        if live {
            hot_held += p.hot as u64;
            tea_held += p.tea as u64;
        }
        if paid_live {
            dop_sold += p.dop as u64;
        }
        let limit = s.limit_held(&p.user, "HOT").await;
        let want = if live { p.hot as i64 } else { 0 };
        findings.check(limit == want, || {
            format!("{}: limit counter {limit}, live units {want}", run.id)
        });
    }
    let (hot, tea, dop) = (
        s.t.available("HOT").await as u64,
        s.t.available("TEA").await as u64,
        s.t.available("DOP").await as u64,
    );
    findings.check(hot + hot_held == initial, || {
        format!("HOT: {initial} initial != {hot} available + {hot_held} held")
    });
    findings.check(tea + tea_held == initial, || {
        format!("TEA: {initial} initial != {tea} available + {tea_held} held")
    });
    findings.check(dop + dop_sold == dop_initial, || {
        format!("DOP: {dop_initial} initial != {dop} available + {dop_sold} sold")
    });
    let (sent, _) = refunds_sent(&s, &refund_ids, &mut findings).await;
    let ends: Vec<String> = by_end.iter().map(|(k, v)| format!("{v} {k}")).collect();
    eprintln!(
        "stress race: {} orders, {} payments, {} refunds ({} sent); ends: {}; stock conserved: \
         HOT {initial} = {hot} + {hot_held}, TEA {initial} = {tea} + {tea_held}, DOP {dop_initial} = {dop} + {dop_sold} sold; \
         last sweep expired {}; {} failures; seed {seed}",
        n(orders),
        n(payments),
        n(refund_ids.len()),
        n(sent),
        ends.join(", "),
        last.expired,
        findings.0.len(),
    );
    findings.assert_none("race");
}

async fn race_one(s: &Stack, p: &RacePlan) -> RaceRun {
    let mut lines = vec![json!({"sku": "HOT", "qty": p.hot})];
    if p.dop > 0 {
        lines.push(json!({"sku": "DOP", "qty": p.dop}));
    }
    if p.tea > 0 {
        lines.push(json!({"sku": "TEA", "qty": p.tea}));
    }
    let order = s.placed(&p.user, json!(lines)).await;
    let id = order_id(&order);
    let mut payments = vec![format!("pay-{id}")];
    if p.second_payment {
        payments.push(format!("pay2-{id}"));
    }
    let lag = |i: usize| tokio::time::sleep(Duration::from_millis(p.lags_ms[i]));
    let pay = async {
        lag(0).await;
        let bodies: Vec<Value> = payments
            .iter()
            .flat_map(|pid| std::iter::repeat_n(notice(&order, pid), p.pay_copies))
            .collect();
        join_all(bodies.iter().map(|b| s.notify(b))).await
    };
    let cancel = async {
        lag(1).await;
        if p.cancel {
            Some(s.cancel_order(&p.user, &id).await)
        } else {
            None
        }
    };
    let sweep = async {
        lag(2).await;
        s.sweep().await
    };
    let (paid, cancelled, _) = tokio::join!(pay, cancel, sweep);
    let mut answers: Vec<(String, u16, Value)> = Vec::new();
    answers.extend(paid.into_iter().map(|(c, v)| ("pay".to_owned(), c, v)));
    answers.extend(cancelled.map(|(c, v)| ("cancel".to_owned(), c, v)));
    RaceRun {
        user: p.user.clone(),
        id,
        total: order["total_cents"].as_u64().unwrap(),
        payments,
        answers,
    }
}

// ------------------------------------------------- 3. crash consistency

/// A queue that is down: the transaction committed, the send fails.
struct Down;

impl Publisher for Down {
    async fn publish(&self, _: &[Message], _: Timestamp) -> Result<(), StoreError> {
        Err(StoreError::Failed("fault: the queue is down".into()))
    }
}

/// Takes messages and drops them (the test delivers by hand instead).
struct Nowhere;

impl Publisher for Nowhere {
    async fn publish(&self, _: &[Message], _: Timestamp) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The real store, with a fault at one step.
struct Faulty {
    inner: DynamoStore,
    /// The messages were sent, but the process died before taking them out of the outbox.
    fail_clear: bool,
    /// The supplier took this package, but recording its reference fails.
    fail_recording: Option<PackageId>,
    /// The placement was written, but its answer never came back.
    lose_placement_answer: bool,
    faults: AtomicUsize,
}

impl Faulty {
    fn new(inner: &DynamoStore) -> Self {
        Faulty {
            inner: inner.clone(),
            fail_clear: false,
            fail_recording: None,
            lose_placement_answer: false,
            faults: AtomicUsize::new(0),
        }
    }
}

impl domain::ports::Catalog for Faulty {
    async fn get_sku(
        &self,
        sku: &domain::ids::SkuId,
    ) -> Result<Option<domain::catalog::Sku>, StoreError> {
        self.inner.get_sku(sku).await
    }
    async fn get_skus(
        &self,
        skus: &[domain::ids::SkuId],
    ) -> Result<Vec<domain::catalog::Sku>, StoreError> {
        self.inner.get_skus(skus).await
    }
    async fn get_skus_recent(
        &self,
        skus: &[domain::ids::SkuId],
    ) -> Result<Vec<domain::catalog::Sku>, StoreError> {
        self.inner.get_skus_recent(skus).await
    }
    async fn mark_sold_out(
        &self,
        sku: &domain::ids::SkuId,
        restocks: u64,
    ) -> Result<bool, StoreError> {
        self.inner.mark_sold_out(sku, restocks).await
    }
    async fn put_sku(
        &self,
        u: &domain::catalog::SkuUpdate,
    ) -> Result<domain::catalog::Sku, StoreError> {
        self.inner.put_sku(u).await
    }
}

impl domain::ports::Storefronts for Faulty {
    async fn list_storefronts(&self) -> Result<Vec<domain::storefront::Storefront>, StoreError> {
        self.inner.list_storefronts().await
    }
    async fn get_storefront(
        &self,
        id: &domain::storefront::StorefrontId,
    ) -> Result<Option<domain::storefront::Storefront>, StoreError> {
        self.inner.get_storefront(id).await
    }
    async fn put_storefront(&self, sf: &domain::storefront::Storefront) -> Result<(), StoreError> {
        self.inner.put_storefront(sf).await
    }
}

impl Orders for Faulty {
    async fn idempotency(
        &self,
        user: &UserId,
        key: &domain::ids::IdempotencyKey,
    ) -> Result<Option<domain::ports::IdempotencyRecord>, StoreError> {
        self.inner.idempotency(user, key).await
    }
    async fn create_order(
        &self,
        order: &domain::order::Order,
        idempotency: Option<&domain::ports::IdempotencyRecord>,
    ) -> Result<(), domain::ports::CreateOrderError> {
        self.inner.create_order(order, idempotency).await?;
        if self.lose_placement_answer {
            self.faults.fetch_add(1, Ordering::SeqCst);
            return Err(
                StoreError::Failed("the connection dropped before the answer".into()).into(),
            );
        }
        Ok(())
    }
    async fn get_order(&self, id: &OrderId) -> Result<Option<domain::order::Order>, StoreError> {
        self.inner.get_order(id).await
    }
    async fn list_orders(
        &self,
        user: &UserId,
        storefront: Option<&domain::storefront::StorefrontId>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<domain::ports::OrderPage, domain::ports::ListError> {
        self.inner
            .list_orders(user, storefront, limit, cursor)
            .await
    }
}

impl Ledger for Faulty {
    async fn commit(&self, c: &Change<'_>) -> Result<(), CommitError> {
        if let Some(p) = &self.fail_recording {
            if c.order
                .package(p)
                .is_some_and(|p| p.supplier_ref().is_some())
            {
                self.faults.fetch_add(1, Ordering::SeqCst);
                return Err(CommitError::Store(StoreError::Failed(
                    "fault: died before recording the supplier's reference".into(),
                )));
            }
        }
        self.inner.commit(c).await
    }
    async fn payment(&self, id: &str) -> Result<Option<domain::ports::PaymentRecord>, StoreError> {
        self.inner.payment(id).await
    }
    async fn payments_on(
        &self,
        storefront: &domain::storefront::StorefrontId,
        channel: domain::payment::refund::PaymentChannel,
        date: &str,
    ) -> Result<Vec<domain::ports::PaymentRecord>, domain::error::StoreError> {
        self.inner.payments_on(storefront, channel, date).await
    }
    async fn due_orders(&self, now: Timestamp, limit: u32) -> Result<Vec<OrderId>, StoreError> {
        self.inner.due_orders(now, limit).await
    }
    async fn clear_outbox(&self, order: &domain::order::Order) -> Result<bool, StoreError> {
        if self.fail_clear {
            self.faults.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Failed(
                "fault: died after sending, before clearing the outbox".into(),
            ));
        }
        self.inner.clear_outbox(order).await
    }
    async fn get_case(
        &self,
        id: &domain::ids::CaseId,
    ) -> Result<Option<domain::after_sales::case::AfterSalesCase>, StoreError> {
        self.inner.get_case(id).await
    }
    fn out_of_time(&self) -> bool {
        self.inner.out_of_time()
    }
}

/// A supplier call in a Lambda that dies: before calling the supplier, or
/// after the supplier took the package but before its answer is used.
struct Crashing<'a> {
    inner: &'a suppliers::SupplierRouter,
    after_call: bool,
    reached: tokio::sync::Notify,
}

impl Supplier for Crashing<'_> {
    async fn forward(&self, req: &ForwardRequest) -> Result<String, SupplierError> {
        if self.after_call {
            let answer = self.inner.forward(req).await;
            assert!(answer.is_ok(), "the supplier took it: {answer:?}");
        }
        self.reached.notify_one();
        std::future::pending().await
    }
    async fn intercept(
        &self,
        package: &PackageId,
        source: &domain::catalog::Source,
        supplier_ref: &str,
    ) -> Result<InterceptOutcome, SupplierError> {
        self.inner.intercept(package, source, supplier_ref).await
    }
}

fn forward_message(package: &str, now: Timestamp) -> Message {
    Message::Forward {
        package_id: PackageId::parse(package).unwrap(),
        not_before: now,
    }
}

/// Delivers a forward message to a Lambda that dies at the fault point.
async fn crash_forward(s: &Stack, package: &str, after_call: bool, now: Timestamp) {
    let supplier = Crashing {
        inner: &s.forward.suppliers,
        after_call,
        reached: tokio::sync::Notify::new(),
    };
    let message = forward_message(package, now);
    tokio::select! {
        r = domain::fulfilment::fulfil::handle(&s.t.app.store, &Nowhere, &supplier, &message, now) => {
            panic!("the dying forward returned {r:?}")
        }
        () = supplier.reached.notified() => {}
    }
}

/// Redelivers a forward message at `now` (SQS brings it back after its
/// visibility timeout) to a healthy Lambda.
async fn redeliver(
    s: &Stack,
    package: &str,
    now: Timestamp,
) -> Result<domain::fulfilment::fulfil::Handled, domain::fulfilment::fulfil::FulfilError> {
    let message = forward_message(package, now);
    domain::fulfilment::fulfil::handle(
        &s.t.app.store,
        &s.forward.publisher,
        &s.forward.suppliers,
        &message,
        now,
    )
    .await
}

/// Pays `order` in full through the domain, with `publisher` standing in for the queue.
async fn pay_with<S: Ledger + domain::ports::Catalog, P: Publisher>(
    s: &Stack,
    store: &S,
    publisher: &P,
    order: &Value,
    now: Timestamp,
) -> domain::order::Order {
    let n = domain::payment::pay::PaymentNotice {
        order_id: OrderId::parse(&order_id(order)).unwrap(),
        payment_id: format!("pay-{}", order_id(order)),
        amount_cents: domain::money::Cents(order["total_cents"].as_u64().unwrap()),
        paid_at: now,
        storefront: Default::default(),
        channel: Default::default(),
    };
    domain::payment::pay::apply_payment(store, publisher, &s.t.app.config, &n, now)
        .await
        .expect("the payment is taken")
        .order
}

fn owner(user: &str) -> Caller {
    Caller::buyer(UserId::parse(user).unwrap())
}

/// One converged package: forwarded once, under the one reference the
/// supplier issued, said once on the timeline.
async fn forwarded_once(
    s: &Stack,
    f: &mut Findings,
    order: &str,
    package: &str,
    what: &str,
) -> bool {
    let stored = s.stored(order).await;
    let p = stored.package(&PackageId::parse(package).unwrap()).unwrap();
    let refs = references(s, package);
    let events = package_events(&stored, package, "package_forwarded");
    f.check(
        p.status().as_str() == "forwarded"
            && refs.len() == 1
            && p.supplier_ref().is_some_and(|r| refs.contains(r))
            && events == 1
            && p.forwarding_until().is_none(),
        || {
            format!(
                "{what}: {package} is {} with ref {:?}, the supplier issued {refs:?}, {events} `package_forwarded`",
                p.status().as_str(),
                p.supplier_ref()
            )
        },
    )
}

/// One round of fault injection: its user, its clock, its order lines.
struct CrashRound<'a> {
    s: &'a Stack,
    user: String,
    now: Timestamp,
    /// After the forward's claim ran out.
    later: Timestamp,
    round: usize,
    mixed: Value,
    lamp: Value,
}

/// A. Paid; the queue is down after the commit: the sweep publishes.
async fn crash_a(c: &CrashRound<'_>, f: &mut Findings) -> (&'static str, bool) {
    let s = c.s;
    let store = &c.s.t.app.store;
    let user = c.user.as_str();
    let now = c.now;
    let mixed = &c.mixed;
    let order = s.placed(user, mixed.clone()).await;
    let id = order_id(&order);
    let paid = pay_with(s, store, &Down, &order, now).await;
    f.check(paid.outbox().len() == 3, || {
        format!("A {id}: outbox {:?}", paid.outbox())
    });
    let swept = s.sweep_at(now.plus_secs(60)).await;
    f.check(swept.republished >= 1, || {
        format!("A {id}: sweep {swept:?}")
    });
    s.drain(1).await;
    let mut ok = true;
    for pkg in package_ids(&order) {
        ok &= forwarded_once(s, f, &id, &pkg, "A queue down after payment").await;
        ok &= f.check(s.sim.forwards_for(&pkg) == 1, || {
            format!("A {pkg}: {} forwards", s.sim.forwards_for(&pkg))
        });
    }
    ok &= f.check(s.stored(&id).await.outbox().is_empty(), || {
        format!("A {id}: outbox left")
    });
    ("queue down after payment", ok)
}

/// B. Paid and sent, but the outbox was never cleared: sent again, taken once.
async fn crash_b(c: &CrashRound<'_>, f: &mut Findings) -> (&'static str, bool) {
    let s = c.s;
    let store = &c.s.t.app.store;
    let user = c.user.as_str();
    let now = c.now;
    let mixed = &c.mixed;
    let order = s.placed(user, mixed.clone()).await;
    let id = order_id(&order);
    let faulty = Faulty {
        fail_clear: true,
        ..Faulty::new(store)
    };
    let paid = pay_with(s, &faulty, &s.forward.publisher, &order, now).await;
    f.check(
        paid.outbox().len() == 3 && faulty.faults.load(Ordering::SeqCst) == 1,
        || format!("B {id}: outbox {:?}", s.sim.received().len()),
    );
    let swept = s.sweep_at(now.plus_secs(60)).await;
    f.check(swept.republished >= 1, || {
        format!("B {id}: sweep {swept:?}")
    });
    let copies = s.drain(1).await;
    let mut ok = f.check(copies >= 6, || {
        format!("B {id}: only {copies} messages, expected each twice")
    });
    for pkg in package_ids(&order) {
        ok &= forwarded_once(s, f, &id, &pkg, "B sent twice").await;
        ok &= f.check(s.sim.forwards_for(&pkg) == 1, || {
            format!("B {pkg}: {} forwards", s.sim.forwards_for(&pkg))
        });
    }
    ok &= f.check(s.stored(&id).await.outbox().is_empty(), || {
        format!("B {id}: outbox left")
    });
    ("sent, outbox not cleared", ok)
}

/// C. A paid cancel; the queue is down: the refund is published by the sweep.
async fn crash_c(c: &CrashRound<'_>, f: &mut Findings) -> (&'static str, bool) {
    let s = c.s;
    let store = &c.s.t.app.store;
    let user = c.user.as_str();
    let now = c.now;
    let mixed = &c.mixed;
    let order = s.placed(user, mixed.clone()).await;
    let id = order_id(&order);
    let tea_before = s.t.available("TEA").await;
    let paid = pay_with(s, store, &Nowhere, &order, now).await;
    let cancelled = domain::order::cancel::cancel_order(
        store,
        &Down,
        &s.t.app.config,
        &owner(user),
        &paid.id,
        None,
        now,
    )
    .await
    .expect("cancelled");
    f.check(
        cancelled.status().as_str() == "cancelled" && cancelled.outbox().len() == 1,
        || {
            format!(
                "C {id}: {} outbox {:?}",
                cancelled.status().as_str(),
                cancelled.outbox()
            )
        },
    );
    let swept = s.sweep_at(now.plus_secs(60)).await;
    let refunds = s.take_all("RefundQueue").await;
    let stored = s.stored(&id).await;
    let ok = f.check(swept.republished >= 1, || {
        format!("C {id}: sweep {swept:?}")
    }) & f.check(
        refunds.len() == 1
            && refunds[0]["order_id"] == id.as_str()
            && refunds[0]["amount_cents"] == order["total_cents"],
        || format!("C {id}: refund queue {refunds:?}"),
    ) & f.check(
        stored.outbox().is_empty() && stored.refunded_cents() == stored.received_cents(),
        || {
            format!(
                "C {id}: outbox {:?}, refunded {}",
                stored.outbox(),
                stored.refunded_cents().0
            )
        },
    ) & f.check(s.t.available("TEA").await == tea_before + 1, || {
        format!("C {id}: TEA not given back")
    });
    ("queue down after a paid cancel", ok)
}

/// D. A supplier rejects a package; the queue is down: the sweep publishes its refund.
async fn crash_d(c: &CrashRound<'_>, f: &mut Findings) -> (&'static str, bool) {
    let s = c.s;
    let store = &c.s.t.app.store;
    let user = c.user.as_str();
    let now = c.now;
    let mixed = &c.mixed;
    let order = s.placed(user, mixed.clone()).await;
    let id = order_id(&order);
    pay_with(s, store, &s.forward.publisher, &order, now).await;
    s.drain(1).await;
    let drop = package_of(&order, "dropship");
    let cb = domain::fulfilment::packages::StatusCallback {
        package_id: PackageId::parse(&drop).unwrap(),
        status: domain::fulfilment::packages::CallbackStatus::Rejected,
        tracking_no: None,
        at: None,
    };
    domain::fulfilment::packages::supplier_status(store, &Down, &s.t.app.config, "S-1", &cb, now)
        .await
        .expect("rejected");
    let swept = s.sweep_at(now.plus_secs(60)).await;
    let refunds = s.take_all("RefundQueue").await;
    let stored = s.stored(&id).await;
    let ok = f.check(swept.republished >= 1, || {
        format!("D {id}: sweep {swept:?}")
    }) & f.check(
        refunds.len() == 1
            && stored.refunds().len() == 1
            && refunds[0]["refund_id"] == stored.refunds()[0].id.as_str(),
        || {
            format!(
                "D {id}: refund queue {refunds:?}, recorded {:?}",
                stored.refunds()
            )
        },
    ) & f.check(stored.outbox().is_empty(), || {
        format!("D {id}: outbox left")
    });
    ("queue down after a rejection", ok)
}

/// E. The forward claimed the package, then died before calling the supplier.
async fn crash_e(c: &CrashRound<'_>, f: &mut Findings) -> (&'static str, bool) {
    let s = c.s;
    let store = &c.s.t.app.store;
    let user = c.user.as_str();
    let now = c.now;
    let later = c.later;
    let lamp = &c.lamp;
    let order = s.placed(user, lamp.clone()).await;
    let id = order_id(&order);
    let pkg = package_of(&order, "dropship");
    pay_with(s, store, &Nowhere, &order, now).await;
    crash_forward(s, &pkg, false, now).await;
    let busy = redeliver(s, &pkg, now).await;
    let mut ok = f.check(
        matches!(busy, Err(domain::fulfilment::fulfil::FulfilError::Busy)),
        || format!("E {pkg}: a redelivery inside the claim gave {busy:?}"),
    );
    let done = redeliver(s, &pkg, later).await;
    ok &= f.check(
        matches!(
            done,
            Ok(domain::fulfilment::fulfil::Handled::Forwarded { .. })
        ),
        || format!("E {pkg}: the redelivery after the claim gave {done:?}"),
    );
    ok &= forwarded_once(s, f, &id, &pkg, "E died before the supplier call").await;
    ok &= f.check(s.sim.forwards_for(&pkg) == 1, || {
        format!("E {pkg}: {} forwards", s.sim.forwards_for(&pkg))
    });
    ("died after the claim, before the supplier call", ok)
}

/// F. The supplier took it; the forward died before recording the reference.
async fn crash_f(c: &CrashRound<'_>, f: &mut Findings) -> (&'static str, bool) {
    let s = c.s;
    let store = &c.s.t.app.store;
    let user = c.user.as_str();
    let now = c.now;
    let later = c.later;
    let lamp = &c.lamp;
    let order = s.placed(user, lamp.clone()).await;
    let id = order_id(&order);
    let pkg = package_of(&order, "dropship");
    pay_with(s, store, &Nowhere, &order, now).await;
    crash_forward(s, &pkg, true, now).await;
    let first = references(s, &pkg);
    let busy = redeliver(s, &pkg, now).await;
    let mut ok = f.check(
        matches!(busy, Err(domain::fulfilment::fulfil::FulfilError::Busy)),
        || format!("F {pkg}: a redelivery inside the claim gave {busy:?}"),
    );
    let done = redeliver(s, &pkg, later).await;
    ok &= f.check(
        matches!(&done, Ok(domain::fulfilment::fulfil::Handled::Forwarded { supplier_ref }) if first.contains(supplier_ref)),
        || format!("F {pkg}: the redelivery gave {done:?}, the supplier had issued {first:?}"),
    );
    ok &= forwarded_once(s, f, &id, &pkg, "F died after the supplier call").await;
    ("died after the supplier call, before recording", ok)
}

/// G. The supplier took it; the write recording its reference failed.
async fn crash_g(c: &CrashRound<'_>, f: &mut Findings) -> (&'static str, bool) {
    let s = c.s;
    let store = &c.s.t.app.store;
    let user = c.user.as_str();
    let now = c.now;
    let later = c.later;
    let lamp = &c.lamp;
    let order = s.placed(user, lamp.clone()).await;
    let id = order_id(&order);
    let pkg = package_of(&order, "dropship");
    pay_with(s, store, &Nowhere, &order, now).await;
    let faulty = Faulty {
        fail_recording: Some(PackageId::parse(&pkg).unwrap()),
        ..Faulty::new(store)
    };
    let failed = domain::fulfilment::fulfil::handle(
        &faulty,
        &s.forward.publisher,
        &s.forward.suppliers,
        &forward_message(&pkg, now),
        now,
    )
    .await;
    let mut ok = f.check(
        failed.is_err() && faulty.faults.load(Ordering::SeqCst) >= 1,
        || format!("G {pkg}: the failing record gave {failed:?}"),
    );
    let busy = redeliver(s, &pkg, now).await;
    ok &= f.check(
        matches!(busy, Err(domain::fulfilment::fulfil::FulfilError::Busy)),
        || format!("G {pkg}: a redelivery inside the claim gave {busy:?}"),
    );
    let done = redeliver(s, &pkg, later).await;
    ok &= f.check(
        matches!(
            done,
            Ok(domain::fulfilment::fulfil::Handled::Forwarded { .. })
        ),
        || format!("G {pkg}: the redelivery gave {done:?}"),
    );
    ok &= forwarded_once(s, f, &id, &pkg, "G recording failed").await;
    ("the supplier took it, recording failed", ok)
}

/// H. As F, and the owner cancels while the claim holds: the intercept
/// waits for the reference, then stops the package.
async fn crash_h(c: &CrashRound<'_>, f: &mut Findings) -> (&'static str, bool) {
    let s = c.s;
    let store = &c.s.t.app.store;
    let user = c.user.as_str();
    let lamp = &c.lamp;
    let order = s.placed(user, lamp.clone()).await;
    let id = order_id(&order);
    let pkg = package_of(&order, "dropship");
    let lamp_before = s.t.available("LAMP").await;
    pay_with(s, store, &Nowhere, &order, Timestamp::now()).await;
    crash_forward(s, &pkg, true, Timestamp::now()).await;
    let (status, v) = s.cancel_order(user, &id).await;
    let mut ok = f.check(status == 200 && v["status"] == "cancel_requested", || {
        format!("H {id}: cancel while the claim holds answered {status}: {v}")
    });
    let intercept = Message::Intercept {
        package_id: PackageId::parse(&pkg).unwrap(),
    };
    let early = domain::fulfilment::fulfil::handle(
        store,
        &s.forward.publisher,
        &s.forward.suppliers,
        &intercept,
        Timestamp::now(),
    )
    .await;
    ok &= f.check(
        matches!(early, Err(domain::fulfilment::fulfil::FulfilError::Busy)),
        || format!("H {pkg}: the intercept before the reference gave {early:?}"),
    );
    let after = Timestamp::now().plus_secs(domain::fulfilment::fulfil::LEASE_SECS + 1);
    let recorded = redeliver(s, &pkg, after).await;
    ok &= f.check(
        matches!(
            recorded,
            Ok(domain::fulfilment::fulfil::Handled::Forwarded { .. })
        ),
        || format!("H {pkg}: the forward redelivery gave {recorded:?}"),
    );
    let stopped = domain::fulfilment::fulfil::handle(
        store,
        &s.forward.publisher,
        &s.forward.suppliers,
        &intercept,
        after,
    )
    .await;
    ok &= f.check(
        matches!(
            stopped,
            Ok(domain::fulfilment::fulfil::Handled::Intercepted)
        ),
        || format!("H {pkg}: the intercept gave {stopped:?}"),
    );
    s.drain(1).await;
    let stored = s.stored(&id).await;
    ok &= f.check(
        stored.status().as_str() == "cancelled"
            && stored.refunded_cents() == stored.received_cents()
            && references(s, &pkg).len() == 1
            && s.sim.intercepts_for(&pkg) == 1,
        || {
            format!(
                "H {id}: {} refunded {} of {}, refs {:?}, {} intercepts",
                stored.status().as_str(),
                stored.refunded_cents().0,
                stored.received_cents().0,
                references(s, &pkg),
                s.sim.intercepts_for(&pkg)
            )
        },
    );
    ok &= f.check(s.t.available("LAMP").await == lamp_before, || {
        format!("H {id}: LAMP not given back")
    });
    let _ = s.take_all("RefundQueue").await;
    ("died after the supplier call, cancelled meanwhile", ok)
}

/// I. As F, but the owner cancels after the claim ran out and before
/// SQS redelivers: the supplier has the package, so it must be
/// stopped there (intercepted), never just dropped and refunded.
async fn crash_i(c: &CrashRound<'_>, f: &mut Findings) -> (&'static str, bool) {
    let s = c.s;
    let store = &c.s.t.app.store;
    let user = c.user.as_str();
    let lamp = &c.lamp;
    let order = s.placed(user, lamp.clone()).await;
    let id = order_id(&order);
    let pkg = package_of(&order, "dropship");
    let long_ago = Timestamp::from_unix(
        Timestamp::now().unix() - domain::fulfilment::fulfil::LEASE_SECS as i64 - 5,
    );
    pay_with(s, store, &Nowhere, &order, long_ago).await;
    crash_forward(s, &pkg, true, long_ago).await;
    let (status, v) = s.cancel_order(user, &id).await;
    f.check(status == 200, || {
        format!("I {id}: cancel answered {status}: {v}")
    });
    let redelivered = redeliver(s, &pkg, Timestamp::now()).await;
    s.drain(1).await;
    let stored = s.stored(&id).await;
    let p = stored.package(&PackageId::parse(&pkg).unwrap()).unwrap();
    let at_supplier = !references(s, &pkg).is_empty();
    let stopped = s.sim.intercepts_for(&pkg) >= 1;
    let ok = f.check(!at_supplier || stopped || p.status().as_str() != "cancelled", || {
        format!(
            "I {id}: the supplier took {pkg} (ref {:?}) before the forward died; the owner's cancel after the \
             {}-s claim ran out marked it {} and refunded {} of {} without any intercept (the redelivery: {redelivered:?}): \
             the goods ship on a refunded order",
            references(s, &pkg),
            domain::fulfilment::fulfil::LEASE_SECS,
            p.status().as_str(),
            stored.refunded_cents().0,
            stored.received_cents().0
        )
    });
    let _ = s.take_all("RefundQueue").await;
    (
        "died after the supplier call, cancelled after the claim",
        ok,
    )
}

/// K. Staff complete a refund case; the queue is down: the sweep publishes the refund.
async fn crash_k(c: &CrashRound<'_>, f: &mut Findings) -> (&'static str, bool) {
    let s = c.s;
    let store = &s.t.app.store;
    let order = s.placed(&c.user, c.mixed.clone()).await;
    let id = order_id(&order);
    pay_with(s, store, &Nowhere, &order, c.now).await;
    let own = package_of(&order, "self");
    assert_eq!(s.ship(&own, "SF", "SF-K").await.0, 200);
    assert_eq!(s.confirm_receipt(&c.user, &own).await.0, 200);
    let body = json!({"package_id": own, "kind": "refund_only", "lines": [{"sku": "TEA", "qty": 1}],
                      "reason": "broken", "evidence": ["https://img.example.com/k.jpg"]});
    let (status, case) = s.open_case(&c.user, &id, &body).await;
    assert_eq!(status, 201, "{case}");
    let case_id = case["id"].as_str().unwrap().to_owned();
    let approve = json!({"decision": "approve", "note": "ok"});
    assert_eq!(
        s.case("staff-1", true, &case_id, "review", Some(&approve))
            .await
            .0,
        200
    );
    let staff = Caller::staff(UserId::parse("staff-1").unwrap());
    let done = domain::after_sales::step_case(
        store,
        &Down,
        &staff,
        &domain::ids::CaseId::parse(&case_id).unwrap(),
        &domain::after_sales::CaseStep::Complete {
            as_refund: false,
            note: None,
        },
        c.now,
    )
    .await;
    let mut ok = f.check(done.is_ok(), || {
        format!("K {case_id}: complete gave {done:?}")
    });
    let swept = s.sweep_at(c.now.plus_secs(60)).await;
    let stored = s.stored(&id).await;
    let sent: Vec<Value> = s
        .take_all("RefundQueue")
        .await
        .into_iter()
        .filter(|m| m["order_id"] == id.as_str())
        .collect();
    ok &= f.check(swept.republished >= 1, || {
        format!("K {id}: sweep {swept:?}")
    });
    ok &= f.check(
        stored.refunds().len() == 1
            && sent.len() == 1
            && sent[0]["refund_id"] == stored.refunds()[0].id.as_str()
            && sent[0]["amount_cents"] == json!(stored.refunds()[0].amount_cents.0),
        || {
            format!(
                "K {id}: refund queue {sent:?}, recorded {:?}",
                stored.refunds()
            )
        },
    );
    ok &= f.check(stored.outbox().is_empty(), || {
        format!("K {id}: outbox left")
    });
    ("queue down after a case's refund", ok)
}

/// A supplier intercept call in a Lambda that dies after the supplier
/// stopped the package, before the answer is recorded.
struct DyingIntercept<'a> {
    inner: &'a suppliers::SupplierRouter,
    reached: tokio::sync::Notify,
}

impl Supplier for DyingIntercept<'_> {
    async fn forward(&self, req: &ForwardRequest) -> Result<String, SupplierError> {
        self.inner.forward(req).await
    }
    async fn intercept(
        &self,
        package: &PackageId,
        source: &domain::catalog::Source,
        supplier_ref: &str,
    ) -> Result<InterceptOutcome, SupplierError> {
        let answer = self.inner.intercept(package, source, supplier_ref).await;
        assert_eq!(answer, Ok(InterceptOutcome::Intercepted));
        self.reached.notify_one();
        std::future::pending().await
    }
}

/// L. The supplier stopped a package; the intercept died before recording
/// it: the redelivered intercept converges on one cancel and one refund.
async fn crash_l(c: &CrashRound<'_>, f: &mut Findings) -> (&'static str, bool) {
    let s = c.s;
    let store = &s.t.app.store;
    let order = s.placed(&c.user, c.lamp.clone()).await;
    let id = order_id(&order);
    let pkg = package_of(&order, "dropship");
    let lamp_before = s.t.available("LAMP").await;
    pay_with(s, store, &Nowhere, &order, Timestamp::now()).await;
    let forwarded = redeliver(s, &pkg, Timestamp::now()).await;
    let (status, v) = s.cancel_order(&c.user, &id).await;
    let mut ok = f.check(
        matches!(
            forwarded,
            Ok(domain::fulfilment::fulfil::Handled::Forwarded { .. })
        ) && status == 200
            && v["status"] == "cancel_requested",
        || format!("L {id}: forwarded {forwarded:?}, cancel {status} {v}"),
    );
    let dying = DyingIntercept {
        inner: &s.forward.suppliers,
        reached: tokio::sync::Notify::new(),
    };
    let intercept = Message::Intercept {
        package_id: PackageId::parse(&pkg).unwrap(),
    };
    let now = Timestamp::now();
    tokio::select! {
        r = Box::pin(domain::fulfilment::fulfil::handle(store, &s.forward.publisher, &dying, &intercept, now)) => {
            panic!("the dying intercept returned {r:?}")
        }
        () = dying.reached.notified() => {}
    }
    // The dying delivery's claim holds other deliveries off; SQS brings the
    // message back after its visibility timeout (120 s), past the claim (60 s).
    let later = now.plus_secs(domain::fulfilment::fulfil::LEASE_SECS + 1);
    let again = Box::pin(domain::fulfilment::fulfil::handle(
        store,
        &s.forward.publisher,
        &s.forward.suppliers,
        &intercept,
        later,
    ))
    .await;
    ok &= f.check(again.is_ok(), || {
        format!("L {id}: the redelivery {again:?}")
    });
    s.drain(1).await;
    let stored = s.stored(&id).await;
    let intercepted = package_events(&stored, &pkg, "package_intercepted");
    ok &= f.check(
        stored.status().as_str() == "cancelled"
            && intercepted == 1
            && stored.refunds().len() == 1
            && stored.refunded_cents() == stored.received_cents(),
        || {
            format!(
                "L {id}: {} with {intercepted} `package_intercepted`, refunds {:?} of {}",
                stored.status().as_str(),
                stored.refunds(),
                stored.received_cents().0
            )
        },
    );
    ok &= f.check(s.t.available("LAMP").await == lamp_before, || {
        format!("L {id}: LAMP not given back once")
    });
    let _ = s.take_all("RefundQueue").await;
    (
        "the supplier stopped it, the intercept died before recording",
        ok,
    )
}

/// J. Placed (the transaction committed), but the store's answer was lost on
/// the way back: the request failed; the client's retry with the same key is
/// answered with that order, and the stock was taken once.
async fn crash_j(c: &CrashRound<'_>, f: &mut Findings) -> (&'static str, bool) {
    let s = c.s;
    let user = c.user.as_str();
    let round = c.round;
    let tea_before = s.t.available("TEA").await;
    let orders_before = s.t.count_entities("order").await;
    let key = format!("crash-key-{round}");
    let body = json!([{"sku": "TEA", "qty": 2}]);
    let mut faulty = Faulty::new(&s.t.app.store);
    faulty.lose_placement_answer = true;
    let req = domain::checkout::place::PlaceRequest::parse(
        integration_tests::place_body(body.clone())
            .to_string()
            .as_bytes(),
    )
    .expect("a placement");
    let first = domain::checkout::place::place_order(
        &faulty,
        &s.t.app.config,
        &owner(user),
        Some(domain::ids::IdempotencyKey::parse(&key).expect("a key")),
        &req,
        c.now,
    )
    .await;
    let injected = faulty.faults.load(Ordering::SeqCst) == 1 && first.is_err();
    let (again, b) = s.t.place(user, body, Some(&key)).await;
    let ok = f.check(injected, || format!("J: no fault injected: {first:?}"))
        & f.check(again == 200 && b["user_id"] == user, || {
            format!("J: the retry answered {again} {b}")
        })
        & f.check(
            s.t.count_entities("order").await == orders_before + 1,
            || "J: the retry placed a second order".into(),
        )
        & f.check(s.t.available("TEA").await == tea_before - 2, || {
            "J: stock taken twice".into()
        });
    ("placed, answer lost, retried", ok)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_crash_consistency() {
    bounded("crash", crash()).await;
}

async fn crash() {
    let rounds = size("STRESS_CRASH_ROUNDS", 1, 10);
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    mixed_catalog(&s, 1_000_000).await;
    let mut f = Findings::default();
    let mut tried: BTreeMap<&str, usize> = BTreeMap::new();
    let mut converged = 0;
    let mixed =
        json!([{"sku": "TEA", "qty": 1}, {"sku": "LAMP", "qty": 1}, {"sku": "PHONE", "qty": 1}]);
    let lamp = json!([{"sku": "LAMP", "qty": 1}]);

    for round in 0..rounds {
        let now = Timestamp::now();
        let c = CrashRound {
            s: &s,
            user: format!("crash-{round}"),
            now,
            later: now.plus_secs(domain::fulfilment::fulfil::LEASE_SECS + 1),
            round,
            mixed: mixed.clone(),
            lamp: lamp.clone(),
        };
        // Each scenario boxed: together they are too large a future for a stack.
        let (kind, ok) = Box::pin(crash_a(&c, &mut f)).await;
        *tried.entry(kind).or_default() += 1;
        converged += usize::from(ok);
        let (kind, ok) = Box::pin(crash_b(&c, &mut f)).await;
        *tried.entry(kind).or_default() += 1;
        converged += usize::from(ok);
        let (kind, ok) = Box::pin(crash_c(&c, &mut f)).await;
        *tried.entry(kind).or_default() += 1;
        converged += usize::from(ok);
        let (kind, ok) = Box::pin(crash_d(&c, &mut f)).await;
        *tried.entry(kind).or_default() += 1;
        converged += usize::from(ok);
        let (kind, ok) = Box::pin(crash_e(&c, &mut f)).await;
        *tried.entry(kind).or_default() += 1;
        converged += usize::from(ok);
        let (kind, ok) = Box::pin(crash_f(&c, &mut f)).await;
        *tried.entry(kind).or_default() += 1;
        converged += usize::from(ok);
        let (kind, ok) = Box::pin(crash_g(&c, &mut f)).await;
        *tried.entry(kind).or_default() += 1;
        converged += usize::from(ok);
        let (kind, ok) = Box::pin(crash_h(&c, &mut f)).await;
        *tried.entry(kind).or_default() += 1;
        converged += usize::from(ok);
        let (kind, ok) = Box::pin(crash_i(&c, &mut f)).await;
        *tried.entry(kind).or_default() += 1;
        converged += usize::from(ok);
        let (kind, ok) = Box::pin(crash_j(&c, &mut f)).await;
        *tried.entry(kind).or_default() += 1;
        converged += usize::from(ok);
        let (kind, ok) = Box::pin(crash_k(&c, &mut f)).await;
        *tried.entry(kind).or_default() += 1;
        converged += usize::from(ok);
        let (kind, ok) = Box::pin(crash_l(&c, &mut f)).await;
        *tried.entry(kind).or_default() += 1;
        converged += usize::from(ok);
    }
    // Nothing is left for a later sweep.
    let leftover = s.sweep_at(Timestamp::now().plus_secs(3600)).await;
    f.check(leftover.republished == 0 && leftover.failed == 0, || {
        format!("left for the sweep: {leftover:?}")
    });
    let total: usize = tried.values().sum();
    let kinds: Vec<String> = tried.iter().map(|(k, v)| format!("{v} {k}")).collect();
    eprintln!(
        "stress crash: {} faults injected ({} kinds: {}), {} converged, {} failures",
        n(total),
        tried.len(),
        kinds.join("; "),
        n(converged),
        f.0.len()
    );
    f.assert_none("crash");
}

// ------------------------------------------- fixture for 4. and 5.

/// Eve's orders in several states, one after-sales case, Mallory's order.
struct Fixture {
    /// Eve's, unpaid.
    unpaid: String,
    /// Eve's, paid, forwarded; her own-warehouse package received, a case open on it.
    paid: String,
    own: String,
    drop: String,
    jd: String,
    case: String,
    /// Eve's, paid, its own-warehouse package still pending.
    waiting: String,
    waiting_own: String,
    /// Mallory's, unpaid.
    other: String,
    other_package: String,
}

async fn fixture(s: &Stack) -> Fixture {
    mixed_catalog(s, 1_000_000).await;
    let unpaid = s.placed("eve", json!([{"sku": "TEA", "qty": 1}])).await;
    let paid = s
        .placed(
            "eve",
            json!([{"sku": "TEA", "qty": 2}, {"sku": "LAMP", "qty": 1}, {"sku": "PHONE", "qty": 1}]),
        )
        .await;
    assert_eq!(s.pay_order(&paid, "pay-fixture").await.0, 200);
    s.drain(1).await;
    let own = package_of(&paid, "self");
    assert_eq!(s.ship(&own, "SF", "SF-1").await.0, 200);
    assert_eq!(s.confirm_receipt("eve", &own).await.0, 200);
    let (status, case) = s
        .open_case(
            "eve",
            &order_id(&paid),
            &json!({"package_id": own, "kind": "return_refund", "lines": [{"sku": "TEA", "qty": 1}],
                    "reason": "broken", "evidence": ["https://img.example.com/a.jpg"]}),
        )
        .await;
    assert_eq!(status, 201, "{case}");
    let waiting = s
        .placed(
            "eve",
            json!([{"sku": "TEA", "qty": 1}, {"sku": "LAMP", "qty": 1}]),
        )
        .await;
    // Paid through the domain without publishing, so its packages stay pending.
    pay_with(s, &s.t.app.store, &Nowhere, &waiting, Timestamp::now()).await;
    let other = s.placed("mallory", json!([{"sku": "TEA", "qty": 1}])).await;
    Fixture {
        unpaid: order_id(&unpaid),
        paid: order_id(&paid),
        drop: package_of(&paid, "dropship"),
        jd: package_of(&paid, "jd"),
        own,
        case: case["id"].as_str().unwrap().to_owned(),
        waiting_own: package_of(&waiting, "self"),
        waiting: order_id(&waiting),
        other_package: package_ids(&other)[0].clone(),
        other: order_id(&other),
    }
}

/// Which handler serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum H {
    Catalog,
    Place,
    Orders,
    Cancel,
    Pay,
    Sync,
    AfterSales,
    Backoffice,
    Refund,
}

/// The handlers, in one deployment mode.
struct Handlers<'a> {
    app: &'a adapters::App,
    pay: &'a pay::Pay,
    cancel: &'a cancel::Cancel,
    sync: &'a status_sync::StatusSync,
    after_sales: &'a after_sales::AfterSales,
    backoffice: &'a backoffice::Backoffice,
    refund: &'a refund::Refund,
}

impl<'a> Handlers<'a> {
    fn of(s: &'a Stack) -> Self {
        Handlers {
            app: &s.t.app,
            pay: &s.pay,
            cancel: &s.cancel,
            sync: &s.status_sync,
            after_sales: &s.after_sales,
            backoffice: &s.backoffice,
            refund: &s.refund,
        }
    }
    async fn call(&self, h: H, req: Request) -> Response<Body> {
        match h {
            H::Catalog => catalog::handle(self.app, req).await,
            H::Place => place::handle(self.app, req).await,
            H::Orders => orders::handle(self.app, req).await,
            H::Cancel => cancel::handle(self.cancel, req).await,
            H::Pay => pay::handle(self.pay, req).await,
            H::Sync => status_sync::handle(self.sync, req).await,
            H::AfterSales => after_sales::handle(self.after_sales, req).await,
            H::Backoffice => backoffice::handle(self.backoffice, req).await,
            H::Refund => refund::handle_http(self.refund, req).await,
        }
    }
}

/// The same handlers as deployed: identity from JWT claims only.
struct Deployed {
    app: adapters::App,
    pay: pay::Pay,
    cancel: cancel::Cancel,
    sync: status_sync::StatusSync,
    after_sales: after_sales::AfterSales,
    backoffice: backoffice::Backoffice,
    refund: refund::Refund,
}

impl Deployed {
    fn of(s: &Stack) -> Self {
        let app = s.t.with_jwt_auth();
        Deployed {
            pay: pay::Pay {
                app: app.clone(),
                ..s.pay.clone()
            },
            cancel: cancel::Cancel {
                app: app.clone(),
                publisher: s.cancel.publisher.clone(),
            },
            sync: status_sync::StatusSync {
                app: app.clone(),
                publisher: s.status_sync.publisher.clone(),
                secrets: integration_tests::stack::supplier_secrets(),
            },
            after_sales: after_sales::AfterSales {
                app: app.clone(),
                publisher: s.after_sales.publisher.clone(),
                proofs: s.after_sales.proofs.clone(),
            },
            backoffice: backoffice::Backoffice {
                app: app.clone(),
                publisher: s.cancel.publisher.clone(),
            },
            refund: refund::Refund {
                app: app.clone(),
                ..s.refund.clone()
            },
            app,
        }
    }
    fn handlers(&self) -> Handlers<'_> {
        Handlers {
            app: &self.app,
            pay: &self.pay,
            cancel: &self.cancel,
            sync: &self.sync,
            after_sales: &self.after_sales,
            backoffice: &self.backoffice,
            refund: &self.refund,
        }
    }
}

/// What an answer must be: JSON, never 5xx, and the error shape for 4xx.
fn verdict(resp: &Response<Body>) -> Result<(u16, Value), String> {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let body: &[u8] = resp.body().as_ref();
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| format!("{status}, not JSON: {}", String::from_utf8_lossy(body)))?;
    if ct != "application/json" {
        return Err(format!("{status} with content-type {ct:?}: {value}"));
    }
    if status >= 500 {
        return Err(format!("{status}: {value}"));
    }
    if status >= 400
        && !(value["error"]["code"].is_string() && value["error"]["message"].is_string())
    {
        return Err(format!("{status} without the error shape: {value}"));
    }
    Ok((status, value))
}

/// Percent-encodes a path segment or query value as API Gateway's raw forms carry them.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A route of SPEC 3 with its path parameter (if any) filled in.
fn event(method: &str, route: &str, param: Option<(&str, &str)>) -> Event {
    let path = match param {
        Some((name, value)) => route.replace(&format!("{{{name}}}"), &enc(value)),
        None => route.to_owned(),
    };
    let e = Event::new(method, route, &path);
    match param {
        Some((name, value)) => e.path_param(name, value),
        None => e,
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    signature::sign(secret.as_bytes(), body)
}

// ------------------------------------------------------- 4. bad input

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    None,
    Note,
    Acknowledge,
    Upload,
    Sku,
    Storefront,
    Place,
    Cancel,
    Notice,
    Callback,
    Ship,
    Empty,
    OpenCase,
    Review,
    Return,
    Resolve,
    RefundNotice,
    Openid,
    WechatNotice,
}

struct Route {
    h: H,
    method: &'static str,
    route: &'static str,
    param: Option<&'static str>,
    shape: Shape,
}

const ROUTES: [Route; 39] = [
    Route {
        h: H::Catalog,
        method: "GET",
        route: "/skus/{sku}",
        param: Some("sku"),
        shape: Shape::None,
    },
    Route {
        h: H::Catalog,
        method: "PUT",
        route: "/skus/{sku}",
        param: Some("sku"),
        shape: Shape::Sku,
    },
    Route {
        h: H::Catalog,
        method: "GET",
        route: "/storefronts",
        param: None,
        shape: Shape::None,
    },
    Route {
        h: H::Catalog,
        method: "GET",
        route: "/storefronts/{id}",
        param: Some("id"),
        shape: Shape::None,
    },
    Route {
        h: H::Catalog,
        method: "PUT",
        route: "/storefronts/{id}",
        param: Some("id"),
        shape: Shape::Storefront,
    },
    Route {
        h: H::Place,
        method: "POST",
        route: "/orders",
        param: None,
        shape: Shape::Place,
    },
    Route {
        h: H::Place,
        method: "POST",
        route: "/orders/{id}/repurchase",
        param: Some("id"),
        shape: Shape::Empty,
    },
    Route {
        h: H::Orders,
        method: "GET",
        route: "/orders/{id}",
        param: Some("id"),
        shape: Shape::None,
    },
    Route {
        h: H::Orders,
        method: "GET",
        route: "/orders",
        param: None,
        shape: Shape::None,
    },
    Route {
        h: H::AfterSales,
        method: "POST",
        route: "/after-sales/uploads",
        param: None,
        shape: Shape::Upload,
    },
    Route {
        h: H::Backoffice,
        method: "POST",
        route: "/orders/{id}/notes",
        param: Some("id"),
        shape: Shape::Note,
    },
    Route {
        h: H::Backoffice,
        method: "GET",
        route: "/staff/packages",
        param: None,
        shape: Shape::None,
    },
    Route {
        h: H::Backoffice,
        method: "GET",
        route: "/staff/after-sales",
        param: None,
        shape: Shape::None,
    },
    Route {
        h: H::Backoffice,
        method: "GET",
        route: "/staff/attention",
        param: None,
        shape: Shape::None,
    },
    Route {
        h: H::Backoffice,
        method: "GET",
        route: "/staff/orders",
        param: None,
        shape: Shape::None,
    },
    Route {
        h: H::Backoffice,
        method: "GET",
        route: "/staff/summary",
        param: None,
        shape: Shape::None,
    },
    Route {
        h: H::Backoffice,
        method: "POST",
        route: "/staff/attention/{item_id}/acknowledge",
        param: Some("item_id"),
        shape: Shape::Acknowledge,
    },
    Route {
        h: H::Refund,
        method: "POST",
        route: "/payments/refund-notify",
        param: None,
        shape: Shape::RefundNotice,
    },
    Route {
        h: H::Refund,
        method: "POST",
        route: "/payments/refund-notify/{storefront}",
        param: Some("storefront"),
        shape: Shape::RefundNotice,
    },
    Route {
        h: H::Refund,
        method: "POST",
        route: "/payments/wechatpay/refund-notify",
        param: None,
        shape: Shape::WechatNotice,
    },
    Route {
        h: H::Refund,
        method: "POST",
        route: "/payments/wechatpay/refund-notify/{storefront}",
        param: Some("storefront"),
        shape: Shape::WechatNotice,
    },
    Route {
        h: H::Pay,
        method: "POST",
        route: "/payments/wechatpay/notify",
        param: None,
        shape: Shape::WechatNotice,
    },
    Route {
        h: H::Pay,
        method: "POST",
        route: "/payments/wechatpay/notify/{storefront}",
        param: Some("storefront"),
        shape: Shape::WechatNotice,
    },
    Route {
        h: H::Pay,
        method: "POST",
        route: "/orders/{id}/pay/wechatpay",
        param: Some("id"),
        shape: Shape::Openid,
    },
    Route {
        h: H::Refund,
        method: "POST",
        route: "/refunds/{refund_id}/retry",
        param: Some("refund_id"),
        shape: Shape::None,
    },
    Route {
        h: H::Refund,
        method: "POST",
        route: "/refunds/{refund_id}/record-offline",
        param: Some("refund_id"),
        shape: Shape::Acknowledge,
    },
    Route {
        h: H::Cancel,
        method: "POST",
        route: "/orders/{id}/cancel",
        param: Some("id"),
        shape: Shape::Cancel,
    },
    Route {
        h: H::Pay,
        method: "POST",
        route: "/payments/notify",
        param: None,
        shape: Shape::Notice,
    },
    Route {
        h: H::Pay,
        method: "POST",
        route: "/payments/notify/{storefront}",
        param: Some("storefront"),
        shape: Shape::Notice,
    },
    Route {
        h: H::Sync,
        method: "POST",
        route: "/suppliers/{supplier}/package-status",
        param: Some("supplier"),
        shape: Shape::Callback,
    },
    Route {
        h: H::Sync,
        method: "POST",
        route: "/packages/{package_id}/ship",
        param: Some("package_id"),
        shape: Shape::Ship,
    },
    Route {
        h: H::Sync,
        method: "POST",
        route: "/packages/{package_id}/resolve",
        param: Some("package_id"),
        shape: Shape::Resolve,
    },
    Route {
        h: H::Sync,
        method: "POST",
        route: "/packages/{package_id}/confirm-receipt",
        param: Some("package_id"),
        shape: Shape::Empty,
    },
    Route {
        h: H::AfterSales,
        method: "POST",
        route: "/orders/{id}/after-sales",
        param: Some("id"),
        shape: Shape::OpenCase,
    },
    Route {
        h: H::AfterSales,
        method: "GET",
        route: "/after-sales/{case_id}",
        param: Some("case_id"),
        shape: Shape::None,
    },
    Route {
        h: H::AfterSales,
        method: "POST",
        route: "/after-sales/{case_id}/review",
        param: Some("case_id"),
        shape: Shape::Review,
    },
    Route {
        h: H::AfterSales,
        method: "POST",
        route: "/after-sales/{case_id}/return-shipment",
        param: Some("case_id"),
        shape: Shape::Return,
    },
    Route {
        h: H::AfterSales,
        method: "POST",
        route: "/after-sales/{case_id}/complete",
        param: Some("case_id"),
        shape: Shape::Empty,
    },
    Route {
        h: H::AfterSales,
        method: "POST",
        route: "/after-sales/{case_id}/withdraw",
        param: Some("case_id"),
        shape: Shape::Empty,
    },
];

/// The corpus tries every route of the route table.
#[test]
fn the_corpus_covers_every_route() {
    let corpus: std::collections::BTreeSet<(&str, &str)> =
        ROUTES.iter().map(|r| (r.method, r.route)).collect();
    let missing: Vec<String> = routes::ROUTES
        .iter()
        .filter(|r| !corpus.contains(&(r.method, r.path)))
        .map(|r| r.key())
        .collect();
    assert!(
        missing.is_empty(),
        "routes the stress corpus never tries: {missing:?}"
    );
}

/// Strings that break things: empty, control and odd Unicode, injections,
/// long ones, and ids that are almost right.
fn nasty_string(rng: &mut Rng, fx: &Fixture) -> String {
    let long = |c: &str, n: usize| c.repeat(n);
    match rng.below(40) {
        0 => String::new(),
        1 => " ".into(),
        2 => "null".into(),
        3 => "../../etc/passwd".into(),
        4 => "%2e%2e%2f%00".into(),
        5 => "<script>alert(1)</script>".into(),
        6 => "' OR '1'='1' --".into(),
        7 => "a\u{0}b".into(),
        8 => "\r\n\t".into(),
        9 => "\u{202e}gnp.exe".into(),
        10 => "\u{feff}TEA".into(),
        11 => "长".repeat(rng.range(1, 300)),
        12 => "😀".repeat(rng.range(1, 100)),
        13 => "\u{10ffff}\u{fffd}".into(),
        14 => long("a", *rng.pick(&[64, 65, 128, 129, 257, 1025, 5000])),
        15 => long("X", rng.range(0, 70_000)),
        16 => "SKU#TEA".into(),
        17 => "ORDER#".to_owned() + &fx.paid,
        18 => fx.paid.to_lowercase(),
        19 => fx.paid[..25].to_owned(),
        20 => fx.paid.clone() + "0",
        21 => "01ARZ3NDEKTSV4RRFFQ69G5FAV".into(),
        22 => format!("{}-P00", fx.paid),
        23 => format!("{}-P99", fx.paid),
        24 => format!("{}-P1", fx.paid),
        25 => format!("{}-C99", fx.paid),
        26 => format!("{}-C01-C01", fx.paid),
        27 => fx.case.to_lowercase(),
        28 => format!("{}-P01", fx.other),
        29 => "-1".into(),
        30 => "1e400".into(),
        31 => "TEA ".into(),
        32 => "tea".into(),
        33 => "2026-13-45T25:61:61Z".into(),
        34 => "9999-12-31T23:59:59Z".into(),
        35 => "0000-01-01T00:00:00Z".into(),
        36 => (0..rng.range(1, 40))
            .map(|_| char::from_u32(rng.range(1, 0x2FFFF) as u32).unwrap_or('?'))
            .collect(),
        37 => (0..rng.range(1, 40))
            .map(|_| (rng.range(0x20, 0x7e) as u8) as char)
            .collect(),
        38 => "$".repeat(3) + "{jndi:ldap://x}",
        _ => "\u{0}".repeat(rng.range(1, 10)),
    }
}

/// A string a header may carry (no control bytes).
fn header_safe(s: String) -> String {
    let out: String = s.chars().filter(|c| !c.is_control()).take(8000).collect();
    out
}

fn any_json(rng: &mut Rng, fx: &Fixture, depth: usize) -> Value {
    match rng.below(if depth > 3 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => json!(*rng.pick(&[0i64, -1, 1, 999, 1000, i64::MAX, i64::MIN, 4_294_967_296])),
        3 => json!(*rng.pick(&[0.5f64, -0.0, 1.5, 1e308, -1e308, 2.2e-308])),
        4 => json!(u64::MAX),
        5 => json!(nasty_string(rng, fx)),
        6 => Value::Array(
            (0..rng.below(5))
                .map(|_| any_json(rng, fx, depth + 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(5))
                .map(|_| {
                    let key = if rng.chance(50) {
                        rng.pick(&[
                            "sku",
                            "qty",
                            "lines",
                            "address",
                            "order_id",
                            "amount_cents",
                            "status",
                            "package_id",
                            "kind",
                            "decision",
                            "note",
                            "reason",
                            "evidence",
                            "carrier",
                            "tracking_no",
                            "price_cents",
                            "available",
                            "source",
                            "user_id",
                        ])
                        .to_string()
                    } else {
                        nasty_string(rng, fx).chars().take(50).collect()
                    };
                    (key, any_json(rng, fx, depth + 1))
                })
                .collect(),
        ),
    }
}

/// A valid body of the route's shape, for the mutations to start from.
fn template(shape: Shape, rng: &mut Rng, fx: &Fixture) -> Value {
    match shape {
        Shape::None | Shape::Empty => json!({}),
        Shape::Note => json!({"text": "called the buyer"}),
        Shape::Acknowledge => json!({"note": "settled by phone"}),
        Shape::Upload => json!({"content_type": "image/png", "bytes": rng.below(20_000_000)}),
        Shape::Storefront => json!({"name": "Fuzz store", "freight_cents": rng.below(5000),
                                   "app_client_ids": ["fuzz-client"], "payment_ttl_secs": 3600}),
        Shape::Sku => {
            json!({"name": "Fuzz", "price_cents": 100, "source": {"kind": "self", "warehouse": "WH-1"},
                             "stock_policy": "lock_on_place", "listed": true, "per_user_limit": null, "available": 10})
        }
        Shape::Place => json!({"lines": [{"sku": "TEA", "qty": 1}, {"sku": "LAMP", "qty": 2}],
                               "address": integration_tests::address(), "note": "leave at the door"}),
        Shape::Cancel => {
            if rng.chance(50) {
                json!({"reason": "changed my mind"})
            } else {
                json!({"reason": "stuck", "package_id": fx.waiting_own})
            }
        }
        Shape::Notice => {
            json!({"order_id": rng.pick(&[&fx.unpaid, &fx.paid, &fx.other]), "payment_id": format!("fuzz-{}", rng.below(50)),
                                "amount_cents": *rng.pick(&[1300u64, 1, 0]), "paid_at": integration_tests::now()})
        }
        Shape::RefundNotice => {
            json!({"refund_id": rng.pick(&[format!("{}-R01", fx.paid), format!("{}-R01-2", fx.waiting), "R-nope".to_owned()]),
                   "status": rng.pick(&["succeeded", "processing", "failed", "paid"])})
        }
        Shape::Openid => json!({"openid": rng.pick(&["oFuzz_1", "o-2", ""])}),
        Shape::WechatNotice => {
            json!({"id": "EV-1", "create_time": integration_tests::now(), "resource_type": "encrypt-resource",
                   "event_type": rng.pick(&["TRANSACTION.SUCCESS", "REFUND.SUCCESS", "REFUND.ABNORMAL"]),
                   "resource": {"original_type": "transaction", "algorithm": rng.pick(&["AEAD_AES_256_GCM", "AES"]),
                                "ciphertext": "bm90IGEgcmVhbCBjaXBoZXJ0ZXh0", "associated_data": "transaction",
                                "nonce": rng.pick(&["123456789012", "short"])}})
        }
        Shape::Callback => {
            json!({"package_id": rng.pick(&[&fx.drop, &fx.jd, &fx.own, &fx.other_package]),
                                  "status": rng.pick(&["shipped", "awaiting_receipt", "received", "rejected", "intercepted", "intercept_refused"]),
                                  "tracking_no": "T-1", "at": integration_tests::now()})
        }
        Shape::Ship | Shape::Return => json!({"carrier": "SF", "tracking_no": "SF-1"}),
        Shape::OpenCase => {
            json!({"package_id": rng.pick(&[&fx.own, &fx.drop, &fx.jd]), "kind": rng.pick(&["refund_only", "return_refund", "exchange"]),
                                  "lines": [{"sku": "TEA", "qty": 1}], "reason": "broken", "evidence": ["https://img.example.com/a.jpg", "https://img.example.com/1.jpg"]})
        }
        Shape::Review => json!({"decision": rng.pick(&["approve", "reject"]), "note": "ok"}),
        Shape::Resolve => {
            json!({"outcome": rng.pick(&["intercepted", "shipped", "retry_forward"]), "note": "checked"})
        }
    }
}

/// Placeholders replaced in the text after serialising.
const HUGE: &str = "@@HUGE@@";
const DEEP: &str = "@@DEEP@@";

fn mutate(rng: &mut Rng, fx: &Fixture, v: &mut Value) {
    match v {
        Value::Object(map) if !map.is_empty() && rng.chance(75) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = rng.pick(&keys).clone();
            match rng.below(5) {
                0 | 1 => mutate(rng, fx, map.get_mut(&key).expect("key")),
                2 => {
                    map.remove(&key);
                }
                3 => {
                    map.insert(
                        nasty_string(rng, fx).chars().take(40).collect(),
                        any_json(rng, fx, 2),
                    );
                }
                _ => {
                    map.insert(key, nasty_scalar(rng, fx));
                }
            }
        }
        Value::Array(items) if !items.is_empty() && rng.chance(75) => match rng.below(4) {
            0 | 1 => {
                let i = rng.below(items.len());
                mutate(rng, fx, &mut items[i]);
            }
            2 => {
                let first = items[0].clone();
                let copies = *rng.pick(&[2usize, 50, 51, 1000]);
                items.extend(std::iter::repeat_n(first, copies));
            }
            _ => items.clear(),
        },
        _ => *v = nasty_scalar(rng, fx),
    }
}

/// Replaces one leaf with a value of the same type at or just past a limit
/// (quantities, prices, lengths, list sizes), so that validation, not
/// parsing, has to refuse it.
fn boundary(rng: &mut Rng, v: &mut Value) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = rng.pick(&keys).clone();
            boundary(rng, map.get_mut(&key).expect("key"));
        }
        Value::Array(items) if !items.is_empty() => {
            if rng.chance(30) {
                let first = items[0].clone();
                let len = *rng.pick(&[0usize, 9, 10, 50, 51, 64, 65]);
                *items = std::iter::repeat_n(first, len).collect();
            } else {
                let i = rng.below(items.len());
                boundary(rng, &mut items[i]);
            }
        }
        Value::Number(_) | Value::Null => {
            *v = json!(*rng.pick(&[
                0i64,
                -1,
                1,
                64,
                65,
                999,
                1000,
                4_294_967_295,
                4_294_967_296,
                9_007_199_254_740_993,
                i64::MAX
            ]))
        }
        Value::String(text) => {
            let len = *rng.pick(&[
                0usize, 1, 16, 17, 32, 33, 64, 65, 128, 129, 256, 257, 500, 501, 1024, 1025,
            ]);
            let unit = rng.pick_str(&["x", "长", "/", ".", "😀"]);
            *text = if rng.chance(20) {
                format!("https://{}", unit.repeat(len))
            } else {
                unit.repeat(len)
            };
        }
        Value::Bool(b) => *v = json!(!*b),
        _ => *v = Value::Null,
    }
}

fn nasty_scalar(rng: &mut Rng, fx: &Fixture) -> Value {
    match rng.below(6) {
        0 => json!(HUGE),
        1 => json!(DEEP),
        _ => any_json(rng, fx, 3),
    }
}

fn deep_text(rng: &mut Rng) -> String {
    let depth = *rng.pick(&[20usize, 127, 128, 129, 500, 5000, 30_000]);
    if rng.chance(50) {
        "[".repeat(depth) + &"]".repeat(depth)
    } else {
        "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth)
    }
}

/// A malformed (sometimes valid) body for `shape`.
fn body(rng: &mut Rng, fx: &Fixture, shape: Shape) -> Vec<u8> {
    let mut value = template(shape, rng, fx);
    let mode = rng.below(100);
    let mut text = if mode < 40 {
        for _ in 0..rng.range(1, 3) {
            mutate(rng, fx, &mut value);
        }
        value.to_string()
    } else if mode < 58 {
        // Well-formed, each value at or just past a limit.
        for _ in 0..rng.range(1, 2) {
            boundary(rng, &mut value);
        }
        value.to_string()
    } else if mode < 65 {
        any_json(rng, fx, 0).to_string()
    } else if mode < 70 {
        deep_text(rng)
    } else if mode < 75 {
        // A valid body: through base64 or as text, it must work or be refused cleanly.
        value.to_string()
    } else if mode < 80 {
        let t = value.to_string();
        let mut cut = rng.below(t.len().max(1));
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t[..cut].to_owned()
    } else if mode < 85 {
        rng.pick(&[
            "",
            " ",
            "\n",
            "null",
            "true",
            "0",
            "\"\"",
            "[]",
            "{}",
            "{\"\":{}}",
            "\u{feff}{}",
        ])
        .to_string()
    } else if mode < 90 {
        // The first key twice: a duplicate field.
        let t = value.to_string();
        match t.find(',') {
            Some(i) if t.starts_with('{') => format!("{},{}", &t[..i], &t[1..]),
            _ => t,
        }
    } else {
        // Not UTF-8: invalid bytes inside an otherwise valid body, or noise.
        let mut bytes = value.to_string().into_bytes();
        if rng.chance(50) {
            let len = rng.range(1, 2048);
            return rng.bytes(len);
        }
        for _ in 0..rng.range(1, 4) {
            let at = rng.below(bytes.len() + 1);
            const BAD: [&[u8]; 6] = [
                &[0xff],
                &[0xc0, 0x80],
                &[0xed, 0xa0, 0x80],
                &[0x80],
                &[0xf8, 0x88, 0x80, 0x80, 0x80],
                &[0xe2, 0x82],
            ];
            let bad = *rng.pick(&BAD);
            bytes.splice(at..at, bad.iter().copied());
        }
        return bytes;
    };
    while let Some(i) = text.find(&format!("\"{HUGE}\"")) {
        let huge = rng.pick(&[
            "1e400",
            "-1e400",
            "18446744073709551616",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "1.0e-400",
            "-0",
            "00",
            "1.",
            "0x10",
            "NaN",
            "Infinity",
            "+1",
            "4294967296",
            "999.0000000000001",
        ]);
        text.replace_range(i..i + HUGE.len() + 2, huge);
    }
    while let Some(i) = text.find(&format!("\"{DEEP}\"")) {
        let deep = deep_text(rng);
        text.replace_range(i..i + DEEP.len() + 2, &deep);
    }
    text.into_bytes()
}

fn param_value(rng: &mut Rng, fx: &Fixture, name: &str) -> String {
    if rng.chance(35) {
        return nasty_string(rng, fx);
    }
    let pool: Vec<String> = match name {
        "sku" => vec![
            "TEA".into(),
            "LAMP".into(),
            "PHONE".into(),
            "NOPE-1".into(),
            "FUZZ-1".into(),
        ],
        "storefront" => vec![
            "default".into(),
            "fuzz-store".into(),
            "nowhere".into(),
            "Default".into(),
        ],
        "id" if rng.chance(30) => vec!["fuzz-store".into(), "nowhere".into()],
        "id" => vec![
            fx.unpaid.clone(),
            fx.paid.clone(),
            fx.waiting.clone(),
            fx.other.clone(),
            fx.paid.to_lowercase(),
        ],
        "package_id" => vec![
            fx.own.clone(),
            fx.drop.clone(),
            fx.jd.clone(),
            fx.waiting_own.clone(),
            fx.other_package.clone(),
        ],
        "case_id" => vec![fx.case.clone(), format!("{}-C02", fx.paid)],
        "item_id" => vec![format!("{}-A01", fx.paid), format!("{}-A01", fx.waiting)],
        "refund_id" => vec![format!("{}-R01", fx.paid), format!("{}-R01", fx.waiting)],
        _ => vec![
            "S-1".into(),
            "S-2".into(),
            "jd".into(),
            "WH-1".into(),
            "JD".into(),
        ],
    };
    rng.pick(&pool).clone()
}

/// Generates one request of the corpus.
fn generate(rng: &mut Rng, fx: &Fixture) -> Generated {
    let route = rng.pick(&ROUTES);
    let method = if rng.chance(92) {
        route.method
    } else {
        *rng.pick(&["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
    };
    // API Gateway refuses request lines much over 8 KB.
    let param = route.param.map(|name| {
        let value: String = param_value(rng, fx, name).chars().take(600).collect();
        (name, value)
    });
    let mut e = event(
        method,
        route.route,
        param.as_ref().map(|(n, v)| (*n, v.as_str())),
    );
    let who = match rng.below(100) {
        0..=54 => "eve".to_owned(),
        55..=64 => "mallory".to_owned(),
        65..=79 => "staff-1".to_owned(),
        80..=89 => String::new(),
        _ => header_safe(nasty_string(rng, fx)),
    };
    if !who.is_empty() {
        e = e.user(&who);
    }
    if who == "staff-1" {
        e = e.staff();
    }
    // Some go to the handlers as deployed: JWT claims (or none), the dev
    // headers above to be ignored.
    let jwt = rng.chance(15);
    if jwt && rng.chance(80) {
        let mut claims = serde_json::Map::new();
        if rng.chance(85) {
            let sub = match rng.below(4) {
                0 => nasty_string(rng, fx).chars().take(300).collect(),
                _ => rng.pick_str(&["eve", "mallory", "staff-1"]).to_owned(),
            };
            claims.insert("sub".into(), json!(sub));
        }
        if rng.chance(50) {
            let groups = match rng.below(3) {
                0 => nasty_string(rng, fx).chars().take(300).collect(),
                _ => rng
                    .pick_str(&[
                        "[staff]",
                        "staff",
                        "[\"staff\"]",
                        "[admin staff]",
                        "[]",
                        "[staffers]",
                        "",
                    ])
                    .to_owned(),
            };
            claims.insert("cognito:groups".into(), json!(groups));
        }
        e = e.claims(Value::Object(claims));
    }
    if rng.chance(10) {
        e = e.header(
            "x-user-role",
            &header_safe(
                rng.pick(&["STAFF", " staff ", "admin", "staff,admin", "Staff\u{0}"])
                    .to_string(),
            ),
        );
    }
    if rng.chance(20) {
        e = e.header("idempotency-key", &header_safe(nasty_string(rng, fx)));
    }
    match route.route {
        "/orders" if method == "GET" => {
            if rng.chance(70) {
                let limit = rng
                    .pick(&[
                        "",
                        "0",
                        "1",
                        "20",
                        "100",
                        "101",
                        "-1",
                        "abc",
                        "1e3",
                        "99999999999999999999",
                        "1.5",
                        " 5",
                    ])
                    .to_string();
                e = e.query("limit", &enc(&limit));
            }
            if rng.chance(50) {
                let cursor: String = if rng.chance(50) {
                    nasty_string(rng, fx).chars().take(600).collect()
                } else {
                    "eyJrIjoieCJ9".into()
                };
                e = e.query("cursor", &enc(&cursor));
            }
        }
        r if r.starts_with("/staff/") && method == "GET" => {
            let fields: [(&str, &[&str]); 9] = [
                ("queue", &["to_ship", "overdue", "nope", ""]),
                ("warehouse", &["WH-1", "WH-2", "wh#1", ""]),
                (
                    "status",
                    &[
                        "requested",
                        "approved",
                        "return_shipped",
                        "awaiting_shipment",
                        "shipped",
                        "x",
                    ],
                ),
                ("user_id", &["eve", "mallory", "a#b", ""]),
                (
                    "from",
                    &["2026-01-01T00:00:00Z", "yesterday", "9999-12-31T23:59:59Z"],
                ),
                (
                    "to",
                    &["2030-01-01T00:00:00Z", "2000-01-01T00:00:00+08:00", ""],
                ),
                (
                    "storefront",
                    &["all", "default", "fuzz-store", "nowhere", "ALL"],
                ),
                ("limit", &["1", "20", "100", "0", "101", "x"]),
                ("cursor", &["eyJrIjoieCJ9", "cTE6I35+", ""]),
            ];
            for (name, values) in fields {
                if rng.chance(45) {
                    let v = if rng.chance(15) {
                        nasty_string(rng, fx).chars().take(200).collect()
                    } else {
                        rng.pick_str(values).to_owned()
                    };
                    e = e.query(name, &enc(&v));
                }
            }
        }
        "/orders/{id}/repurchase" if rng.chance(50) => {
            e = e.query("dry_run", rng.pick_str(&["true", "false", "1", "yes", ""]));
        }
        _ if rng.chance(10) => {
            let k = enc(&nasty_string(rng, fx).chars().take(20).collect::<String>());
            e = e.query(
                if k.is_empty() { "x" } else { &k },
                &enc(&nasty_string(rng, fx).chars().take(200).collect::<String>()),
            );
        }
        _ => {}
    }
    let bytes = match route.shape {
        Shape::None if rng.chance(80) => None,
        shape => Some(body(rng, fx, shape)),
    };
    let secret = match route.h {
        H::Pay | H::Refund if route.route.starts_with("/payments") => Some(PAYMENT_SECRET),
        H::Sync if route.route.starts_with("/suppliers") => Some(SUPPLIER_SECRET),
        _ => None,
    };
    if let Some(secret) = secret {
        let b = bytes.clone().unwrap_or_default();
        let sig = match rng.below(100) {
            0..=74 => Some(sign(secret, &b)),
            75..=84 => None,
            85..=89 => Some(sign("not-the-secret", &b)),
            _ => Some(header_safe(nasty_string(rng, fx))),
        };
        if let Some(sig) = sig {
            e = e.header("x-signature", &sig);
        }
    }
    if route.shape == Shape::WechatNotice {
        // Nobody here holds WeChat Pay's key: headers right in form, or nasty.
        let now = domain::time::Timestamp::now().unix().to_string();
        for (name, good) in [
            ("wechatpay-timestamp", now.as_str()),
            ("wechatpay-nonce", "NONCE1234567890"),
            ("wechatpay-signature", "c2lnbmF0dXJl"),
            ("wechatpay-serial", "PUB_KEY_ID_0000"),
        ] {
            match rng.below(10) {
                0 => {}
                1 => e = e.header(name, &header_safe(nasty_string(rng, fx))),
                _ => e = e.header(name, good),
            }
        }
    }
    let mut b64 = false;
    let json = match &bytes {
        None => e.event_json(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(text) if rng.chance(85) => {
                e = e.raw_body(text);
                if rng.chance(10) {
                    e = e.header(
                        "content-type",
                        rng.pick_str(&[
                            "text/plain",
                            "application/x-www-form-urlencoded",
                            "",
                            "application/json; charset=latin1",
                        ]),
                    );
                }
                e.event_json()
            }
            _ => {
                b64 = true;
                e.base64_json(b)
            }
        },
    };
    let preview: String = bytes
        .as_ref()
        .map(|b| String::from_utf8_lossy(&b[..b.len().min(120)]).into_owned())
        .unwrap_or_default();
    let path = json["rawPath"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(120)
        .collect::<String>();
    let desc = format!(
        "{method} {path} as {who:?}{}, {} body bytes{}: {preview:?}",
        if jwt { " (JWT)" } else { "" },
        bytes.as_ref().map_or(0, Vec::len),
        if b64 { " (base64)" } else { "" }
    );
    Generated {
        h: route.h,
        jwt,
        request: request_from_json(&json),
        desc,
    }
}

/// One generated request: its handler and mode, the event (or why API
/// Gateway could not have sent it), and a description for the report.
struct Generated {
    h: H,
    jwt: bool,
    request: Result<Request, String>,
    desc: String,
}

/// A request's description, and its answer's verdict (`Err(())`: not an event).
type Tried = (String, Result<Result<(u16, Value), String>, ()>);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_bad_input() {
    bounded("bad input", bad_input()).await;
}

async fn bad_input() {
    let total = size("STRESS_BAD_REQUESTS", 1000, 10_000);
    let seed = seed();
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    let fx = fixture(&s).await;
    let dev = Handlers::of(&s);
    let deployed = Deployed::of(&s);
    let deployed = deployed.handlers();
    let mut rng = Rng::new(seed ^ 0xBAD1);
    let (mut statuses, mut failures, mut panics, mut not_events, mut base64, mut jwt) =
        (BTreeMap::<u16, usize>::new(), Vec::new(), 0, 0, 0, 0);
    let results: Vec<Tried> = futures::stream::iter(0..total)
        .map(|_| {
            let g = generate(&mut rng, &fx);
            let handlers = if g.jwt { &deployed } else { &dev };
            async move {
                let desc = g.desc;
                match g.request {
                    Err(e) => (format!("not an event ({e}): {desc}"), Err(())),
                    Ok(req) => {
                        let answer = AssertUnwindSafe(handlers.call(g.h, req))
                            .catch_unwind()
                            .await;
                        match answer {
                            Ok(resp) => (desc, Ok(verdict(&resp))),
                            Err(_) => (format!("PANIC: {desc}"), Ok(Err("panicked".into()))),
                        }
                    }
                }
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut statuses_by_desc: Vec<(String, u16)> = Vec::new();
    for (desc, result) in results {
        if let Ok(Ok((status, _))) = &result {
            statuses_by_desc.push((desc.clone(), *status));
        }
        base64 += usize::from(desc.contains("(base64)"));
        jwt += usize::from(desc.contains("(JWT)"));
        match result {
            Err(()) => {
                not_events += 1;
                if not_events <= 3 {
                    eprintln!("stress bad input: skipped {desc}");
                }
            }
            Ok(Ok((status, _))) => *statuses.entry(status).or_default() += 1,
            Ok(Err(why)) => {
                panics += usize::from(desc.starts_with("PANIC"));
                failures.push(format!("{why} <- {desc}"));
            }
        }
    }
    let fives = failures.len() - panics;
    let by_status: Vec<String> = statuses
        .iter()
        .map(|(k, v)| format!("{k}: {}", n(*v)))
        .collect();
    eprintln!(
        "stress bad input: {} requests over {} routes ({} base64 bodies, {} to the handlers as deployed (JWT), \
         {} not valid API Gateway events, skipped), {fives} 5xx or malformed answers, {panics} panics; \
         statuses {}; seed {seed}",
        n(total),
        ROUTES.len(),
        n(base64),
        n(jwt),
        n(not_events),
        by_status.join(", ")
    );
    let mut f = Findings(failures);
    f.check(not_events * 20 < total, || {
        format!("{not_events} of {total} generated events were not valid")
    });
    // Some of those requests succeeded: what they did must add up.
    let rewritten: Vec<String> = results_rewritten_skus(&statuses_by_desc);
    let audited = audit(&s, 1_000_000, &rewritten).await;
    eprintln!(
        "stress bad input: audit of {} orders afterwards, stock of {} untouched SKUs: {} findings",
        audited.0,
        3 - rewritten.len().min(3),
        audited.1.len()
    );
    for finding in audited.1 {
        f.check(false, || finding.clone());
    }
    f.assert_none("bad input");
}

/// The SKUs a successful `PUT /skus/{sku}` rewrote during the run (their
/// stock was set by staff, so it is not conserved from the start).
fn results_rewritten_skus(answered: &[(String, u16)]) -> Vec<String> {
    let mut skus: Vec<String> = answered
        .iter()
        .filter(|(desc, status)| desc.starts_with("PUT /skus/") && *status < 300)
        .filter_map(|(desc, _)| {
            desc.trim_start_matches("PUT /skus/")
                .split(' ')
                .next()
                .map(str::to_owned)
        })
        .collect();
    skus.sort();
    skus.dedup();
    skus
}

/// Every stored order's money and the fixture's stock and limit counters,
/// checked after a run: refunds within what was received (all of it back on
/// a cancelled or closed order), totals that add up from the lines, stock
/// conserved for the SKUs nobody rewrote (available + held = `initial`,
/// held counted from the orders' lines), limit counters equal to what live
/// orders hold. The number of orders, and what does not add up.
async fn audit(s: &Stack, initial: u64, rewritten: &[String]) -> (usize, Vec<String>) {
    use testkit::lives::LimitCounters;
    let orders = s.t.all_orders().await;
    let mut out = Vec::new();
    let mut held: BTreeMap<String, u64> = BTreeMap::new();
    let mut limits: BTreeMap<(String, String), u64> = BTreeMap::new();
    for o in &orders {
        let refunded = o.refunded_cents();
        if refunded > o.received_cents() {
            out.push(format!(
                "{} refunds {refunded} of {}",
                o.id,
                o.received_cents()
            ));
        }
        let ended = matches!(o.status().as_str(), "cancelled" | "closed");
        if ended && refunded != o.received_cents() {
            out.push(format!(
                "{} ended with {refunded} of {} back",
                o.id,
                o.received_cents()
            ));
        }
        let goods: u64 = o
            .lines
            .iter()
            .map(|l| l.unit_price_cents.0 * u64::from(l.qty))
            .sum();
        let freight: u64 = o.packages().iter().map(|p| p.freight_cents.0).sum();
        if o.goods_cents.0 != goods
            || o.total_cents.0 != goods + o.freight_cents.0
            || freight != o.freight_cents.0
        {
            out.push(format!("{}: totals do not add up", o.id));
        }
        for l in &o.lines {
            let live = o
                .package(&l.package_id)
                .is_some_and(|p| p.status().as_str() != "cancelled");
            if live && (l.stock_policy == domain::catalog::StockPolicy::LockOnPlace || o.is_paid())
            {
                *held.entry(l.sku.as_str().to_owned()).or_default() += u64::from(l.qty);
            }
            if live && !ended && l.per_user_limit.is_some() {
                *limits
                    .entry((o.user_id.as_str().to_owned(), l.sku.as_str().to_owned()))
                    .or_default() += u64::from(l.qty);
            }
        }
        for p in o.packages().iter().filter(|p| p.exchange_for().is_some()) {
            if p.status().as_str() != "cancelled" {
                for l in &p.lines {
                    *held.entry(l.sku.as_str().to_owned()).or_default() += u64::from(l.qty);
                }
            }
        }
    }
    for sku in ["TEA", "LAMP", "PHONE"] {
        if rewritten.iter().any(|r| r == sku) {
            continue;
        }
        let available = s.t.available(sku).await as u64;
        let h = held.get(sku).copied().unwrap_or(0);
        if available + h != initial {
            out.push(format!(
                "{sku}: {available} available + {h} held != {initial}"
            ));
        }
    }
    let users: std::collections::BTreeSet<String> = orders
        .iter()
        .map(|o| o.user_id.as_str().to_owned())
        .collect();
    for user in users {
        let u = UserId::parse(&user).expect("a user");
        let sku = domain::ids::SkuId::parse("PHONE").expect("a sku");
        let counted = s.t.app.store.limit_held(&u, &sku).await;
        let live = limits
            .get(&(user.clone(), "PHONE".to_owned()))
            .copied()
            .unwrap_or(0);
        if counted != live && !rewritten.iter().any(|r| r == "PHONE") {
            out.push(format!(
                "{user} PHONE: limit counter {counted}, live orders {live}"
            ));
        }
    }
    (orders.len(), out)
}

// --------------------------------------------------------- 5. security

/// Attempts that must be refused, tallied by kind.
#[derive(Default)]
struct Refusals {
    f: Findings,
    tried: BTreeMap<&'static str, usize>,
    refused: usize,
}

impl Refusals {
    /// Sends `req` and expects `status` with error `code`.
    async fn expect(
        &mut self,
        kind: &'static str,
        name: &str,
        handlers: &Handlers<'_>,
        h: H,
        req: Request,
        (status, code): (u16, &str),
    ) {
        *self.tried.entry(kind).or_default() += 1;
        let resp = handlers.call(h, req).await;
        match verdict(&resp) {
            Ok((got, v)) => {
                let ok = got == status && v["error"]["code"] == code;
                self.refused += usize::from(ok);
                self.f.check(ok, || {
                    format!("{kind}: {name}: answered {got} {v}, expected {status} {code}")
                });
            }
            Err(e) => {
                self.f.check(false, || format!("{kind}: {name}: {e}"));
            }
        }
    }
}

/// Signatures an attacker can make without the secret, for `body`.
fn forgeries(rng: &mut Rng, secret: &str, body: &[u8]) -> Vec<(String, Option<String>)> {
    let good = sign(secret, body);
    let hex = |rng: &mut Rng| -> String {
        (0..32)
            .map(|_| format!("{:02x}", rng.next() as u8))
            .collect()
    };
    let mut flipped = good.clone();
    let last = if flipped.ends_with('0') { "1" } else { "0" };
    flipped.replace_range(63.., last);
    vec![
        ("no signature".into(), None),
        ("empty".into(), Some(String::new())),
        ("random hex".into(), Some(hex(rng))),
        ("zeros".into(), Some("0".repeat(64))),
        ("another secret".into(), Some(sign("guessed-secret", body))),
        (
            "the payment secret for a supplier, or the other way round".into(),
            Some(sign(
                if secret == PAYMENT_SECRET {
                    SUPPLIER_SECRET
                } else {
                    PAYMENT_SECRET
                },
                body,
            )),
        ),
        ("another body's".into(), Some(sign(secret, b"{}"))),
        (
            "the body with a newline".into(),
            Some(sign(secret, &[body, b"\n"].concat())),
        ),
        ("truncated".into(), Some(good[..63].to_owned())),
        ("half".into(), Some(good[..32].to_owned())),
        ("extended".into(), Some(format!("{good}00"))),
        ("one digit changed".into(), Some(flipped)),
        ("not hex".into(), Some("z".repeat(64))),
        (
            "sha256= prefix on a guess".into(),
            Some(format!("sha256={}", hex(rng))),
        ),
    ]
}

fn signed_event(
    route: &str,
    param: Option<(&str, &str)>,
    body: &str,
    sig: Option<&str>,
) -> Request {
    let mut e = event("POST", route, param).raw_body(body);
    if let Some(sig) = sig {
        e = e.header("x-signature", sig);
    }
    e.build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_security() {
    bounded("security", security()).await;
}

async fn security() {
    let extra = size("STRESS_FORGERIES", 100, 1000);
    let seed = seed();
    let mut rng = Rng::new(seed ^ 0x5EC);
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    let fx = fixture(&s).await;
    let dev = Handlers::of(&s);
    let mut r = Refusals::default();
    let unpaid_before = s.stored(&fx.unpaid).await;
    let notify = "/payments/notify";
    let callback = "/suppliers/{supplier}/package-status";

    // Forged payment notifications: every one 401, nothing changes.
    let unpaid_total = unpaid_before.total_cents.0;
    let body = json!({"order_id": fx.unpaid, "payment_id": "forged-1", "amount_cents": unpaid_total, "paid_at": integration_tests::now()}).to_string();
    for (name, sig) in forgeries(&mut rng, PAYMENT_SECRET, body.as_bytes()) {
        let req = signed_event(notify, None, &body, sig.as_deref());
        r.expect(
            "forged signature",
            &format!("payment, {name}"),
            &dev,
            H::Pay,
            req,
            (401, "invalid_signature"),
        )
        .await;
    }
    // Forged supplier callbacks.
    let cb = json!({"package_id": fx.drop, "status": "rejected", "at": integration_tests::now()})
        .to_string();
    for (name, sig) in forgeries(&mut rng, SUPPLIER_SECRET, cb.as_bytes()) {
        let req = signed_event(callback, Some(("supplier", "S-1")), &cb, sig.as_deref());
        r.expect(
            "forged signature",
            &format!("supplier, {name}"),
            &dev,
            H::Sync,
            req,
            (401, "invalid_signature"),
        )
        .await;
    }
    // Many more random ones, over random amounts and payment ids.
    for i in 0..extra {
        let body = json!({"order_id": fx.unpaid, "payment_id": format!("forged-{i}"), "amount_cents": unpaid_total, "paid_at": integration_tests::now()}).to_string();
        let sig: String = (0..32)
            .map(|_| format!("{:02x}", rng.next() as u8))
            .collect();
        let (route, param, h) = if i % 2 == 0 {
            (notify, None, H::Pay)
        } else {
            (callback, Some(("supplier", "S-1")), H::Sync)
        };
        let b = if i % 2 == 0 { body } else { cb.clone() };
        r.expect(
            "forged signature",
            "random",
            &dev,
            h,
            signed_event(route, param, &b, Some(&sig)),
            (401, "invalid_signature"),
        )
        .await;
    }

    // Replays: the same signed notification changes nothing again; its
    // signature on any other body is refused.
    let order = s.placed("eve", json!([{"sku": "TEA", "qty": 1}])).await;
    let id = order_id(&order);
    let body = notice(&order, "pay-replayed").to_string();
    let sig = sign(PAYMENT_SECRET, body.as_bytes());
    let (first, v) = verdict(
        &dev.call(H::Pay, signed_event(notify, None, &body, Some(&sig)))
            .await,
    )
    .expect("an answer");
    r.f.check(first == 200, || {
        format!("the genuine payment answered {first} {v}")
    });
    let version = s.stored(&id).await.version();
    for _ in 0..3 {
        let (again, v) = verdict(
            &dev.call(H::Pay, signed_event(notify, None, &body, Some(&sig)))
                .await,
        )
        .expect("an answer");
        *r.tried.entry("replayed signature").or_default() += 1;
        let ok = again == 200 && s.stored(&id).await.version() == version;
        r.refused += usize::from(ok);
        r.f.check(ok, || {
            format!("a replayed payment answered {again} {v} or changed the order")
        });
    }
    for (name, altered) in [
        (
            "another amount",
            json!({"order_id": id, "payment_id": "pay-replayed", "amount_cents": 1, "paid_at": integration_tests::now()}),
        ),
        (
            "another payment id",
            json!({"order_id": id, "payment_id": "pay-replayed-2", "amount_cents": order["total_cents"], "paid_at": integration_tests::now()}),
        ),
        (
            "another order",
            json!({"order_id": fx.unpaid, "payment_id": "pay-replayed", "amount_cents": unpaid_total, "paid_at": integration_tests::now()}),
        ),
    ] {
        let req = signed_event(notify, None, &altered.to_string(), Some(&sig));
        r.expect(
            "replayed signature",
            &format!("payment signature on {name}"),
            &dev,
            H::Pay,
            req,
            (401, "invalid_signature"),
        )
        .await;
    }
    let stored = s.stored(&id).await;
    r.f.check(
        events_for(&stored, "paid").len() == 1
            && stored.refunds().is_empty()
            && stored.version() == version,
        || format!("replays changed {id}: {:?}", stored.timeline()),
    );
    // A supplier callback replayed: applied once.
    let shipped = json!({"package_id": fx.drop, "status": "shipped", "tracking_no": "T-1", "at": integration_tests::now()}).to_string();
    let sig = sign(SUPPLIER_SECRET, shipped.as_bytes());
    let (first, v) = verdict(
        &dev.call(
            H::Sync,
            signed_event(callback, Some(("supplier", "S-1")), &shipped, Some(&sig)),
        )
        .await,
    )
    .expect("an answer");
    r.f.check(first == 200 && v["applied"] == true, || {
        format!("the genuine callback answered {first} {v}")
    });
    let version = s.stored(&fx.paid).await.version();
    for _ in 0..3 {
        let (again, v) = verdict(
            &dev.call(
                H::Sync,
                signed_event(callback, Some(("supplier", "S-1")), &shipped, Some(&sig)),
            )
            .await,
        )
        .expect("an answer");
        *r.tried.entry("replayed signature").or_default() += 1;
        let ok =
            again == 200 && v["applied"] == false && s.stored(&fx.paid).await.version() == version;
        r.refused += usize::from(ok);
        r.f.check(ok, || {
            format!("a replayed callback answered {again} {v} or changed the order")
        });
    }
    for (name, altered) in [
        (
            "rejected",
            json!({"package_id": fx.drop, "status": "rejected", "tracking_no": "T-1", "at": integration_tests::now()}),
        ),
        (
            "another package",
            json!({"package_id": fx.jd, "status": "shipped", "tracking_no": "T-1", "at": integration_tests::now()}),
        ),
    ] {
        let req = signed_event(
            callback,
            Some(("supplier", "S-1")),
            &altered.to_string(),
            Some(&sig),
        );
        r.expect(
            "replayed signature",
            &format!("supplier signature on {name}"),
            &dev,
            H::Sync,
            req,
            (401, "invalid_signature"),
        )
        .await;
    }
    // A signed callback from the wrong supplier.
    for (supplier, package) in [
        ("S-2", &fx.drop),
        ("jd", &fx.drop),
        ("S-1", &fx.jd),
        ("S-1", &fx.own),
        ("jd", &fx.own),
        ("WH-1", &fx.own),
    ] {
        let body =
            json!({"package_id": package, "status": "rejected", "at": integration_tests::now()})
                .to_string();
        let secret = integration_tests::stack::supplier_secret(supplier);
        let req = signed_event(
            callback,
            Some(("supplier", supplier)),
            &body,
            Some(&sign(&secret, body.as_bytes())),
        );
        // A warehouse is no supplier: it has no key.
        let expected = match supplier {
            "WH-1" => (401, "invalid_signature"),
            _ => (403, "wrong_supplier"),
        };
        r.expect(
            "wrong supplier",
            &format!("{supplier} on {package}"),
            &dev,
            H::Sync,
            req,
            expected,
        )
        .await;
    }

    // Another user's ids on every route: 404, as if they did not exist.
    let open = json!({"package_id": fx.own, "kind": "refund_only", "lines": [{"sku": "TEA", "qty": 1}], "reason": "mine now", "evidence": ["https://img.example.com/x.jpg"]});
    let ret = json!({"carrier": "SF", "tracking_no": "SF-9"});
    let lower = fx.paid.to_lowercase();
    let cross: Vec<(&str, H, Event, &str)> = vec![
        (
            "GET /orders/{id}",
            H::Orders,
            event("GET", "/orders/{id}", Some(("id", &fx.paid))),
            "order_not_found",
        ),
        (
            "GET /orders/{id} lower case",
            H::Orders,
            event("GET", "/orders/{id}", Some(("id", &lower))),
            "order_not_found",
        ),
        (
            "cancel",
            H::Cancel,
            event("POST", "/orders/{id}/cancel", Some(("id", &fx.unpaid))),
            "order_not_found",
        ),
        (
            "cancel a paid one",
            H::Cancel,
            event("POST", "/orders/{id}/cancel", Some(("id", &fx.waiting))),
            "order_not_found",
        ),
        (
            "repurchase",
            H::Place,
            event("POST", "/orders/{id}/repurchase", Some(("id", &fx.paid))),
            "order_not_found",
        ),
        (
            "repurchase dry run",
            H::Place,
            event("POST", "/orders/{id}/repurchase", Some(("id", &fx.paid)))
                .query("dry_run", "true"),
            "order_not_found",
        ),
        (
            "open a case",
            H::AfterSales,
            event("POST", "/orders/{id}/after-sales", Some(("id", &fx.paid))).json(&open),
            "order_not_found",
        ),
        (
            "GET a case",
            H::AfterSales,
            event("GET", "/after-sales/{case_id}", Some(("case_id", &fx.case))),
            "case_not_found",
        ),
        (
            "return shipment",
            H::AfterSales,
            event(
                "POST",
                "/after-sales/{case_id}/return-shipment",
                Some(("case_id", &fx.case)),
            )
            .json(&ret),
            "case_not_found",
        ),
        (
            "withdraw",
            H::AfterSales,
            event(
                "POST",
                "/after-sales/{case_id}/withdraw",
                Some(("case_id", &fx.case)),
            ),
            "case_not_found",
        ),
        (
            "review",
            H::AfterSales,
            event(
                "POST",
                "/after-sales/{case_id}/review",
                Some(("case_id", &fx.case)),
            )
            .json(&json!({"decision": "approve", "note": "x"})),
            "case_not_found",
        ),
        (
            "complete",
            H::AfterSales,
            event(
                "POST",
                "/after-sales/{case_id}/complete",
                Some(("case_id", &fx.case)),
            ),
            "case_not_found",
        ),
        (
            "confirm receipt",
            H::Sync,
            event(
                "POST",
                "/packages/{package_id}/confirm-receipt",
                Some(("package_id", &fx.drop)),
            ),
            "package_not_found",
        ),
    ];
    for (name, h, e, code) in cross {
        r.expect(
            "another user's id",
            name,
            &dev,
            h,
            e.user("mallory").build(),
            (404, code),
        )
        .await;
    }
    let reverse: Vec<(&str, H, Event, &str)> = vec![
        (
            "GET /orders/{id}",
            H::Orders,
            event("GET", "/orders/{id}", Some(("id", &fx.other))),
            "order_not_found",
        ),
        (
            "cancel",
            H::Cancel,
            event("POST", "/orders/{id}/cancel", Some(("id", &fx.other))),
            "order_not_found",
        ),
        (
            "repurchase",
            H::Place,
            event("POST", "/orders/{id}/repurchase", Some(("id", &fx.other))),
            "order_not_found",
        ),
        (
            "open a case",
            H::AfterSales,
            event("POST", "/orders/{id}/after-sales", Some(("id", &fx.other))).json(&open),
            "order_not_found",
        ),
        (
            "confirm receipt",
            H::Sync,
            event(
                "POST",
                "/packages/{package_id}/confirm-receipt",
                Some(("package_id", &fx.other_package)),
            ),
            "package_not_found",
        ),
    ];
    for (name, h, e, code) in reverse {
        r.expect(
            "another user's id",
            &format!("eve on mallory's: {name}"),
            &dev,
            h,
            e.user("eve").build(),
            (404, code),
        )
        .await;
    }
    // The list shows only one's own orders, and a cursor resumes only one's own list.
    let (_, eves) = verdict(
        &dev.call(
            H::Orders,
            event("GET", "/orders", None)
                .user("eve")
                .query("limit", "1")
                .build(),
        )
        .await,
    )
    .expect("an answer");
    let cursor = eves["next_cursor"]
        .as_str()
        .expect("eve has more than one order")
        .to_owned();
    *r.tried.entry("another user's id").or_default() += 2;
    let (status, list) = verdict(
        &dev.call(
            H::Orders,
            event("GET", "/orders", None).user("mallory").build(),
        )
        .await,
    )
    .expect("an answer");
    let theirs: Vec<&Value> = list["orders"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let ok = status == 200 && theirs.iter().all(|o| o["user_id"] == "mallory") && theirs.len() == 1;
    r.refused += usize::from(ok);
    r.f.check(ok, || format!("mallory's list: {status} {list}"));
    let (status, page) = verdict(
        &dev.call(
            H::Orders,
            event("GET", "/orders", None)
                .user("mallory")
                .query("cursor", &enc(&cursor))
                .build(),
        )
        .await,
    )
    .expect("an answer");
    let leaked = page["orders"]
        .as_array()
        .is_some_and(|a| a.iter().any(|o| o["user_id"] != "mallory"));
    let ok =
        (status == 400 && page["error"]["code"] == "invalid_cursor") || (status == 200 && !leaked);
    r.refused += usize::from(ok);
    r.f.check(ok, || format!("mallory with eve's cursor: {status} {page}"));

    // Not staff on staff routes: 403, nothing changes.
    let sku = json!({"name": "Tea", "price_cents": 1, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place", "available": 5});
    // (`admin`, `support` are staff roles since SPEC 2.11; `warehouse`
    // without its warehouse claim may do nothing.)
    for role in [None, Some("warehouse"), Some("staffer"), Some("")] {
        let who = |e: Event| match role {
            Some(role) => e.user("eve").header("x-user-role", role),
            None => e.user("eve"),
        };
        let staff_only: Vec<(&str, H, Event)> = vec![
            (
                "PUT /skus",
                H::Catalog,
                event("PUT", "/skus/{sku}", Some(("sku", "TEA"))).json(&sku),
            ),
            (
                "ship",
                H::Sync,
                event(
                    "POST",
                    "/packages/{package_id}/ship",
                    Some(("package_id", &fx.waiting_own)),
                )
                .json(&json!({"carrier": "SF", "tracking_no": "SF-2"})),
            ),
            (
                "review",
                H::AfterSales,
                event(
                    "POST",
                    "/after-sales/{case_id}/review",
                    Some(("case_id", &fx.case)),
                )
                .json(&json!({"decision": "approve", "note": "self-approved"})),
            ),
            (
                "complete",
                H::AfterSales,
                event(
                    "POST",
                    "/after-sales/{case_id}/complete",
                    Some(("case_id", &fx.case)),
                ),
            ),
            (
                "cancel one package",
                H::Cancel,
                event("POST", "/orders/{id}/cancel", Some(("id", &fx.waiting)))
                    .json(&json!({"package_id": fx.waiting_own})),
            ),
            (
                "resolve",
                H::Sync,
                event(
                    "POST",
                    "/packages/{package_id}/resolve",
                    Some(("package_id", &fx.waiting_own)),
                )
                .json(&json!({"outcome": "intercepted", "note": "x"})),
            ),
        ];
        for (name, h, e) in staff_only {
            r.expect(
                "not staff",
                &format!("{name} with role {role:?}"),
                &dev,
                h,
                who(e).build(),
                (403, "forbidden"),
            )
            .await;
        }
    }

    // JWT mode (deployed): the dev headers count for nothing.
    let jwt = Deployed::of(&s);
    let deployed = jwt.handlers();
    let identity_routes = |fx: &Fixture| -> Vec<(&'static str, H, Event)> {
        vec![
            (
                "PUT /skus",
                H::Catalog,
                event("PUT", "/skus/{sku}", Some(("sku", "TEA"))).json(&sku),
            ),
            (
                "POST /orders",
                H::Place,
                event("POST", "/orders", None).json(&integration_tests::place_body(
                    json!([{"sku": "TEA", "qty": 1}]),
                )),
            ),
            (
                "repurchase",
                H::Place,
                event("POST", "/orders/{id}/repurchase", Some(("id", &fx.paid))),
            ),
            ("GET /orders", H::Orders, event("GET", "/orders", None)),
            (
                "GET /orders/{id}",
                H::Orders,
                event("GET", "/orders/{id}", Some(("id", &fx.paid))),
            ),
            (
                "cancel",
                H::Cancel,
                event("POST", "/orders/{id}/cancel", Some(("id", &fx.unpaid))),
            ),
            (
                "ship",
                H::Sync,
                event(
                    "POST",
                    "/packages/{package_id}/ship",
                    Some(("package_id", &fx.waiting_own)),
                )
                .json(&json!({"carrier": "SF", "tracking_no": "SF-3"})),
            ),
            (
                "confirm receipt",
                H::Sync,
                event(
                    "POST",
                    "/packages/{package_id}/confirm-receipt",
                    Some(("package_id", &fx.drop)),
                ),
            ),
            (
                "open a case",
                H::AfterSales,
                event("POST", "/orders/{id}/after-sales", Some(("id", &fx.paid))).json(&open),
            ),
            (
                "GET a case",
                H::AfterSales,
                event("GET", "/after-sales/{case_id}", Some(("case_id", &fx.case))),
            ),
            (
                "review",
                H::AfterSales,
                event(
                    "POST",
                    "/after-sales/{case_id}/review",
                    Some(("case_id", &fx.case)),
                )
                .json(&json!({"decision": "approve", "note": "x"})),
            ),
            (
                "return shipment",
                H::AfterSales,
                event(
                    "POST",
                    "/after-sales/{case_id}/return-shipment",
                    Some(("case_id", &fx.case)),
                )
                .json(&ret),
            ),
            (
                "complete",
                H::AfterSales,
                event(
                    "POST",
                    "/after-sales/{case_id}/complete",
                    Some(("case_id", &fx.case)),
                ),
            ),
            (
                "withdraw",
                H::AfterSales,
                event(
                    "POST",
                    "/after-sales/{case_id}/withdraw",
                    Some(("case_id", &fx.case)),
                ),
            ),
        ]
    };
    for (name, h, e) in identity_routes(&fx) {
        r.expect(
            "JWT without claims",
            &format!("{name}, dev headers only"),
            &deployed,
            h,
            e.user("eve").staff().build(),
            (401, "unauthorized"),
        )
        .await;
    }
    for (name, h, e) in identity_routes(&fx) {
        r.expect(
            "JWT without claims",
            &format!("{name}, no identity"),
            &deployed,
            h,
            e.build(),
            (401, "unauthorized"),
        )
        .await;
    }
    for (name, h, e) in identity_routes(&fx) {
        let claims = json!({"cognito:groups": "[staff]"});
        r.expect(
            "JWT without claims",
            &format!("{name}, staff group but no sub"),
            &deployed,
            h,
            e.claims(claims).build(),
            (401, "unauthorized"),
        )
        .await;
    }
    for (name, h, e) in identity_routes(&fx)
        .into_iter()
        .filter(|(n, ..)| matches!(*n, "PUT /skus" | "ship" | "review" | "complete"))
    {
        let claims = json!({"sub": "eve", "cognito:groups": "[customers]"});
        let req = e.claims(claims).header("x-user-role", "staff").build();
        let code = "forbidden";
        r.expect(
            "not staff",
            &format!("{name}, JWT without a staff group, staff header"),
            &deployed,
            h,
            req,
            (403, code),
        )
        .await;
    }
    // With claims, the claims decide, not the headers.
    let req = event("GET", "/orders/{id}", Some(("id", &fx.other)))
        .claims(json!({"sub": "eve"}))
        .user("mallory")
        .build();
    r.expect(
        "another user's id",
        "JWT eve with mallory's header",
        &deployed,
        H::Orders,
        req,
        (404, "order_not_found"),
    )
    .await;

    // Nothing any of them tried changed anything.
    let unpaid = s.stored(&fx.unpaid).await;
    r.f.check(
        unpaid.version() == unpaid_before.version() && !unpaid.is_paid(),
        || format!("the unpaid order changed: {unpaid:?}"),
    );
    let tea = s.t.get_sku("TEA").await;
    r.f.check(tea["price_cents"] == 1300, || format!("TEA changed: {tea}"));
    let waiting = s.stored(&fx.waiting).await;
    r.f.check(
        waiting
            .packages()
            .iter()
            .all(|p| p.status().as_str() == "pending"),
        || format!("the waiting order changed: {waiting:?}"),
    );
    let (_, case) = s.case("staff-1", true, &fx.case, "", None).await;
    r.f.check(case["status"] == "requested", || {
        format!("the case changed: {case}")
    });

    let total: usize = r.tried.values().sum();
    let kinds: Vec<String> = r.tried.iter().map(|(k, v)| format!("{v} {k}")).collect();
    eprintln!(
        "stress security: {} attempts ({}), {} refused, {} accepted; seed {seed}",
        n(total),
        kinds.join(", "),
        n(r.refused),
        total - r.refused
    );
    r.f.assert_none("security");
}
