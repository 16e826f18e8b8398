//! Refunds through the original payment channel (SPEC 2.12): the refund
//! queue's consumer (partial batch failures: only a failed message comes
//! back, and after maxReceiveCount goes to the dead-letter queue), the
//! provider's refund notifications, and staff's retry and offline record.

use adapters::http::{self, ApiError, RouteId};
use adapters::secrets::PaymentSecrets;
use adapters::sqs::SqsPublisher;
use adapters::App;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use domain::messages::Message;
use domain::payment::refund::{
    self, Executed, GatewayRefundNotice, OfflineInput, PaymentChannel, ProviderError,
    ProviderRefund, RefundError, RefundProvider, RefundRequest, StaffRefundAction,
};
use domain::storefront;
use domain::time::Timestamp;
use domain::view::OrderView;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use std::sync::Arc;
use suppliers::gateway::GatewayClient;
use suppliers::wechatpay::{self as wechat, Credentials, RefundResource, WechatPay};

#[derive(Clone)]
pub struct Refund {
    pub app: App,
    pub publisher: SqsPublisher,
    pub providers: Providers,
}

/// Each channel's refund API with the storefront's credentials (SPEC 2.13:
/// a refund goes back through the merchant account that took the payment).
#[derive(Clone)]
pub struct Providers {
    pub store: adapters::dynamo::DynamoStore,
    pub secrets: PaymentSecrets,
    /// `PAYMENT_GATEWAY_URL`; None: the gateway channel is not configured.
    pub gateway: Option<GatewayClient>,
    pub wechatpay: WechatPay,
}

impl Providers {
    async fn gateway(&self, r: &RefundRequest) -> Result<(&GatewayClient, String), ProviderError> {
        let client = self.gateway.as_ref().ok_or_else(|| {
            ProviderError::Temporary("PAYMENT_GATEWAY_URL is not configured".into())
        })?;
        let sf = storefront::find(&self.store, &r.storefront)
            .await
            .map_err(|e| ProviderError::Temporary(format!("storefront {}: {e}", r.storefront)))?;
        let secret = self
            .secrets
            .for_storefront(&sf)
            .await
            .map_err(|e| ProviderError::Temporary(e.to_string()))?
            .ok_or_else(|| {
                ProviderError::Temporary(format!("storefront {} has no gateway secret", sf.id))
            })?;
        Ok((client, secret))
    }

    /// The storefront's WeChat Pay credentials. None of them is
    /// temporary: the refund waits (and is asked about) until they are set.
    async fn wechatpay(&self, r: &RefundRequest) -> Result<Arc<Credentials>, ProviderError> {
        let sf = storefront::find(&self.store, &r.storefront)
            .await
            .map_err(|e| ProviderError::Temporary(format!("storefront {}: {e}", r.storefront)))?;
        self.secrets
            .wechatpay(&sf)
            .await
            .map_err(|e| ProviderError::Temporary(e.to_string()))?
            .ok_or_else(|| {
                ProviderError::Temporary(format!(
                    "storefront {} has no WeChat Pay credentials",
                    sf.id
                ))
            })
    }
}

impl RefundProvider for Providers {
    async fn create(&self, r: &RefundRequest) -> Result<ProviderRefund, ProviderError> {
        match r.channel {
            PaymentChannel::Gateway => {
                let (client, secret) = self.gateway(r).await?;
                client.create(r, &secret).await
            }
            PaymentChannel::Wechatpay => {
                let creds = self.wechatpay(r).await?;
                let url = self
                    .wechatpay
                    .notify_url("refund-notify", &r.storefront)
                    .ok_or_else(|| {
                        ProviderError::Temporary("PUBLIC_BASE_URL is not configured".into())
                    })?;
                self.wechatpay.client.create_refund(&creds, r, &url).await
            }
        }
    }
    async fn query(&self, r: &RefundRequest) -> Result<ProviderRefund, ProviderError> {
        match r.channel {
            PaymentChannel::Gateway => {
                let (client, secret) = self.gateway(r).await?;
                client.query(r, &secret).await
            }
            PaymentChannel::Wechatpay => {
                let creds = self.wechatpay(r).await?;
                self.wechatpay.client.query_refund(&creds, r).await
            }
        }
    }
    async fn apply_abnormal(&self, r: &RefundRequest) -> Result<ProviderRefund, ProviderError> {
        match r.channel {
            // The gateway has no abnormal refunds (its `failed` is closed):
            // a retry creates under the refund's number, which answers it.
            PaymentChannel::Gateway => self.create(r).await,
            PaymentChannel::Wechatpay => {
                let creds = self.wechatpay(r).await?;
                self.wechatpay.client.apply_abnormal(&creds, r).await
            }
        }
    }
}

// ------------------------------------------------------------------ queue

async fn one(f: &Refund, m: &SqsMessage) -> Result<Executed, RefundError> {
    let body = m.body.as_deref().unwrap_or_default();
    let message: Message = serde_json::from_str(body)
        .map_err(|e| RefundError::InvalidRequest(format!("not a refund message: {e}")))?;
    refund::execute(
        &f.app.store,
        &f.publisher,
        &f.providers,
        f.app.config.refund_query_secs,
        &message,
        Timestamp::now(),
    )
    .await
}

/// One batch of the refund queue. A message that cannot be a refund (not
/// JSON, another queue's, a refund that does not exist) is logged and
/// dropped: delivering it again cannot help. Any other failure (the
/// provider unavailable, the store busy) comes back.
pub async fn handle_batch(f: &Refund, event: SqsEvent) -> SqsBatchResponse {
    // Messages about one refund (a duplicate delivery, a query beside its
    // send) run one after another, so the second finds the first's word
    // recorded and sends nothing; different refunds run side by side.
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, m) in event.records.iter().enumerate() {
        let key =
            refund_key(m.body.as_deref().unwrap_or_default()).unwrap_or_else(|| format!("#{i}"));
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    let records = &event.records;
    let runs = groups.iter().map(|(_, members)| async move {
        let mut out = Vec::new();
        for &i in members {
            out.push((i, one(f, &records[i]).await));
        }
        out
    });
    let mut results: Vec<(usize, Result<Executed, RefundError>)> = futures::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    results.sort_by_key(|(i, _)| *i);
    let results = results.into_iter().map(|(_, r)| r);
    let mut response = SqsBatchResponse::default();
    for (m, result) in event.records.iter().zip(results) {
        let id = m.message_id.clone().unwrap_or_default();
        match result {
            Ok(done) => tracing::info!(message = %id, ?done, "refund message handled"),
            Err(e @ (RefundError::InvalidRequest(_) | RefundError::NotFound)) => {
                tracing::error!(message = %id, error = %e, "refund message dropped")
            }
            Err(e) => {
                tracing::warn!(message = %id, error = %e, "will be retried");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}

/// The refund a message is about, if it is a refund message.
fn refund_key(body: &str) -> Option<String> {
    match serde_json::from_str::<Message>(body).ok()? {
        Message::Refund { refund_id, .. } | Message::RefundQuery { refund_id, .. } => {
            Some(refund_id)
        }
        _ => None,
    }
}

// ------------------------------------------------------------------- HTTP

pub async fn handle_http(f: &Refund, req: Request) -> Response<Body> {
    let f = &http::for_request(f, &req);
    let result = match http::route(&req, "refund") {
        Ok(RouteId::NotifyRefund | RouteId::NotifyRefundInStorefront) => notify(f, &req).await,
        Ok(RouteId::NotifyWechatRefund | RouteId::NotifyWechatRefundInStorefront) => {
            return match notify_wechat(f, &req).await {
                Ok(()) => http::no_content(),
                Err(e) => e.into_response(),
            };
        }
        Ok(RouteId::RetryRefund) => staff(f, &req, false).await,
        Ok(RouteId::RecordRefundOffline) => staff(f, &req, true).await,
        Ok(_) => Err(ApiError::no_route()),
        Err(e) => Err(e),
    };
    http::respond(StatusCode::OK, result)
}

/// `POST /payments/refund-notify[/{storefront}]`: verified with the
/// storefront's gateway secret before anything is read.
async fn notify(f: &Refund, req: &Request) -> Result<Value, ApiError> {
    let sf = http::route_storefront(&f.app, req).await?;
    let secret = f.providers.secrets.for_storefront(&sf).await?;
    let body = match secret {
        Some(secret) => http::signed_body(req, &secret)?,
        None => http::verified_body(req, |_, _| false)?,
    };
    let (no, word) = GatewayRefundNotice::parse(body)?;
    let order = refund::notified(
        &f.app.store,
        &f.publisher,
        &sf.id,
        &no,
        &word,
        f.app.config.refund_query_secs,
        Timestamp::now(),
    )
    .await?;
    let r = refund::RefundNo::parse(&no)
        .and_then(|n| order.refund_by_id(&n.refund_id).cloned())
        .ok_or(ApiError::from(RefundError::NotFound))?;
    tracing::info!(order = %order.id, refund = %r.id, status = r.status.as_str(), "refund notification");
    Ok(json!({ "refund_id": no, "status": r.status, "order_id": order.id }))
}

/// `POST /payments/wechatpay/refund-notify[/{storefront}]`: verified and
/// decrypted with the storefront's WeChat Pay credentials (else 401,
/// nothing changes); 204 once processed, a stale or unknown refund included.
async fn notify_wechat(f: &Refund, req: &Request) -> Result<(), ApiError> {
    let http::WechatNotification {
        storefront: sf,
        credentials: creds,
        event,
        resource: plain,
    } = http::wechatpay_notification(&f.app, &f.providers.secrets, req).await?;
    let r: RefundResource = serde_json::from_slice(&plain)
        .map_err(|e| http::wechatpay_unverified(format!("{event}: not a refund: {e}")))?;
    if r.mchid != creds.mchid {
        return Err(http::wechatpay_unverified(format!(
            "for merchant {}, not this storefront's",
            r.mchid
        )));
    }
    let Some(state) = wechat::refund_state(&r.refund_status) else {
        tracing::warn!(refund = %r.out_refund_no, status = %r.refund_status, "unknown WeChat refund status");
        return Ok(());
    };
    let word = ProviderRefund {
        state,
        provider_refund_id: Some(r.refund_id.clone()),
    };
    match refund::notified(
        &f.app.store,
        &f.publisher,
        &sf.id,
        &r.out_refund_no,
        &word,
        f.app.config.refund_query_secs,
        Timestamp::now(),
    )
    .await
    {
        Ok(order) => {
            tracing::info!(order = %order.id, refund = %r.out_refund_no, status = %r.refund_status, "WeChat refund notification");
            Ok(())
        }
        // Not processed: WeChat sends it again.
        Err(e @ RefundError::Store(_)) => Err(e.into()),
        Err(e) => {
            tracing::warn!(refund = %r.out_refund_no, outcome = %e, "WeChat refund notification for no refund of ours");
            Ok(())
        }
    }
}

async fn staff(f: &Refund, req: &Request, offline: bool) -> Result<Value, ApiError> {
    let caller = http::caller(&f.app, req).await?;
    let id = http::path_param(req, "refund_id").unwrap_or_default();
    let action = if offline {
        StaffRefundAction::RecordOffline {
            note: OfflineInput::parse(http::body(req)?)?,
        }
    } else {
        StaffRefundAction::Retry
    };
    let now = Timestamp::now();
    let order =
        refund::staff_action(&f.app.store, &f.publisher, &caller, &id, &action, now).await?;
    tracing::info!(order = %order.id, refund = %id, by = %caller.user, offline, "refund acted on");
    Ok(json!(OrderView::new(&order, &caller, &f.app.config, now)))
}

impl http::RequestScoped for Refund {
    fn app_mut(&mut self) -> &mut App {
        &mut self.app
    }
}

// ------------------------------------------------------------------ entry

/// What one invocation is: the refund queue's batch, or an HTTP request
/// (API Gateway's HTTP API, payload 2.0). One function serves both (SPEC 3).
pub enum Invocation {
    Batch(SqsEvent),
    /// Handed to `lambda_http::Adapter`, which answers in the shape the
    /// event's origin expects, as `lambda_http::run` does.
    Http(Box<lambda_http::request::LambdaRequest>),
}

impl Invocation {
    pub fn parse(event: Value) -> Result<Self, String> {
        let sqs = event
            .get("Records")
            .and_then(Value::as_array)
            .is_some_and(|r| {
                r.iter()
                    .all(|m| m.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"))
            });
        if sqs {
            return serde_json::from_value(event)
                .map(Invocation::Batch)
                .map_err(|e| format!("an SQS event that does not parse: {e}"));
        }
        // lambda_http's own reading of an HTTP event, as `lambda_http::run` does.
        let req: lambda_http::request::LambdaRequest =
            serde_json::from_value(event).map_err(|e| format!("neither SQS nor HTTP: {e}"))?;
        Ok(Invocation::Http(Box::new(req)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocations_are_told_apart() {
        let sqs = json!({"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": "{}"}]});
        assert!(matches!(Invocation::parse(sqs), Ok(Invocation::Batch(_))));
        let http: Value = serde_json::from_str(include_str!("../../../events/refund-retry.json"))
            .expect("the sample event");
        match Invocation::parse(http) {
            Ok(Invocation::Http(req)) => {
                let req = Request::from(*req);
                assert_eq!(req.method(), "POST");
                assert!(req.uri().path().ends_with("/retry"));
            }
            _ => panic!("an HTTP request"),
        }
    }
}
