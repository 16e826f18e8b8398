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
    // The gauge's reads run beside the sweep's, not after them.
    let (summary, ()) = tokio::join!(
        sweep(
            &e.app.store,
            &e.publisher,
            &e.app.config,
            e.budget,
            Timestamp::now(),
        ),
        attention_gauge(e)
    );
    let summary = summary?;
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

/// Publishes `AttentionOpen` per storefront, the open items of the attention
/// list, and `AttentionOpenTotal` (what the attention alarm watches). A
/// failed count is logged and the total left out, never failing the sweep.
async fn attention_gauge(e: &Expire) {
    use domain::backoffice::queues::{Queue, QueueQuery, WorkQueues};
    use domain::ports::Storefronts;
    let storefronts = match e.app.store.list_storefronts().await {
        Ok(list) => list.into_iter().map(|s| s.id).collect::<Vec<_>>(),
        Err(err) => {
            tracing::warn!(error = %err, "attention gauge: storefronts not read");
            return;
        }
    };
    let mut ids = storefronts;
    if !ids.contains(&domain::storefront::StorefrontId::default_id()) {
        ids.push(domain::storefront::StorefrontId::default_id());
    }
    let mut total = 0u64;
    for sf in ids {
        let q = QueueQuery {
            queue: Queue::Attention,
            scope: Some(String::new()),
            storefronts: vec![sf.clone()],
            before: None,
            limit: 0,
            cursor: None,
        };
        match e.app.store.queue_count(&q).await {
            Ok(counts) => {
                let n: u64 = counts.values().sum();
                total += n;
                metrics::gauge!("AttentionOpen", "storefront" => sf.to_string()).set(n as f64);
            }
            Err(err) => {
                tracing::warn!(storefront = %sf, error = %err, "attention gauge: not counted");
                return;
            }
        }
    }
    metrics::gauge!("AttentionOpenTotal").set(total as f64);
}
