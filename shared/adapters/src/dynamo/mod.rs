//! The DynamoDB store: one table, conditional writes and transactions. One
//! file per thing stored: [`catalog`] (SKUs), [`orders`] (placement and
//! reads), [`ledger`] (transitions, payments, cases, the due index); item
//! shapes in [`item`], every key in [`keys`].

pub mod catalog;
pub mod cursor;
pub mod item;
pub mod keys;
pub mod ledger;
pub mod orders;
pub mod queues;
#[cfg(feature = "local")]
pub mod schema;
pub mod storefronts;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::Client;
use domain::error::StoreError;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub use item::order_item;

pub type Item = HashMap<String, AttributeValue>;

/// DynamoDB's limit on items in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// Attempts of a transaction that keeps colliding with concurrent ones or
/// being throttled (within the request's time in any case).
const WRITE_ATTEMPTS: u32 = 12;
/// Time kept back from a request's deadline to answer "busy" in.
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// When this request's retries must stop (its invocation's deadline).
    deadline: Option<Instant>,
    /// SKU items as recently read, shared by every request of this process.
    recent_skus: catalog::RecentSkus,
    /// Storefronts as recently read, shared by every request of this process.
    storefronts: storefronts::StorefrontCopy,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// DynamoDB's answers that mean "too fast for this partition (or table)".
const THROTTLING: [&str; 3] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
];

/// A failed call: throttling the SDK's own retries did not outlast, or a
/// call that ran out of its time ([`client_settings`]), is `Busy` (503 with
/// Retry-After: the table is slow, not broken), anything else `Failed`.
fn sdk_error<E>(
    e: aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    use aws_sdk_dynamodb::error::SdkError;
    let timed_out = match &e {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_timeout(),
        _ => false,
    };
    let function = crate::telemetry::function();
    if timed_out {
        metrics::counter!("DynamoDbTimeouts", "function" => function).increment(1);
        return StoreError::Busy(format!("timed out: {}", DisplayErrorContext(e)));
    }
    if e.code().is_some_and(|c| THROTTLING.contains(&c)) {
        metrics::counter!("DynamoDbThrottles", "function" => function).increment(1);
        return StoreError::Busy(format!("throttled: {}", DisplayErrorContext(e)));
    }
    StoreError::Failed(DisplayErrorContext(e).to_string())
}

/// A request that could not be built.
fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Failed(DisplayErrorContext(e).to_string())
}

fn decode_error(what: &str, e: serde_dynamo::Error) -> StoreError {
    StoreError::Failed(format!("stored {what} is malformed: {e}"))
}

fn key_map((pk, sk): (String, String)) -> Item {
    HashMap::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// Why a write is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Again {
    /// Another transaction held an item: it is over in milliseconds.
    Conflict,
    /// The partition is over its write rate: back off for longer.
    Throttled,
}

/// The longest wait before try `attempt + 1`, in milliseconds.
fn backoff_ceiling(again: Again, attempt: u32) -> u64 {
    let (base_ms, cap_ms) = match again {
        Again::Conflict => (5u64, 250),
        Again::Throttled => (25, 1_000),
    };
    (base_ms << attempt.min(8)).min(cap_ms)
}

/// Full-jitter exponential backoff: a conflict waits up to 5 ms x 2^attempt
/// (at most 250 ms): the other transaction is over in milliseconds. A
/// throttled write waits up to 25 ms x 2^attempt (at most 1 s): a partition
/// over its rate frees capacity to one writer at a time, and quick retries by
/// every waiting request only add throttled calls.
fn backoff_wait(again: Again, attempt: u32) -> Duration {
    let ceiling = backoff_ceiling(again, attempt);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Duration::from_millis(1 + u64::from(nanos) % ceiling)
}

/// The SDK's own retries and timeouts for the store's client: one retry of a
/// failed attempt (after at most 250 ms), each attempt within 4 s and the
/// whole call within twice that (the functions' timeout is 10 s; a call that
/// runs out of time answers 503 busy). `DYNAMODB_ATTEMPT_TIMEOUT_MS` sets the
/// attempt's limit (the local scripts give DynamoDB Local 30 s). Conflicts and throttling are retried by the store
/// itself, up to the request's deadline; the SDK's retries must not stack
/// under those unbounded (its default backoff reaches 20 s). Each call is
/// traced ([`crate::xray`]).
pub fn client_settings(b: aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder {
    use aws_sdk_dynamodb::config::{retry::RetryConfig, timeout::TimeoutConfig};
    let attempt = std::env::var("DYNAMODB_ATTEMPT_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(4), Duration::from_millis);
    b.retry_config(
        RetryConfig::standard()
            .with_max_attempts(2)
            .with_max_backoff(Duration::from_millis(250)),
    )
    .timeout_config(
        TimeoutConfig::builder()
            .operation_attempt_timeout(attempt)
            .operation_timeout(attempt * 2)
            .build(),
    )
    .interceptor(crate::xray::XRayInterceptor::default())
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            deadline: None,
            recent_skus: catalog::RecentSkus::default(),
            storefronts: storefronts::StorefrontCopy::default(),
        }
    }

    /// The same store for one request that must answer by `deadline`: every
    /// retry loop (transaction conflicts, unprocessed keys, a change decided
    /// again) stops in time and answers busy.
    pub fn until(&self, deadline: Instant) -> Self {
        Self {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    /// Waits before trying again ([`backoff_wait`]), never past the time
    /// kept to answer in.
    async fn backoff(&self, again: Again, attempt: u32) {
        tokio::time::sleep(self.clamp(backoff_wait(again, attempt))).await;
    }

    /// `wait`, cut to what is left before the request's deadline (less the
    /// margin to answer in).
    fn clamp(&self, wait: Duration) -> Duration {
        match self.deadline {
            Some(d) => wait.min(d.saturating_duration_since(Instant::now() + ANSWER_MARGIN)),
            None => wait,
        }
    }

    /// True when a retry would run past the request's deadline.
    pub fn out_of_time(&self) -> bool {
        self.deadline
            .is_some_and(|d| Instant::now() + ANSWER_MARGIN >= d)
    }

    /// Opens the connection (TLS included) during the function's init, which
    /// runs at full CPU, so the first request does not pay for it: one read of
    /// an item that never exists, under a key prefix the function may read.
    pub async fn warm(&self, key_prefix: &str) {
        let key = (format!("{key_prefix}warmup"), "WARMUP".to_owned());
        if let Err(e) = self.get(key).await {
            tracing::debug!(error = %e, "warm-up read failed");
        }
    }

    fn busy(&self, what: &str) -> StoreError {
        StoreError::Busy(format!("{what}: gave up retrying"))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, key: (String, String)) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

    /// Runs a transaction, retrying while it only collides with concurrent
    /// ones or is throttled. `refused` turns the cancellation reasons of a failed condition
    /// into the caller's error; `None` means no condition failed.
    async fn transact<E: From<StoreError>>(
        &self,
        items: Vec<TransactWriteItem>,
        refused: impl Fn(&[CancellationReason]) -> Option<E>,
    ) -> Result<(), E> {
        if items.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Failed(format!(
                "{} items exceed one transaction",
                items.len()
            ))
            .into());
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let again = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    if let Some(e) = refused(c.cancellation_reasons()) {
                        return Err(e);
                    }
                    // No condition failed: an item was held by another
                    // transaction, or its partition was over its rate.
                    let codes: Vec<_> = c.cancellation_reasons().iter().map(|r| r.code()).collect();
                    if codes.contains(&Some("ThrottlingError")) {
                        Some(Again::Throttled)
                    } else if codes.contains(&Some("TransactionConflict")) {
                        Some(Again::Conflict)
                    } else {
                        None
                    }
                }
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                    Some(Again::Conflict)
                }
                Some(other) if other.code() == Some("TransactionConflict") => Some(Again::Conflict),
                Some(other) if other.code().is_some_and(|c| THROTTLING.contains(&c)) => {
                    Some(Again::Throttled)
                }
                _ => None,
            };
            let Some(again) = again else {
                return Err(sdk_error(err).into());
            };
            if attempt >= WRITE_ATTEMPTS || self.out_of_time() {
                return Err(self
                    .busy(match again {
                        Again::Conflict => "a transaction kept colliding",
                        Again::Throttled => "a transaction kept being throttled",
                    })
                    .into());
            }
            self.backoff(again, attempt).await;
        }
    }
}

/// `Ok(false)` when a conditional write was refused by its condition.
fn accepted<O, E>(
    result: Result<
        O,
        aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
    refused: impl Fn(&E) -> bool,
) -> Result<bool, StoreError>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(&refused) => Ok(false),
        Err(e) => Err(sdk_error(e)),
    }
}

fn update(
    table: &str,
    key: (String, String),
    expr: &str,
    values: Vec<(&str, AttributeValue)>,
    condition: Option<&str>,
) -> Result<TransactWriteItem, StoreError> {
    let mut u = Update::builder()
        .table_name(table)
        .set_key(Some(key_map(key)))
        .update_expression(expr)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    for (name, value) in values {
        u = u.expression_attribute_values(name, value);
    }
    if let Some(c) = condition {
        u = u.condition_expression(c);
    }
    Ok(TransactWriteItem::builder()
        .update(u.build().map_err(build_error)?)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> DynamoStore {
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        DynamoStore::new(Client::from_conf(conf), "t")
    }

    #[test]
    fn a_wait_never_runs_past_the_deadline() {
        let s = store().until(Instant::now() + ANSWER_MARGIN + Duration::from_millis(100));
        assert!(s.clamp(Duration::from_secs(1)) <= Duration::from_millis(100));
        let late = store().until(Instant::now());
        assert_eq!(late.clamp(Duration::from_secs(1)), Duration::ZERO);
        assert_eq!(
            store().clamp(Duration::from_secs(1)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn throttled_waits_grow_longer_than_conflicts() {
        let ceilings = |again| {
            (0..12)
                .map(|a| backoff_ceiling(again, a))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ceilings(Again::Conflict),
            [5, 10, 20, 40, 80, 160, 250, 250, 250, 250, 250, 250]
        );
        assert_eq!(
            ceilings(Again::Throttled),
            [25, 50, 100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000, 1000]
        );
        for attempt in 0..12 {
            assert!(
                backoff_ceiling(Again::Throttled, attempt)
                    > backoff_ceiling(Again::Conflict, attempt)
            );
            // Full jitter: every wait is 1 ms up to the ceiling.
            for again in [Again::Conflict, Again::Throttled] {
                let wait = backoff_wait(again, attempt).as_millis() as u64;
                assert!(
                    (1..=backoff_ceiling(again, attempt)).contains(&wait),
                    "{wait}"
                );
            }
        }
    }
}
