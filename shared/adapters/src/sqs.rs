//! SQS: the forward queue (packages to suppliers, intercepts) and the refund
//! queue (for the payment integration).

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use aws_sdk_sqs::Client;
use domain::error::StoreError;
use domain::messages::{Message, Publisher, Queue};
use domain::time::Timestamp;

/// The message attribute carrying [`Message::dedup_id`].
pub const DEDUP_ATTRIBUTE: &str = "dedup_id";

/// SQS takes at most this many messages in one batch.
const BATCH: usize = 10;

#[derive(Clone, Debug)]
pub struct SqsPublisher {
    client: Client,
    forward_queue_url: String,
    refund_queue_url: String,
}

impl SqsPublisher {
    pub fn new(
        client: Client,
        forward_queue_url: impl Into<String>,
        refund_queue_url: impl Into<String>,
    ) -> Self {
        Self {
            client,
            forward_queue_url: forward_queue_url.into(),
            refund_queue_url: refund_queue_url.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn queue_url(&self, queue: Queue) -> &str {
        match queue {
            Queue::Forward => &self.forward_queue_url,
            Queue::Refund => &self.refund_queue_url,
        }
    }

    async fn send(
        &self,
        queue: Queue,
        messages: &[&Message],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        for chunk in messages.chunks(BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let body = serde_json::to_string(m)
                        .map_err(|e| StoreError::Failed(format!("encode message: {e}")))?;
                    // Consumers may drop a message they have seen under this id.
                    let dedup = MessageAttributeValue::builder()
                        .data_type("String")
                        .string_value(m.dedup_id())
                        .build()
                        .map_err(|e| StoreError::Failed(DisplayErrorContext(e).to_string()))?;
                    SendMessageBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .message_body(body)
                        .delay_seconds(m.delay_secs(now) as i32)
                        .message_attributes(DEDUP_ATTRIBUTE, dedup)
                        .build()
                        .map_err(|e| StoreError::Failed(DisplayErrorContext(e).to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(self.queue_url(queue))
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| StoreError::Failed(DisplayErrorContext(e).to_string()))?;
            if let Some(failed) = out.failed().first() {
                return Err(StoreError::Failed(format!(
                    "{} of {} messages refused by SQS, first: {} {}",
                    out.failed().len(),
                    chunk.len(),
                    failed.code(),
                    failed.message().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }
}

impl Publisher for SqsPublisher {
    async fn publish(&self, messages: &[Message], now: Timestamp) -> Result<(), StoreError> {
        for queue in [Queue::Forward, Queue::Refund] {
            let batch: Vec<&Message> = messages.iter().filter(|m| m.queue() == queue).collect();
            if !batch.is_empty() {
                self.send(queue, &batch, now).await?;
            }
        }
        Ok(())
    }
}
