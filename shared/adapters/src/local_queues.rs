//! The queues of `template.yaml` for the local stack and the tests (created
//! in the SQS emulator as deployed), and the event Lambda's SQS event source
//! would hand a function. Only with the `local` feature: no Lambda needs it.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::Client;
use domain::error::StoreError;

/// A queue as `template.yaml` defines it, so the local stack and the tests
/// create the same queues (and dead-letter redrives) as the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDef {
    pub logical_id: String,
    pub visibility_timeout: Option<u32>,
    pub retention: Option<u32>,
    /// Logical id of the dead-letter queue and the receive count that sends there.
    pub redrive: Option<(String, u32)>,
}

const TEMPLATE: &str = include_str!("../../../template.yaml");

fn yaml_u32(v: Option<&serde_yaml::Value>) -> Option<u32> {
    let v = v?;
    v.as_u64()
        .map(|n| n as u32)
        .or_else(|| v.as_str()?.parse().ok())
}

impl QueueDef {
    /// Every `AWS::SQS::Queue` of the template, dead-letter queues first.
    pub fn from_template() -> Result<Vec<QueueDef>, String> {
        let doc: serde_yaml::Value = serde_yaml::from_str(TEMPLATE).map_err(|e| e.to_string())?;
        let resources = doc
            .get("Resources")
            .and_then(|r| r.as_mapping())
            .ok_or("no Resources")?;
        let mut defs = Vec::new();
        for (id, res) in resources {
            if res.get("Type").and_then(|t| t.as_str()) != Some("AWS::SQS::Queue") {
                continue;
            }
            let id = id.as_str().ok_or("queue id")?.to_owned();
            let props = res.get("Properties");
            let redrive = match props.and_then(|p| p.get("RedrivePolicy")) {
                None => None,
                Some(r) => {
                    let dlq = r
                        .get("deadLetterTargetArn")
                        .and_then(|a| a.get("Fn::GetAtt"))
                        .and_then(|g| g.get(0))
                        .and_then(|x| x.as_str())
                        .ok_or_else(|| {
                            format!("{id}: deadLetterTargetArn must be Fn::GetAtt [Queue, Arn]")
                        })?;
                    let max = yaml_u32(r.get("maxReceiveCount"))
                        .ok_or_else(|| format!("{id}: maxReceiveCount"))?;
                    Some((dlq.to_owned(), max))
                }
            };
            defs.push(QueueDef {
                logical_id: id,
                visibility_timeout: yaml_u32(props.and_then(|p| p.get("VisibilityTimeout"))),
                retention: yaml_u32(props.and_then(|p| p.get("MessageRetentionPeriod"))),
                redrive,
            });
        }
        defs.sort_by_key(|d| (d.redrive.is_some(), d.logical_id.clone()));
        Ok(defs)
    }

    /// Creates every template queue as `<prefix>-<LogicalId>`; returns logical id -> URL.
    pub async fn create_all(
        client: &Client,
        prefix: &str,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        use aws_sdk_sqs::types::QueueAttributeName;
        let err = |e: String| StoreError::Failed(e);
        let mut urls = std::collections::HashMap::new();
        let mut arns = std::collections::HashMap::new();
        for def in QueueDef::from_template().map_err(err)? {
            let mut req = client
                .create_queue()
                .queue_name(format!("{prefix}-{}", def.logical_id));
            if let Some(v) = def.visibility_timeout {
                req = req.attributes(QueueAttributeName::VisibilityTimeout, v.to_string());
            }
            if let Some(r) = def.retention {
                req = req.attributes(QueueAttributeName::MessageRetentionPeriod, r.to_string());
            }
            if let Some((dlq, max)) = &def.redrive {
                let arn: &String = arns
                    .get(dlq)
                    .ok_or_else(|| StoreError::Failed(format!("{dlq} must be defined")))?;
                let policy = serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": max.to_string() });
                req = req.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
            }
            let url = req
                .send()
                .await
                .map_err(|e| StoreError::Failed(DisplayErrorContext(e).to_string()))?
                .queue_url
                .ok_or_else(|| StoreError::Failed("no queue url".into()))?;
            let arn = client
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .map_err(|e| StoreError::Failed(DisplayErrorContext(e).to_string()))?
                .attributes
                .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
                .ok_or_else(|| StoreError::Failed("no queue arn".into()))?;
            arns.insert(def.logical_id.clone(), arn);
            urls.insert(def.logical_id, url);
        }
        Ok(urls)
    }
}

/// The event Lambda's SQS event source hands a function for these received
/// messages (used by the local stack and the tests to play that part).
pub fn lambda_event(
    messages: &[aws_sdk_sqs::types::Message],
    queue_arn: &str,
) -> serde_json::Value {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, serde_json::Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), serde_json::json!(v)))
                        .collect()
                })
                .unwrap_or_default();
            serde_json::json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "md5OfBody": m.md5_of_body(),
                "attributes": attributes,
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_queues_have_dead_letter_redrives() {
        let defs = QueueDef::from_template().unwrap();
        let forward = defs
            .iter()
            .find(|d| d.logical_id == "ForwardQueue")
            .unwrap();
        assert_eq!(
            forward.redrive,
            Some(("ForwardDeadLetterQueue".to_owned(), 5))
        );
        let dlq = defs
            .iter()
            .position(|d| d.logical_id == "ForwardDeadLetterQueue")
            .unwrap();
        let main = defs
            .iter()
            .position(|d| d.logical_id == "ForwardQueue")
            .unwrap();
        assert!(dlq < main, "dead-letter queues are created first");
        assert!(defs.iter().any(|d| d.logical_id == "RefundQueue"));
    }
}
