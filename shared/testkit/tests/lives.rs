//! Random order lives on the memory store: after every step, money, stock,
//! limits, statuses and actions hold (testkit::lives), and the order events
//! of every write tell a consumer every status reached (testkit::stream). `LIVES` sets how
//! many (default 300; `scripts/stress` runs 10,000).

use domain::time::Timestamp;
use proptest::prelude::*;
use testkit::lives;
use testkit::memory::MemoryStore;

fn lives_to_run() -> u32 {
    std::env::var("LIVES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// One life on a thread with room: a life's step is one large match over
/// every use case, whose poll frame in a debug build nears a test thread's
/// 2 MiB stack.
fn run(life: &[lives::Cmd]) -> Result<std::collections::BTreeMap<&'static str, u64>, String> {
    let life = life.to_vec();
    std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(async {
                    let store = MemoryStore::new();
                    let mut counts = lives::run(store.clone(), "", Timestamp::now(), &life).await?;
                    let events = testkit::stream::check(&store.stream(), &store.orders())?;
                    let schema = testkit::schema::Schema::new(
                        serde_json::from_str(include_str!("../../../docs/events.schema.json"))
                            .expect("docs/events.schema.json"),
                    );
                    for e in events {
                        let detail = serde_json::to_value(&e).expect("an event serializes");
                        let errors = schema.errors(&detail);
                        if !errors.is_empty() {
                            return Err(format!(
                                "{detail} breaks docs/events.schema.json: {errors:?}"
                            ));
                        }
                        *counts.entry(e.kind.as_str()).or_default() += 1;
                    }
                    Ok(counts)
                })
        })
        .expect("a thread for the life")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: lives_to_run(),
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_order_life_adds_up(life in lives::life(60)) {
        let r = run(&life);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

/// What the lives did, summed, and how long they took: the figures the
/// note reports (printed; `--nocapture` shows them).
#[test]
fn lives_cover_every_kind_of_step() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let n = lives_to_run().min(300);
    let mut runner = TestRunner::deterministic();
    let mut totals: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let started = std::time::Instant::now();
    for _ in 0..n {
        let life = lives::life(60)
            .new_tree(&mut runner)
            .expect("a life")
            .current();
        for (k, v) in run(&life).expect("a life that adds up") {
            *totals.entry(k).or_default() += v;
        }
    }
    eprintln!("{n} lives in {:.2?}: {totals:?}", started.elapsed());
    for step in [
        "placed",
        "paid",
        "cancelled",
        "delivered",
        "callback applied",
        "cases opened",
        "case step",
        "actions tried",
        "ticks",
        "order.placed",
        "order.paid",
        "order.cancelled",
        "order.closed",
        "order.completed",
        "package.forwarded",
        "package.shipped",
        "package.received",
        "package.rejected",
        "refund.recorded",
        "case.opened",
        "case.completed",
    ] {
        assert!(
            totals.get(step).copied().unwrap_or(0) > 0,
            "no {step} in {n} lives: {totals:?}"
        );
    }
}
