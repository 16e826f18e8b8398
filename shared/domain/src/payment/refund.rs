//! Refunds through the original payment channel (SPEC 2.12): the refund
//! queue's consumer sends each refund to the provider of the payment it
//! returns and records the provider's word; notifications and queries move
//! it on; staff retry a failed one or record it paid back offline.

use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::{Caller, OrderId};
use crate::messages::{Message, Publisher};
use crate::money::Cents;
use crate::order::refunds::RefundActionError;
use crate::order::{Order, Refund};
use crate::ports::Ledger;
use crate::storefront::StorefrontId;
use crate::time::Timestamp;
use crate::transition::{transition, transition_from, Decision, Target, Write};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// How a payment came, and so how its refunds go back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PaymentChannel {
    /// The signed `POST /payments/notify` gateway.
    #[default]
    Gateway,
    /// WeChat Pay API v3.
    Wechatpay,
}

impl PaymentChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentChannel::Gateway => "gateway",
            PaymentChannel::Wechatpay => "wechatpay",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RefundStatus {
    /// Recorded; not yet taken by the provider.
    Pending,
    /// The provider took it; its outcome comes by notification or query.
    Processing,
    Succeeded,
    /// See the refund's `failure`; on the attention list until staff act.
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Processing => "processing",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }
    /// Nothing the provider says changes it any more (staff may still act
    /// on a failed one).
    pub fn is_settled(self) -> bool {
        matches!(self, RefundStatus::Succeeded | RefundStatus::Failed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RefundFailure {
    /// The money could not reach the buyer's account (WeChat `ABNORMAL`).
    Abnormal,
    /// The provider closed it unpaid (WeChat `CLOSED`, the gateway's `failed`).
    Closed,
}

impl RefundFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundFailure::Abnormal => "abnormal",
            RefundFailure::Closed => "closed",
        }
    }
}

/// What the next send of a refund asks of its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resend {
    /// Create it (again under the same number: the provider de-duplicates).
    #[default]
    Create,
    /// An abnormal refund retried by staff: WeChat's apply-abnormal-refund.
    ApplyAbnormal,
}

impl Resend {
    pub fn is_create(&self) -> bool {
        *self == Resend::Create
    }
}

/// Where a refund stands at its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderState {
    Processing,
    Succeeded,
    Failed(RefundFailure),
}

/// The provider's word on one refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    pub state: ProviderState,
    /// The provider's own id of the refund, when it says.
    pub provider_refund_id: Option<String>,
}

/// A refund as the provider is asked to make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub storefront: StorefrontId,
    pub channel: PaymentChannel,
    /// The idempotency key (`out_refund_no`): the same for every send of one attempt.
    pub provider_no: String,
    /// The provider's id of the payment returned (our `payment_id`).
    pub payment_id: String,
    pub amount_cents: Cents,
    /// What that payment was.
    pub payment_cents: Cents,
    pub reason: String,
    /// The provider's own id of the refund, once it said (WeChat's
    /// apply-abnormal-refund names the refund by it).
    pub provider_refund_id: Option<String>,
}

impl RefundRequest {
    pub fn of(order: &Order, r: &Refund) -> Option<Self> {
        Some(Self {
            storefront: order.storefront.clone(),
            channel: r.channel,
            provider_no: r.provider_no(),
            payment_id: r.payment_id.clone()?,
            amount_cents: r.amount_cents,
            payment_cents: r.payment_cents.max(r.amount_cents),
            reason: r.reason.clone(),
            provider_refund_id: r.provider_refund_id.clone(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Worth sending again under the same number (a time-out, a 5xx,
    /// WeChat `SYSTEM_ERROR` or `NOT_ENOUGH`).
    #[error("the provider is unavailable: {0}")]
    Temporary(String),
    /// The provider refused the request itself: sending it again will not help.
    #[error("the provider refused: {0}")]
    Refused(String),
    /// The provider knows no refund under this number.
    #[error("the provider has no such refund")]
    NotFound,
}

/// A payment channel's refund API (one adapter per channel, dispatched on
/// the request's channel). Every call is safe to repeat: the provider
/// de-duplicates on `provider_no`.
pub trait RefundProvider: Send + Sync {
    /// Creates the refund, or answers the one that number already made.
    fn create(
        &self,
        r: &RefundRequest,
    ) -> impl Future<Output = Result<ProviderRefund, ProviderError>> + Send;
    /// Where the refund under `r.provider_no` stands ([`ProviderError::NotFound`]
    /// if the provider has none).
    fn query(
        &self,
        r: &RefundRequest,
    ) -> impl Future<Output = Result<ProviderRefund, ProviderError>> + Send;
    /// Asks again for an abnormal refund (paid to another account of the buyer).
    fn apply_abnormal(
        &self,
        r: &RefundRequest,
    ) -> impl Future<Output = Result<ProviderRefund, ProviderError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no such refund")]
    NotFound,
    /// Signed with another storefront's credentials than the order's.
    #[error("the notification is not signed with the order's storefront's credentials")]
    WrongStorefront,
    #[error("only support and admin staff act on refunds")]
    StaffOnly,
    #[error("the refund is {0}, not failed")]
    NotFailed(&'static str),
    /// Not sent now; the message is delivered again.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::body_errors!(RefundError);

impl From<RefundActionError> for RefundError {
    fn from(e: RefundActionError) -> Self {
        match e {
            RefundActionError::NotFound => RefundError::NotFound,
            RefundActionError::NotFailed(s) => RefundError::NotFailed(s),
        }
    }
}

impl Problem for RefundError {
    fn kind(&self) -> ErrorKind {
        use RefundError::*;
        match self {
            InvalidJson(_) | InvalidRequest(_) => ErrorKind::BadRequest,
            NotFound => ErrorKind::NotFound,
            WrongStorefront => ErrorKind::Unauthorized,
            StaffOnly => ErrorKind::Forbidden,
            NotFailed(_) => ErrorKind::Conflict,
            Provider(_) => ErrorKind::Busy,
            Store(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        use RefundError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            InvalidRequest(_) => "invalid_request",
            NotFound => "refund_not_found",
            WrongStorefront => "invalid_signature",
            StaffOnly => "forbidden",
            NotFailed(_) => "refund_not_failed",
            Provider(_) => "provider_unavailable",
            Store(e) => e.code(),
        }
    }
}

/// A refund id (`<order id>-R<nn>`) or a provider number of it
/// (`<refund id>-<n>`), split into its order, refund id and attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundNo {
    pub order_id: OrderId,
    pub refund_id: String,
    pub attempt: u32,
}

impl RefundNo {
    pub fn parse(s: &str) -> Option<Self> {
        let (order, rest) = s.rsplit_once("-R")?;
        let (nn, attempt) = match rest.split_once('-') {
            Some((nn, n)) => (nn, n.parse::<u32>().ok().filter(|n| *n >= 2)?),
            None => (rest, 1),
        };
        if nn.len() < 2 || nn.len() > 4 || !nn.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let order_id = OrderId::parse(order).ok()?;
        Some(Self {
            refund_id: format!("{order_id}-R{nn}"),
            order_id,
            attempt,
        })
    }
}

/// What one refund-queue message did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Executed {
    /// Sent (or asked about) and the provider's word recorded.
    Recorded(&'static str),
    /// Nothing to send: settled already, or sent by another delivery.
    Skipped,
}

/// The refund queue's consumer: sends a pending refund (or asks about an
/// unsettled one) and records the provider's word through the one
/// transition path. A temporary refusal is an error: the message comes back
/// and the refund is sent again under the same number.
pub async fn execute<S: Ledger, P: Publisher, R: RefundProvider>(
    store: &S,
    publisher: &P,
    provider: &R,
    query_secs: u64,
    message: &Message,
    now: Timestamp,
) -> Result<Executed, RefundError> {
    let (order_id, refund_id, asking) = match message {
        Message::Refund {
            order_id,
            refund_id,
            ..
        } => (order_id, refund_id, false),
        Message::RefundQuery {
            order_id,
            refund_id,
            ..
        } => (order_id, refund_id, true),
        _ => {
            return Err(RefundError::InvalidRequest(
                "not a refund-queue message".into(),
            ))
        }
    };
    let order = store
        .get_order(order_id)
        .await?
        .ok_or(RefundError::NotFound)?;
    let r = order.refund_by_id(refund_id).ok_or(RefundError::NotFound)?;
    let due = match r.status {
        crate::order::RefundStatus::Pending => true,
        crate::order::RefundStatus::Processing => asking,
        _ => false,
    };
    if !due {
        return Ok(Executed::Skipped);
    }
    let Some(request) = RefundRequest::of(&order, r) else {
        // Recorded before payments were named: nothing to send it against.
        return Err(RefundError::InvalidRequest(format!(
            "refund {refund_id} names no payment"
        )));
    };
    // Only a refused create closes the refund: a refused query or
    // apply-abnormal says nothing about the money (the refund may well
    // have been made), so it is asked again later, never sent anew.
    let mut created = false;
    let word = match (asking, r.status, r.resend) {
        (true, _, _) => match provider.query(&request).await {
            // Never reached the provider: send it now, same number.
            Err(ProviderError::NotFound) if r.status == crate::order::RefundStatus::Pending => {
                created = true;
                provider.create(&request).await
            }
            other => other,
        },
        (false, _, crate::order::Resend::ApplyAbnormal) => provider.apply_abnormal(&request).await,
        (false, _, crate::order::Resend::Create) => {
            created = true;
            provider.create(&request).await
        }
    };
    let word = match word {
        Ok(word) => word,
        Err(ProviderError::Refused(why)) if created => {
            tracing::warn!(refund = %refund_id, provider_no = %request.provider_no, %why, "refund refused");
            ProviderRefund {
                state: ProviderState::Failed(crate::order::RefundFailure::Closed),
                provider_refund_id: None,
            }
        }
        Err(ProviderError::Refused(why)) => {
            return Err(ProviderError::Temporary(format!(
                "{} refused ({why}): asked again later",
                if asking {
                    "the query"
                } else {
                    "apply-abnormal-refund"
                }
            ))
            .into())
        }
        Err(e) => return Err(e.into()),
    };
    let provider_no = request.provider_no.clone();
    // Decided first on the order read above (one read less); if it changed
    // meanwhile, the write is refused and the order read again.
    let recorded = record(
        store,
        publisher,
        Some(order),
        order_id,
        refund_id,
        &provider_no,
        &word,
        "payment",
        query_secs,
        now,
    )
    .await?;
    Ok(match recorded {
        Some(status) => Executed::Recorded(status),
        None => Executed::Skipped,
    })
}

/// Records the provider's word on a refund; the refund's status after it,
/// or None if it told nothing new.
#[allow(clippy::too_many_arguments)]
async fn record<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    loaded: Option<Order>,
    order_id: &OrderId,
    refund_id: &str,
    provider_no: &str,
    word: &ProviderRefund,
    actor: &str,
    query_secs: u64,
    now: Timestamp,
) -> Result<Option<&'static str>, RefundError> {
    let outcome = transition_from(
        store,
        publisher,
        Target::Order(order_id),
        loaded,
        now,
        |cur| {
            let order = cur.order.as_ref().ok_or(RefundError::NotFound)?;
            let mut next = order.next();
            let query_at = now.plus_secs(query_secs);
            if !next.record_refund_state(refund_id, provider_no, word, actor, now, query_at) {
                return Ok::<_, RefundError>(Decision::Done(None));
            }
            let status = next
                .refund_by_id(refund_id)
                .map(|r| r.status.as_str())
                .unwrap_or_default();
            Ok(Decision::write(Write::order(next), Some(status)))
        },
    )
    .await?;
    Ok(outcome.value)
}

/// A provider's refund notification, verified by its channel: the refund
/// under `provider_no` now stands at `state`. Answers the order as it is
/// after it (a repeated or stale notification changes nothing).
pub async fn notified<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    storefront: &StorefrontId,
    provider_no: &str,
    word: &ProviderRefund,
    query_secs: u64,
    now: Timestamp,
) -> Result<Order, RefundError> {
    let no = RefundNo::parse(provider_no).ok_or(RefundError::NotFound)?;
    let order = store
        .get_order(&no.order_id)
        .await?
        .ok_or(RefundError::NotFound)?;
    if &order.storefront != storefront {
        return Err(RefundError::WrongStorefront);
    }
    if order.refund_by_id(&no.refund_id).is_none() {
        return Err(RefundError::NotFound);
    }
    record(
        store,
        publisher,
        None,
        &no.order_id,
        &no.refund_id,
        provider_no,
        word,
        "payment",
        query_secs,
        now,
    )
    .await?;
    store
        .get_order(&no.order_id)
        .await?
        .ok_or(RefundError::NotFound)
}

/// The gateway's refund notification body (SPEC 2.12): `{"refund_id",
/// "status"}`, `refund_id` being the number the refund was sent under.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GatewayRefundNotice {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub refund_id: String,
    /// `succeeded`, `processing` or `failed`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(succeeded|processing|failed)$")
    )]
    pub status: String,
    /// The gateway's own id of the refund.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 128))]
    pub gateway_refund_id: Option<String>,
}

impl GatewayRefundNotice {
    /// The refund's number and the gateway's word on it.
    pub fn parse(body: &[u8]) -> Result<(String, ProviderRefund), RefundError> {
        let n: GatewayRefundNotice = crate::body::parse(body)?;
        let state = match n.status.as_str() {
            "succeeded" => ProviderState::Succeeded,
            "processing" => ProviderState::Processing,
            "failed" => ProviderState::Failed(RefundFailure::Closed),
            _ => {
                return Err(RefundError::InvalidRequest(
                    "status must be succeeded, processing or failed".into(),
                ))
            }
        };
        let printable = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic())
        };
        if !printable(&n.refund_id, 64)
            || n.gateway_refund_id
                .as_deref()
                .is_some_and(|g| !printable(g, 128))
        {
            return Err(RefundError::InvalidRequest(
                "refund_id (1 to 64) and gateway_refund_id (1 to 128) are printable characters"
                    .into(),
            ));
        }
        Ok((
            n.refund_id,
            ProviderRefund {
                state,
                provider_refund_id: n.gateway_refund_id,
            },
        ))
    }
}

/// What staff do with a failed refund.
#[derive(Debug, Clone)]
pub enum StaffRefundAction {
    Retry,
    RecordOffline { note: String },
}

/// Body of `POST /refunds/{refund_id}/record-offline`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineInput {
    /// How the money was paid back (a bank transfer's reference...).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1000))]
    pub note: String,
}

impl OfflineInput {
    pub fn parse(body: &[u8]) -> Result<String, RefundError> {
        let input: OfflineInput = crate::body::parse(body)?;
        let note = input.note.trim();
        let max = crate::backoffice::notes::MAX_NOTE_CHARS;
        if note.is_empty() || note.chars().count() > max {
            return Err(RefundError::InvalidRequest(format!(
                "note must be 1 to {max} characters"
            )));
        }
        Ok(note.to_owned())
    }
}

/// `POST /refunds/{refund_id}/retry` and `/record-offline` (support, admin),
/// on a failed refund only (once done, the same request again is
/// `refund_not_failed`).
pub async fn staff_action<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    caller: &Caller,
    refund_id: &str,
    action: &StaffRefundAction,
    now: Timestamp,
) -> Result<Order, RefundError> {
    let no = RefundNo::parse(refund_id)
        .filter(|n| n.refund_id == refund_id)
        .ok_or(RefundError::NotFound)?;
    let actor = caller.actor();
    let outcome = transition(store, publisher, Target::Order(&no.order_id), now, |cur| {
        let order = cur.order.as_ref().ok_or(RefundError::NotFound)?;
        if !caller.is_staff() {
            return Err(if caller.may_see(&order.user_id, &order.storefront) {
                RefundError::StaffOnly
            } else {
                RefundError::NotFound
            });
        }
        if !caller.serves(&order.storefront) {
            return Err(RefundError::NotFound);
        }
        let mut next = order.next();
        match action {
            StaffRefundAction::Retry => next.retry_refund(refund_id, &actor, now)?,
            StaffRefundAction::RecordOffline { note } => {
                next.record_refund_offline(refund_id, &actor, note, now)?
            }
        }
        let value = next.clone();
        Ok(Decision::write(Write::order(next), value))
    })
    .await?;
    Ok(outcome.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_numbers_name_their_order_refund_and_attempt() {
        let id = OrderId::generate(&Timestamp::from_unix(1_800_000_000));
        let first = RefundNo::parse(&format!("{id}-R03")).unwrap();
        assert_eq!(first.order_id, id);
        assert_eq!(first.refund_id, format!("{id}-R03"));
        assert_eq!(first.attempt, 1);
        let third = RefundNo::parse(&format!("{id}-R03-3")).unwrap();
        assert_eq!(
            (third.refund_id.as_str(), third.attempt),
            (first.refund_id.as_str(), 3)
        );
        for bad in [
            format!("{id}-R3"),
            format!("{id}-R03-1"),
            format!("{id}-R03-x"),
            format!("{id}-A03"),
            "nonsense-R01".to_owned(),
        ] {
            assert_eq!(RefundNo::parse(&bad), None, "{bad}");
        }
    }
}
