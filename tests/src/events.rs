//! The order events end to end on the local services: the test table's
//! stream (DynamoDB Local) read and handed to EventsFunction's handler as
//! Lambda's event source mapping would (adapters::local_streams), the
//! events put on a bus in the emulator (moto's EventBridge), and a rule on
//! that bus filling a queue the test reads, as a consumer's rule would.

use crate::stack::{emulator_sdk, Stack};
use adapters::local_streams::{
    create_bus_with_tap, deliver, Delivered, StreamReader, StreamSource,
};
use aws_sdk_eventbridge::Client as EventBridge;
use serde_json::Value;
use tokio::sync::Mutex;

pub struct EventTap {
    /// The bus the rule listens on.
    pub bus: String,
    queue_url: String,
    reader: Mutex<StreamReader>,
    source: StreamSource,
    dlq_url: String,
    handler: events::Events,
    sqs: aws_sdk_sqs::Client,
}

fn eventbridge() -> EventBridge {
    EventBridge::new(&emulator_sdk())
}

impl EventTap {
    /// A bus for this test's table, a rule taking every order event into a
    /// queue of its own, and the handler publishing to the bus.
    pub async fn create(s: &Stack) -> EventTap {
        Self::create_publishing_to(s, None).await
    }

    /// [`EventTap::create`], the handler publishing to `bus` instead (one
    /// that does not exist, to make every publish fail).
    pub async fn create_publishing_to(s: &Stack, bus: Option<&str>) -> EventTap {
        let table = s.t.app.store.table().to_owned();
        let name = format!("{table}-orders");
        let eb = eventbridge();
        let queue_url = create_bus_with_tap(&eb, &s.sqs, &name, &format!("{table}-tap"))
            .await
            .unwrap_or_else(|e| panic!("the bus and its tap in the EventBridge emulator: {e}"));
        let reader = StreamReader::open(s.t.app.store.client(), &crate::endpoint(), &table)
            .await
            .expect("the table's stream in DynamoDB Local (Stack::spawn_streaming makes one)");
        let source = StreamSource::from_template().expect("template OrderStream");
        let dlq_url = s.queues[&source.on_failure].clone();
        EventTap {
            handler: events::Events {
                bus: adapters::events::EventBus::new(eb, bus.unwrap_or(&name)),
            },
            bus: name,
            queue_url,
            reader: Mutex::new(reader),
            source,
            dlq_url,
            sqs: s.sqs.clone(),
        }
    }

    /// The handler, as EventsFunction's main builds it.
    pub fn handler(&self) -> &events::Events {
        &self.handler
    }

    /// Reads what the stream has gained and hands it to the handler.
    pub async fn pump(&self) -> Delivered {
        let records = self.poll().await;
        self.deliver(records).await
    }

    /// The stream's new records, unfiltered, as Lambda's event carries them.
    pub async fn poll(&self) -> Vec<Value> {
        self.reader
            .lock()
            .await
            .poll()
            .await
            .expect("stream records")
    }

    /// Hands `records` to the handler as the event source mapping does.
    pub async fn deliver(&self, records: Vec<Value>) -> Delivered {
        let arn = self.reader.lock().await.arn().to_owned();
        deliver(
            &self.source,
            records,
            &arn,
            &self.sqs,
            &self.dlq_url,
            |event| async move {
                let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                let answer = events::handle(&self.handler, event).await;
                serde_json::to_value(answer).map_err(|e| e.to_string())
            },
        )
        .await
        .expect("delivery")
    }

    /// Every event the rule has put on the tap queue (the EventBridge
    /// envelope: `detail-type`, `source`, `detail`), taking them off.
    pub async fn received(&self) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive from the tap");
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                return out;
            }
            for m in messages {
                out.push(serde_json::from_str(m.body().unwrap_or("null")).expect("an envelope"));
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete from the tap");
            }
        }
    }

    /// The on-failure queue's messages (batches whose retries were spent).
    pub async fn failed_batches(&self) -> Vec<Value> {
        let got = self
            .sqs
            .receive_message()
            .queue_url(&self.dlq_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive from the on-failure queue");
        got.messages
            .unwrap_or_default()
            .iter()
            .map(|m| serde_json::from_str(m.body().unwrap_or("null")).expect("JSON"))
            .collect()
    }
}
