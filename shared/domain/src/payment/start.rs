//! Starting a WeChat Pay payment (SPEC 2.12): `POST /orders/{id}/pay/wechatpay`
//! `{"openid"}` by the order's owner while it is unpaid. The provider is
//! asked for a JSAPI prepay (`out_trade_no` = the order id, the order's
//! total, `time_expire` = its payment deadline) and the mini-program gets
//! the signed parameters of `wx.requestPayment`. The order itself does not
//! change: it is paid when the provider's notification comes.

use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::{Caller, OrderId};
use crate::money::Cents;
use crate::order::OrderStatus;
use crate::payment::refund::ProviderError;
use crate::ports::Ledger;
use crate::storefront::StorefrontId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// What the provider is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepayRequest {
    pub storefront: StorefrontId,
    pub order_id: OrderId,
    pub description: String,
    pub amount_cents: Cents,
    /// The order's payment deadline: the provider closes the payment then.
    pub expires_at: Timestamp,
    pub openid: String,
}

/// The parameters `wx.requestPayment` takes, signed by the merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PayParams {
    pub app_id: String,
    pub time_stamp: String,
    pub nonce_str: String,
    /// `prepay_id=...`
    pub package: String,
    /// `RSA`
    pub sign_type: String,
    pub pay_sign: String,
}

/// A channel that starts payments from a mini-program (WeChat Pay JSAPI).
pub trait PaymentStarter: Send + Sync {
    /// Asks for a prepay; repeating it for the same order is safe (the
    /// provider answers the same prepay for the same `out_trade_no`).
    /// [`ProviderError::Temporary`]: unavailable now; `Refused`: the
    /// provider will not take this payment; `NotFound`: the storefront has
    /// no credentials for this channel.
    fn prepay(
        &self,
        req: &PrepayRequest,
    ) -> impl Future<Output = Result<PayParams, ProviderError>> + Send;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartInput {
    /// The buyer's openid in the storefront's mini-program.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub openid: String,
}

impl StartInput {
    pub fn parse(body: &[u8]) -> Result<String, StartError> {
        let input: StartInput = crate::body::parse(body)?;
        let openid = input.openid.trim();
        if openid.is_empty()
            || openid.len() > 128
            || !openid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        {
            return Err(StartError::InvalidRequest(
                "openid must be 1 to 128 letters, digits, - or _".into(),
            ));
        }
        Ok(openid.to_owned())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no such order")]
    OrderNotFound,
    #[error("only the buyer pays an order")]
    OwnerOnly,
    #[error("the order is {0}, not awaiting payment")]
    NotPayable(&'static str),
    #[error("the payment deadline has passed")]
    DeadlinePassed,
    #[error("this storefront takes no WeChat Pay payments")]
    NotConfigured,
    #[error("the payment provider refused: {0}")]
    Refused(String),
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::body_errors!(StartError);

impl Problem for StartError {
    fn kind(&self) -> ErrorKind {
        use StartError::*;
        match self {
            InvalidJson(_) | InvalidRequest(_) => ErrorKind::BadRequest,
            OrderNotFound => ErrorKind::NotFound,
            OwnerOnly => ErrorKind::Forbidden,
            NotPayable(_) | DeadlinePassed => ErrorKind::Conflict,
            NotConfigured | Refused(_) => ErrorKind::Unprocessable,
            Unavailable(_) => ErrorKind::Busy,
            Store(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        use StartError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            InvalidRequest(_) => "invalid_request",
            OrderNotFound => "order_not_found",
            OwnerOnly => "owner_only",
            NotPayable(_) => "not_payable",
            DeadlinePassed => "payment_deadline_passed",
            NotConfigured => "payment_channel_not_configured",
            Refused(_) => "payment_refused",
            Unavailable(_) => "busy",
            Store(e) => e.code(),
        }
    }
}

/// Starts the WeChat payment of `order_id` for its owner.
pub async fn start_payment<S: Ledger, P: PaymentStarter>(
    store: &S,
    starter: &P,
    caller: &Caller,
    order_id: &OrderId,
    openid: String,
    now: Timestamp,
) -> Result<PayParams, StartError> {
    let order = store
        .get_order(order_id)
        .await?
        .filter(|o| caller.may_see(&o.user_id, &o.storefront))
        .ok_or(StartError::OrderNotFound)?;
    if order.user_id != caller.user {
        return Err(StartError::OwnerOnly);
    }
    if order.status() != OrderStatus::PendingPayment {
        return Err(StartError::NotPayable(order.status().as_str()));
    }
    if order.payment_deadline <= now {
        return Err(StartError::DeadlinePassed);
    }
    let req = PrepayRequest {
        storefront: order.storefront.clone(),
        order_id: order.id.clone(),
        description: format!("Order {}", order.id),
        amount_cents: order.total_cents,
        expires_at: order.payment_deadline,
        openid,
    };
    starter.prepay(&req).await.map_err(|e| match e {
        ProviderError::Temporary(m) => StartError::Unavailable(m),
        ProviderError::Refused(m) => StartError::Refused(m),
        ProviderError::NotFound => StartError::NotConfigured,
    })
}
