//! The random order lives of `testkit::lives` on DynamoDB Local: the real
//! store held to the same invariants as the memory store, after every step.
//! `LIVES_DYNAMO` sets how many lives (default 20; `scripts/stress`: 200).

use domain::time::Timestamp;
use integration_tests::TestApp;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use testkit::lives;

fn lives_to_run() -> u32 {
    std::env::var("LIVES_DYNAMO")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

#[test]
fn every_order_life_adds_up_on_dynamodb_local() {
    // A life's step is one large match over every use case: in a debug
    // build its poll frame alone approaches the test thread's 2 MiB (it
    // overflowed once the refund steps grew), so the lives get a thread
    // with room of their own. Release builds (what Lambda runs) keep
    // frames small; the functions' own requests are not this deep.
    std::thread::Builder::new()
        .name("lives".into())
        .stack_size(32 << 20)
        .spawn(run_lives)
        .expect("a thread for the lives")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

fn run_lives() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut runner = TestRunner::new(RunnerConfig {
        cases: lives_to_run(),
        max_shrink_iters: 64,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let started = std::time::Instant::now();
    let result = runner.run(&lives::life(40), |life| {
        rt.block_on(async {
            let t = TestApp::spawn_with(lives::config()).await;
            lives::run(t.app.store.clone(), "", Timestamp::now(), &life)
                .await
                .map(|_| ())
                .map_err(TestCaseError::fail)
        })
    });
    eprintln!(
        "{} lives on DynamoDB Local in {:.1?}",
        lives_to_run(),
        started.elapsed()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
