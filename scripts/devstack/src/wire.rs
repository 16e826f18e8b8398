//! `devstack wire`: what AWS does between the functions, played against the
//! local stack through `cargo lambda watch`'s invoke API.
//!
//! - The SQS event source mappings of `forward` and `refund` (template.yaml: BatchSize 10,
//!   ReportBatchItemFailures): long-polls the forward queue, hands each batch
//!   to `forward` as Lambda's SQS event, then deletes the messages the
//!   function did not report as failed. If the invocation fails, or its
//!   answer is not a valid partial batch response, nothing is deleted: the
//!   whole batch comes back after the queue's visibility timeout (and after
//!   maxReceiveCount receives, SQS moves a message to the dead-letter queue).
//! - The DynamoDB stream event source of `events` (template.yaml's
//!   OrderStream): polls the table's stream every second and hands its order
//!   records to `events` as adapters::local_streams does for the tests
//!   (filtered, batched, retried from a reported failure, then described on
//!   the on-failure queue).
//! - The EventBridge Scheduler schedule of `expire`: invokes it every
//!   `EXPIRE_EVERY_SECS` (default 60, as deployed) and logs its summary.

use crate::invoke::{snippet, InvokeError, Invoker};
use crate::Error;
use adapters::local_queues::lambda_event;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use domain::time::Timestamp;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Long-poll wait of one ReceiveMessage.
const WAIT_SECS: i32 = 2;
/// The batch size of the event source mapping (template.yaml).
const BATCH_SIZE: i32 = 10;
/// Pause after a failed ReceiveMessage, so a stopped emulator is not hammered.
const RECEIVE_BACKOFF: Duration = Duration::from_secs(2);
/// How long an `expire` invocation may take (its template Timeout is 60 s;
/// locally, watch may have to compile it first).
const EXPIRE_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Options {
    pub api: String,
    pub forward_queue_url: String,
    pub refund_queue_url: String,
    pub expire_every: Duration,
    pub table: String,
    pub streams_endpoint: String,
    pub events_dlq_url: String,
}

macro_rules! log {
    ($($arg:tt)*) => {
        println!("{} {}", Timestamp::now().to_rfc3339(), format_args!($($arg)*))
    };
}

pub async fn run(opts: Options) -> Result<(), Error> {
    let invoker = Invoker::new(&opts.api)?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let forward = Source::read(&sqs, "forward", &opts.forward_queue_url).await?;
    let refund = Source::read(&sqs, "refund", &opts.refund_queue_url).await?;
    log!(
        "wire: {} -> forward, {} -> refund; expire every {}s; invoke API {}",
        forward.arn,
        refund.arn,
        opts.expire_every.as_secs(),
        invoker.url("<function>")
    );
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let reader =
        adapters::local_streams::StreamReader::open(&dynamodb, &opts.streams_endpoint, &opts.table)
            .await?;
    let stream = adapters::local_streams::StreamSource::from_template()?;
    log!("wire: {} -> events", reader.arn());
    tokio::join!(
        consume_loop(&sqs, &invoker, &forward),
        consume_loop(&sqs, &invoker, &refund),
        expire_loop(&invoker, opts.expire_every),
        stream_loop(&sqs, &invoker, reader, &stream, &opts.events_dlq_url),
    );
    Ok(())
}

/// A queue and the function its event source mapping invokes.
struct Source {
    function: &'static str,
    url: String,
    arn: String,
    /// The invocation may take as long as the messages stay invisible;
    /// after that SQS hands them out again anyway.
    timeout: Duration,
}

impl Source {
    async fn read(
        sqs: &aws_sdk_sqs::Client,
        function: &'static str,
        url: &str,
    ) -> Result<Source, Error> {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .send()
            .await
            .map_err(|e| format!("{function} queue {url}: {}", DisplayErrorContext(e)))?
            .attributes
            .unwrap_or_default();
        let arn = attrs
            .get(&QueueAttributeName::QueueArn)
            .cloned()
            .ok_or_else(|| format!("{function} queue {url}: no QueueArn"))?;
        let visibility: u64 = attrs
            .get(&QueueAttributeName::VisibilityTimeout)
            .and_then(|v| v.parse().ok())
            .unwrap_or(30);
        Ok(Source {
            function,
            url: url.to_owned(),
            arn,
            timeout: Duration::from_secs(visibility.max(5)),
        })
    }
}

async fn consume_loop(sqs: &aws_sdk_sqs::Client, invoker: &Invoker, source: &Source) {
    let (function, url) = (source.function, source.url.as_str());
    loop {
        // No visibility timeout given: the queue's own applies, as for an
        // event source mapping.
        let received = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(BATCH_SIZE)
            .wait_time_seconds(WAIT_SECS)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                log!(
                    "{function}: ReceiveMessage failed: {}",
                    DisplayErrorContext(e)
                );
                tokio::time::sleep(RECEIVE_BACKOFF).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        deliver(sqs, invoker, source, &messages).await;
    }
}

/// One batch: invoke, then delete what succeeded. Logs one line.
async fn deliver(
    sqs: &aws_sdk_sqs::Client,
    invoker: &Invoker,
    source: &Source,
    messages: &[Message],
) {
    let (function, url) = (source.function, source.url.as_str());
    let started = Instant::now();
    let n = messages.len();
    let event = lambda_event(messages, &source.arn);
    let failed = match invoker.invoke(function, &event, source.timeout).await {
        Ok(answer) => match batch_failures(&answer, messages) {
            Ok(failed) => failed,
            Err(why) => {
                log!("{function}: {n} received, none deleted (whole batch retried): {why}");
                return;
            }
        },
        Err(e) => {
            let what = match e {
                InvokeError::Transport(_) => "invocation failed",
                InvokeError::Function { .. } => "function failed",
            };
            log!("{function}: {n} received, none deleted (whole batch retried): {what}: {e}");
            return;
        }
    };
    let done: Vec<&Message> = messages
        .iter()
        .filter(|m| !failed.contains(m.message_id().unwrap_or_default()))
        .collect();
    let not_deleted = delete(sqs, url, &done).await;
    let mut line = format!(
        "{function}: {n} received, {} deleted, {} failed",
        done.len() - not_deleted.len(),
        failed.len()
    );
    if !failed.is_empty() {
        let mut ids: Vec<&str> = failed.iter().map(String::as_str).collect();
        ids.sort_unstable();
        line.push_str(&format!(" (retried: {})", ids.join(", ")));
    }
    if !not_deleted.is_empty() {
        line.push_str(&format!(
            "; DeleteMessage failed: {}",
            not_deleted.join("; ")
        ));
    }
    log!("{line} in {} ms", started.elapsed().as_millis());
}

/// The message ids the function reported as failed. As Lambda does, an answer
/// that is not a partial batch response, or that names an empty or unknown
/// id, fails the whole batch (`Err`).
fn batch_failures(answer: &Value, messages: &[Message]) -> Result<HashSet<String>, String> {
    let list = answer
        .get("batchItemFailures")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            format!(
                "the answer is not an SqsBatchResponse: {}",
                snippet(&answer.to_string())
            )
        })?;
    let ids: HashSet<&str> = messages.iter().filter_map(|m| m.message_id()).collect();
    let mut failed = HashSet::new();
    for item in list {
        let id = item
            .get("itemIdentifier")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !ids.contains(id) {
            return Err(format!(
                "batchItemFailures names {item} which is not in the batch"
            ));
        }
        failed.insert(id.to_owned());
    }
    Ok(failed)
}

/// Deletes `done` (at most 10, one batch); returns what could not be deleted.
async fn delete(sqs: &aws_sdk_sqs::Client, url: &str, done: &[&Message]) -> Vec<String> {
    if done.is_empty() {
        return Vec::new();
    }
    let entries: Result<Vec<_>, _> = done
        .iter()
        .enumerate()
        .map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .build()
        })
        .collect();
    let entries = match entries {
        Ok(e) => e,
        Err(e) => return vec![DisplayErrorContext(e).to_string()],
    };
    match sqs
        .delete_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await
    {
        Ok(out) => out
            .failed()
            .iter()
            .map(|f| format!("{} {}", f.code(), f.message().unwrap_or_default()))
            .collect(),
        Err(e) => vec![DisplayErrorContext(e).to_string()],
    }
}

/// What EventBridge Scheduler hands `expire` (the function accepts any event).
pub fn scheduler_event(now: Timestamp) -> Value {
    json!({
        "version": "0",
        "id": format!("devstack-{}", now.unix_millis()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "000000000000",
        "time": now.to_rfc3339(),
        "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:000000000000:schedule/default/expire-every-minute"],
        "detail": {}
    })
}

/// The table's stream to `events`, once a second.
async fn stream_loop(
    sqs: &aws_sdk_sqs::Client,
    invoker: &Invoker,
    mut reader: adapters::local_streams::StreamReader,
    source: &adapters::local_streams::StreamSource,
    dlq_url: &str,
) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let records = match reader.poll().await {
            Ok(r) if r.is_empty() => continue,
            Ok(r) => r,
            Err(e) => {
                log!("events: reading the stream: {e}");
                tokio::time::sleep(RECEIVE_BACKOFF).await;
                continue;
            }
        };
        let started = Instant::now();
        let arn = reader.arn().to_owned();
        let done = adapters::local_streams::deliver(
            source,
            records,
            &arn,
            sqs,
            dlq_url,
            |event| async move {
                invoker
                    .invoke("events", &event, EXPIRE_TIMEOUT)
                    .await
                    .map_err(|e| e.to_string())
            },
        )
        .await;
        match done {
            Ok(d) if d.records == 0 => {}
            Ok(d) => log!(
                "events: {} order records, {} invocations, {} batches to the on-failure queue in {} ms",
                d.records,
                d.invocations,
                d.sent_to_failure_queue,
                started.elapsed().as_millis()
            ),
            Err(e) => log!("events: {e}"),
        }
    }
}

async fn expire_loop(invoker: &Invoker, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once: an overdue backlog is swept at start.
    loop {
        tick.tick().await;
        let started = Instant::now();
        match invoker
            .invoke("expire", &scheduler_event(Timestamp::now()), EXPIRE_TIMEOUT)
            .await
        {
            Ok(summary) => log!("expire: {summary} in {} ms", started.elapsed().as_millis()),
            Err(e) => log!("expire: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str) -> Message {
        Message::builder()
            .message_id(id)
            .receipt_handle(format!("rh-{id}"))
            .body("{}")
            .build()
    }

    #[test]
    fn failures_are_read_from_the_partial_batch_response() {
        let batch = [msg("a"), msg("b"), msg("c")];
        let none = batch_failures(&json!({"batchItemFailures": []}), &batch).unwrap();
        assert!(none.is_empty());
        let one = batch_failures(
            &json!({"batchItemFailures": [{"itemIdentifier": "b"}]}),
            &batch,
        )
        .unwrap();
        assert_eq!(one, HashSet::from(["b".to_owned()]));
    }

    #[test]
    fn a_malformed_answer_fails_the_whole_batch() {
        let batch = [msg("a")];
        for answer in [
            json!(null),
            json!({}),
            json!({"batchItemFailures": "a"}),
            json!({"batchItemFailures": [{"itemIdentifier": ""}]}),
            json!({"batchItemFailures": [{"itemIdentifier": "zzz"}]}),
            json!({"batchItemFailures": [{}]}),
        ] {
            assert!(batch_failures(&answer, &batch).is_err(), "{answer}");
        }
    }

    #[test]
    fn the_scheduler_event_looks_like_eventbridge() {
        let e = scheduler_event(Timestamp::from_unix(1_795_000_000));
        assert_eq!(e["source"], "aws.scheduler");
        assert_eq!(e["detail-type"], "Scheduled Event");
        assert!(e["time"].as_str().unwrap().ends_with('Z'));
    }
}
