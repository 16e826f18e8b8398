//! The scheduled sweep: expires unpaid orders past their deadline (SPEC 2.7),
//! confirms receipt of packages shipped `AUTO_CONFIRM_DAYS` ago (SPEC 2.5),
//! and re-publishes messages whose first publication failed.

use adapters::sqs::SqsPublisher;
use adapters::App;
use domain::error::StoreError;
use domain::order::sweep::{sweep, SweepSummary};
use domain::time::Timestamp;

/// Orders handled per run; a larger backlog drains over the next runs.
pub const DEFAULT_BUDGET: u32 = 200;

pub struct Expire {
    pub app: App,
    pub publisher: SqsPublisher,
    pub budget: u32,
}

/// Any event will do (EventBridge's scheduled event, or `{}` by hand).
pub async fn handle(e: &Expire, _event: serde_json::Value) -> Result<SweepSummary, StoreError> {
    let summary = sweep(
        &e.app.store,
        &e.publisher,
        &e.app.config,
        e.budget,
        Timestamp::now(),
    )
    .await?;
    tracing::info!(
        expired = summary.expired,
        confirmed = summary.confirmed,
        skipped = summary.skipped,
        failed = summary.failed,
        republished = summary.republished,
        more_due = summary.more_due,
        "sweep"
    );
    Ok(summary)
}
