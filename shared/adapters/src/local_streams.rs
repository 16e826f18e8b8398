//! The table's stream for the local stack and the tests: what Lambda's
//! DynamoDB event source mapping does with `EventsFunction` when deployed
//! (template.yaml's `OrderStream` event, read from there): read every shard
//! from its start, keep the records its filter lets through, hand them to
//! the function in batches, retry from the record it reports as failed,
//! and once the retries are spent put the batch's description on the
//! on-failure queue. Only with the `local` feature.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;

const TEMPLATE: &str = include_str!("../../../template.yaml");

/// The event source mapping as the template sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSource {
    pub batch_size: usize,
    pub max_retries: u32,
    /// The sort keys the filter lets through (`dynamodb.Keys.sk.S`).
    pub sort_keys: Vec<String>,
    /// Logical id of the on-failure queue.
    pub on_failure: String,
}

impl StreamSource {
    /// `EventsFunction`'s stream event in template.yaml.
    pub fn from_template() -> Result<StreamSource, String> {
        let doc: serde_yaml::Value = serde_yaml::from_str(TEMPLATE).map_err(|e| e.to_string())?;
        let props = doc
            .get("Resources")
            .and_then(|r| r.get("EventsFunction"))
            .and_then(|f| f.get("Properties"))
            .and_then(|p| p.get("Events"))
            .and_then(|e| e.get("OrderStream"))
            .and_then(|s| s.get("Properties"))
            .ok_or("EventsFunction has no OrderStream event")?;
        let num = |name: &str| {
            props
                .get(name)
                .and_then(|v| v.as_u64())
                .ok_or_else(|| format!("OrderStream.{name}"))
        };
        let pattern = props
            .get("FilterCriteria")
            .and_then(|f| f.get("Filters"))
            .and_then(|f| f.get(0))
            .and_then(|f| f.get("Pattern"))
            .and_then(|p| p.as_str())
            .ok_or("OrderStream.FilterCriteria.Filters[0].Pattern")?;
        let pattern: Value = serde_json::from_str(pattern).map_err(|e| format!("pattern: {e}"))?;
        let sort_keys = pattern
            .pointer("/dynamodb/Keys/sk/S")
            .and_then(|v| v.as_array())
            .ok_or("the pattern filters on dynamodb.Keys.sk.S")?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let on_failure = props
            .get("DestinationConfig")
            .and_then(|d| d.get("OnFailure"))
            .and_then(|d| d.get("Destination"))
            .and_then(|d| d.get("Fn::GetAtt"))
            .and_then(|g| g.get(0))
            .and_then(|q| q.as_str())
            .ok_or("OrderStream.DestinationConfig.OnFailure.Destination: Fn::GetAtt [Queue, Arn]")?
            .to_owned();
        Ok(StreamSource {
            batch_size: num("BatchSize")? as usize,
            max_retries: num("MaximumRetryAttempts")? as u32,
            sort_keys,
            on_failure,
        })
    }

    fn lets_through(&self, record: &Value) -> bool {
        record
            .pointer("/dynamodb/Keys/sk/S")
            .and_then(|v| v.as_str())
            .is_some_and(|sk| self.sort_keys.iter().any(|k| k == sk))
    }
}

/// Reads a table's stream from the start of every shard, through DynamoDB
/// Local's Streams API as plain JSON (its records are already in the shape
/// Lambda's event carries them).
pub struct StreamReader {
    http: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
    endpoint: String,
    arn: String,
    /// Next iterator per shard; None once a closed shard is read to its end.
    shards: BTreeMap<String, Option<String>>,
}

impl StreamReader {
    /// The stream of `table`, read at `endpoint` (DynamoDB Local's).
    pub async fn open(
        dynamodb: &aws_sdk_dynamodb::Client,
        endpoint: &str,
        table: &str,
    ) -> Result<StreamReader, String> {
        let arn = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| format!("table {table} has no stream"))?;
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        Ok(StreamReader {
            http,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            arn,
            shards: BTreeMap::new(),
        })
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    async fn call(&self, action: &str, body: Value) -> Result<Value, String> {
        use http_body_util::BodyExt;
        let req = http::Request::post(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("DynamoDBStreams_20120810.{action}"))
            // DynamoDB Local (-sharedDb) wants a credential, not a signature.
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(http_body_util::Full::new(bytes::Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())?;
        let answer = self
            .http
            .request(req)
            .await
            .map_err(|e| format!("{action} at {}: {e}", self.endpoint))?;
        let status = answer.status();
        let bytes = answer
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("{action}: HTTP {status}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{action}: HTTP {status}: {value}"));
        }
        Ok(value)
    }

    /// Every record written since the last poll, as Lambda's event shows
    /// records (shard by shard, each in order), unfiltered.
    pub async fn poll(&mut self) -> Result<Vec<Value>, String> {
        let stream = self
            .call("DescribeStream", json!({"StreamArn": self.arn}))
            .await?;
        let ids: Vec<String> = stream
            .pointer("/StreamDescription/Shards")
            .and_then(|s| s.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s["ShardId"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for id in ids {
            if self.shards.contains_key(&id) {
                continue;
            }
            let it = self
                .call(
                    "GetShardIterator",
                    json!({"StreamArn": self.arn, "ShardId": id, "ShardIteratorType": "TRIM_HORIZON"}),
                )
                .await?["ShardIterator"]
                .as_str()
                .map(str::to_owned);
            self.shards.insert(id, it);
        }
        let mut out = Vec::new();
        let shards: Vec<String> = self.shards.keys().cloned().collect();
        for shard in shards {
            // Drain the shard: GetRecords answers at most 1,000 records.
            while let Some(iterator) = self.shards[&shard].clone() {
                let page = self
                    .call("GetRecords", json!({"ShardIterator": iterator}))
                    .await?;
                let records = page["Records"].as_array().cloned().unwrap_or_default();
                let empty = records.is_empty();
                out.extend(records.into_iter().map(|r| as_lambda_record(r, &self.arn)));
                let next = page["NextShardIterator"].as_str().map(str::to_owned);
                self.shards.insert(shard.clone(), next);
                if empty {
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// A Streams API record as Lambda's event carries it: its source ARN
/// added, and DynamoDB Local's empty maps (`{}`, where DynamoDB writes
/// `{"M": {}}`) written as DynamoDB writes them.
fn as_lambda_record(mut r: Value, arn: &str) -> Value {
    for image in ["Keys", "NewImage", "OldImage"] {
        if let Some(Value::Object(attrs)) = r.pointer_mut(&format!("/dynamodb/{image}")) {
            attrs.values_mut().for_each(fix_empty_map);
        }
    }
    r["eventSourceARN"] = json!(arn);
    r
}

fn fix_empty_map(v: &mut Value) {
    let Value::Object(o) = v else { return };
    if o.is_empty() {
        *v = json!({"M": {}});
        return;
    }
    if let Some(Value::Object(m)) = o.get_mut("M") {
        m.values_mut().for_each(fix_empty_map);
    }
    if let Some(Value::Array(l)) = o.get_mut("L") {
        l.iter_mut().for_each(fix_empty_map);
    }
}

/// The order events' bus in the emulator, and a rule on it putting every
/// order event on the queue `tap_queue` (created), as a consumer's rule
/// would. Answers the queue's URL. Running it again is harmless.
pub async fn create_bus_with_tap(
    eventbridge: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
    bus: &str,
    tap_queue: &str,
) -> Result<String, String> {
    use aws_sdk_sqs::types::QueueAttributeName;
    if let Err(e) = eventbridge.create_event_bus().name(bus).send().await {
        let exists = e
            .as_service_error()
            .is_some_and(|e| e.is_resource_already_exists_exception());
        if !exists {
            return Err(format!(
                "create the bus {bus}: {}",
                aws_sdk_eventbridge::error::DisplayErrorContext(e)
            ));
        }
    }
    let sqs_err = |e: aws_sdk_sqs::Error| aws_sdk_sqs::error::DisplayErrorContext(e).to_string();
    let url = sqs
        .create_queue()
        .queue_name(tap_queue)
        .send()
        .await
        .map_err(|e| sqs_err(e.into()))?
        .queue_url
        .ok_or("CreateQueue answered no URL")?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sqs_err(e.into()))?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("no QueueArn")?;
    let eb_err = |e: aws_sdk_eventbridge::Error| e.to_string();
    eventbridge
        .put_rule()
        .name("all-order-events")
        .event_bus_name(bus)
        .event_pattern(json!({"source": [crate::events::SOURCE]}).to_string())
        .send()
        .await
        .map_err(|e| eb_err(e.into()))?;
    eventbridge
        .put_targets()
        .rule("all-order-events")
        .event_bus_name(bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("tap")
                .arn(arn)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| eb_err(e.into()))?;
    Ok(url)
}

/// What one delivery of records came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub records: usize,
    pub invocations: usize,
    /// Batches whose retries were spent, put on the on-failure queue.
    pub sent_to_failure_queue: usize,
}

/// Hands `records` (as [`StreamReader::poll`] reads them) to the function
/// as the event source mapping does: filtered, in batches of the
/// template's size; a batch answered with `batchItemFailures` (or an
/// invocation error) is retried from the first failed record, at most
/// `max_retries` times, then described on the on-failure queue.
pub async fn deliver<F, Fut>(
    source: &StreamSource,
    records: Vec<Value>,
    stream_arn: &str,
    sqs: &aws_sdk_sqs::Client,
    on_failure_url: &str,
    mut invoke: F,
) -> Result<Delivered, String>
where
    F: FnMut(Value) -> Fut,
    Fut: Future<Output = Result<Value, String>>,
{
    let records: Vec<Value> = records
        .into_iter()
        .filter(|r| source.lets_through(r))
        .collect();
    let mut done = Delivered {
        records: records.len(),
        ..Default::default()
    };
    for batch in records.chunks(source.batch_size.max(1)) {
        let mut rest = batch.to_vec();
        let mut retries = 0;
        loop {
            done.invocations += 1;
            let answer = invoke(json!({ "Records": rest })).await;
            let failed_at = match answer {
                Err(_) => Some(0),
                Ok(answer) => first_failure(&answer, &rest),
            };
            let Some(i) = failed_at else { break };
            rest = rest.split_off(i);
            if retries == source.max_retries {
                on_failure(sqs, on_failure_url, stream_arn, &rest, retries + 1).await?;
                done.sent_to_failure_queue += 1;
                break;
            }
            retries += 1;
        }
    }
    Ok(done)
}

/// The index of the first record the answer reports as failed; an answer
/// that is not a partial batch response fails the whole batch.
fn first_failure(answer: &Value, batch: &[Value]) -> Option<usize> {
    let Some(failures) = answer.get("batchItemFailures").and_then(|f| f.as_array()) else {
        return if answer.is_null() || answer.as_object().is_some_and(|o| o.is_empty()) {
            None
        } else {
            Some(0)
        };
    };
    failures
        .iter()
        .map(|f| {
            let id = f.get("itemIdentifier").and_then(|i| i.as_str());
            batch
                .iter()
                .position(|r| {
                    r.pointer("/dynamodb/SequenceNumber")
                        .and_then(|s| s.as_str())
                        == id
                })
                .unwrap_or(0)
        })
        .min()
}

/// What Lambda puts on a stream's on-failure queue: where the batch was,
/// not the records (they stay in the stream for 24 hours).
async fn on_failure(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    stream_arn: &str,
    batch: &[Value],
    invocations: u32,
) -> Result<(), String> {
    let seq = |r: Option<&Value>| {
        r.and_then(|r| r.pointer("/dynamodb/SequenceNumber"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let body = json!({
        "requestContext": {
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": invocations,
        },
        "version": "1.0",
        "timestamp": domain::time::Timestamp::now().to_rfc3339(),
        "DDBStreamBatchInfo": {
            "shardId": Value::Null,
            "startSequenceNumber": seq(batch.first()),
            "endSequenceNumber": seq(batch.last()),
            "batchSize": batch.len(),
            "streamArn": stream_arn,
        },
    });
    sqs.send_message()
        .queue_url(url)
        .message_body(body.to_string())
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_sets_the_mapping() {
        let s = StreamSource::from_template().unwrap();
        assert_eq!(s.sort_keys, ["ORDER"]);
        assert!(s.max_retries > 0 && s.batch_size > 0);
        assert_eq!(s.on_failure, "EventsDeadLetterQueue");
    }

    #[test]
    fn failures_are_read_from_the_partial_batch_response() {
        let rec = |s: &str| json!({"dynamodb": {"SequenceNumber": s}});
        let batch = [rec("1"), rec("2"), rec("3")];
        assert_eq!(
            first_failure(&json!({"batchItemFailures": []}), &batch),
            None
        );
        assert_eq!(
            first_failure(
                &json!({"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]}),
                &batch
            ),
            Some(1)
        );
        assert_eq!(first_failure(&json!("oops"), &batch), Some(0));
    }

    #[test]
    fn empty_maps_read_as_dynamodb_writes_them() {
        let r = as_lambda_record(
            json!({"dynamodb": {"NewImage": {"outbox": {}, "a": {"M": {"b": {}}}, "l": {"L": [{}]}}}}),
            "arn",
        );
        assert_eq!(
            r["dynamodb"]["NewImage"],
            json!({"outbox": {"M": {}}, "a": {"M": {"b": {"M": {}}}}, "l": {"L": [{"M": {}}]}})
        );
        assert_eq!(r["eventSourceARN"], "arn");
    }
}
