//! WeChat Pay API v3 (SPEC 2.12), beside the supplier clients and on the
//! same transport: JSAPI prepay, refunds (create, query,
//! apply-abnormal-refund), the trade bill, and the notifications it sends.
//!
//! Every request is signed with the storefront's merchant key
//! ([`crypto`]); every answer we act on is verified with the key its
//! `Wechatpay-Serial` names. Errors: 5xx, 408, 429, time-outs, an answer
//! that cannot be read or verified, and the codes `SYSTEM_ERROR`,
//! `NOT_ENOUGH`, `FREQUENCY_LIMITED` are temporary (sent again under the
//! same `out_refund_no`); `RESOURCE_NOT_EXISTS` (404) to a query is "no
//! such refund"; any other 4xx is a refusal.

pub mod bill;
pub mod crypto;

use crate::transport::{Answer, Transport};
use crate::ConfigError;
use bytes::Bytes;
use crypto::{ApiV3Key, CryptoError, MerchantKey, SignedHeaders, VerifyingKeys};
use domain::payment::refund::{
    ProviderError, ProviderRefund, ProviderState, RefundFailure, RefundRequest,
};
use domain::payment::start::{PayParams, PrepayRequest};
use domain::ports::SupplierError;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use http::{Method, StatusCode, Uri};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://api.mch.weixin.qq.com";

/// The settings a storefront's WeChat Pay credentials are read from: the
/// environment (the `default` storefront) or the keys of the JSON object
/// its secret holds.
pub const CREDENTIAL_NAMES: [&str; 6] = [
    "WECHATPAY_MCHID",
    "WECHATPAY_APPID",
    "WECHATPAY_KEY_SERIAL",
    "WECHATPAY_PRIVATE_KEY",
    "WECHATPAY_API_V3_KEY",
    "WECHATPAY_VERIFICATION_KEYS",
];

/// Sent with every request: WeChat Pay requires a User-Agent.
const USER_AGENT: &str = concat!("order-system/", env!("CARGO_PKG_VERSION"));

/// A bill is at most this large (a day of a busy merchant is a few MB).
const MAX_BILL_BYTES: usize = 64 << 20;

/// One merchant account's credentials.
#[derive(Debug)]
pub struct Credentials {
    pub mchid: String,
    pub appid: String,
    /// The serial of the merchant certificate whose key signs requests.
    pub key_serial: String,
    pub key: MerchantKey,
    pub api_v3_key: ApiV3Key,
    /// Platform certificates and WeChat Pay public keys, by serial / id.
    pub verifying: VerifyingKeys,
}

impl Credentials {
    /// From the six [`CREDENTIAL_NAMES`]; `WECHATPAY_VERIFICATION_KEYS` is a
    /// JSON object `{serial or PUB_KEY_ID_...: PEM}`. None when
    /// `WECHATPAY_MCHID` is absent (the channel is not configured).
    pub fn from_values(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let Some(mchid) = get("WECHATPAY_MCHID").filter(|m| !m.is_empty()) else {
            return Ok(None);
        };
        let need = |name: &str| {
            get(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{name} is not set"))
        };
        let keys: HashMap<String, String> =
            serde_json::from_str(&need("WECHATPAY_VERIFICATION_KEYS")?).map_err(|e| {
                format!("WECHATPAY_VERIFICATION_KEYS is not a JSON object of PEMs: {e}")
            })?;
        let verifying = VerifyingKeys::parse(&keys).map_err(|e| e.to_string())?;
        if verifying.is_empty() {
            return Err("WECHATPAY_VERIFICATION_KEYS holds no key".into());
        }
        Ok(Some(Self {
            mchid,
            appid: need("WECHATPAY_APPID")?,
            key_serial: need("WECHATPAY_KEY_SERIAL")?,
            key: MerchantKey::from_pem(&need("WECHATPAY_PRIVATE_KEY")?)
                .map_err(|e| e.to_string())?,
            api_v3_key: ApiV3Key::parse(&need("WECHATPAY_API_V3_KEY")?)
                .map_err(|e| e.to_string())?,
            verifying,
        }))
    }

    /// `Authorization` for `method path_and_query` with `body`.
    pub fn authorization(&self, method: &str, path_and_query: &str, body: &[u8]) -> String {
        let nonce = crypto::nonce_str();
        let ts = unix_now().to_string();
        let mut message = format!("{method}\n{path_and_query}\n{ts}\n{nonce}\n").into_bytes();
        message.extend_from_slice(body);
        message.push(b'\n');
        let signature = self.key.sign(&message);
        format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{ts}\",serial_no=\"{}\"",
            self.mchid, self.key_serial
        )
    }

    /// The parameters for `wx.requestPayment`, `paySign` over
    /// `appId\ntimeStamp\nnonceStr\npackage\n`.
    pub fn pay_params(&self, prepay_id: &str) -> PayParams {
        let time_stamp = unix_now().to_string();
        let nonce_str = crypto::nonce_str();
        let package = format!("prepay_id={prepay_id}");
        let pay_sign = self
            .key
            .sign(format!("{}\n{time_stamp}\n{nonce_str}\n{package}\n", self.appid).as_bytes());
        PayParams {
            app_id: self.appid.clone(),
            time_stamp,
            nonce_str,
            package,
            sign_type: "RSA".into(),
            pay_sign,
        }
    }

    /// Verifies a notification (`Wechatpay-*` headers over the body, 5
    /// minutes) and decrypts its resource: (event_type, the resource's JSON).
    pub fn open_notification(
        &self,
        headers: &SignedHeaders,
        body: &[u8],
    ) -> Result<(String, Vec<u8>), CryptoError> {
        self.verifying.verify(headers, body, unix_now())?;
        let n: NotificationBody = serde_json::from_slice(body)
            .map_err(|e| CryptoError::Undecryptable(format!("not a notification: {e}")))?;
        if n.resource.algorithm != "AEAD_AES_256_GCM" {
            return Err(CryptoError::Undecryptable(format!(
                "algorithm {:?}",
                n.resource.algorithm
            )));
        }
        let plain = self.api_v3_key.decrypt(
            &n.resource.ciphertext,
            &n.resource.nonce,
            n.resource.associated_data.as_deref().unwrap_or(""),
        )?;
        Ok((n.event_type, plain))
    }
}

#[derive(Deserialize)]
struct NotificationBody {
    #[serde(default)]
    event_type: String,
    resource: EncryptedResource,
}

#[derive(Deserialize)]
struct EncryptedResource {
    algorithm: String,
    ciphertext: String,
    #[serde(default)]
    associated_data: Option<String>,
    nonce: String,
}

/// A payment notification's resource (`TRANSACTION.SUCCESS`).
#[derive(Debug, Clone, Deserialize)]
pub struct Transaction {
    pub appid: String,
    pub mchid: String,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub trade_state: String,
    #[serde(default)]
    pub success_time: Option<String>,
    pub amount: TransactionAmount,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TransactionAmount {
    pub total: u64,
}

/// A refund notification's resource (`REFUND.SUCCESS` / `.ABNORMAL` / `.CLOSED`).
#[derive(Debug, Clone, Deserialize)]
pub struct RefundResource {
    pub mchid: String,
    pub out_refund_no: String,
    pub refund_id: String,
    pub refund_status: String,
}

/// WeChat's refund status as our word on it.
pub fn refund_state(status: &str) -> Option<ProviderState> {
    match status {
        "SUCCESS" => Some(ProviderState::Succeeded),
        "PROCESSING" => Some(ProviderState::Processing),
        "ABNORMAL" => Some(ProviderState::Failed(RefundFailure::Abnormal)),
        "CLOSED" => Some(ProviderState::Failed(RefundFailure::Closed)),
        _ => None,
    }
}

fn unix_now() -> i64 {
    domain::time::Timestamp::now().unix()
}

/// WeChat Pay as the functions reach it: the API client and where
/// notifications come back.
#[derive(Clone)]
pub struct WechatPay {
    pub client: WechatPayClient,
    /// `PUBLIC_BASE_URL`: where WeChat sends its notifications
    /// (`{base}/payments/wechatpay/...`); None: nothing is sent to WeChat.
    pub public_base_url: Option<String>,
}

impl WechatPay {
    /// From `WECHATPAY_API_URL` (default [`DEFAULT_BASE_URL`]),
    /// `PAYMENT_TIMEOUT_MS` (default 5000) and `PUBLIC_BASE_URL`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let timeout = match var("PAYMENT_TIMEOUT_MS") {
            Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
                var: "PAYMENT_TIMEOUT_MS",
                reason: format!("{v:?} is not a number"),
            })?,
            None => 5000,
        };
        Ok(Self {
            client: WechatPayClient::new(
                var("WECHATPAY_API_URL")
                    .as_deref()
                    .unwrap_or(DEFAULT_BASE_URL),
                Duration::from_millis(timeout),
            )?,
            public_base_url: var("PUBLIC_BASE_URL").map(|b| b.trim().to_owned()),
        })
    }

    /// `{PUBLIC_BASE_URL}/payments/wechatpay/{kind}/{storefront}`.
    pub fn notify_url(&self, kind: &str, sf: &domain::storefront::StorefrontId) -> Option<String> {
        self.public_base_url
            .as_ref()
            .map(|b| format!("{}/payments/wechatpay/{kind}/{sf}", b.trim_end_matches('/')))
    }
}

/// The WeChat Pay API (`WECHATPAY_API_URL`, default the production host).
#[derive(Clone)]
pub struct WechatPayClient {
    base: String,
    transport: Transport,
}

#[derive(Serialize)]
struct RefundBody<'a> {
    transaction_id: &'a str,
    out_refund_no: &'a str,
    reason: &'a str,
    notify_url: &'a str,
    amount: RefundAmount,
}

#[derive(Serialize)]
struct RefundAmount {
    refund: u64,
    total: u64,
    currency: &'static str,
}

#[derive(Deserialize)]
struct RefundAnswer {
    #[serde(default)]
    refund_id: Option<String>,
    status: String,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct BillAnswer {
    hash_type: String,
    hash_value: String,
    download_url: String,
}

/// Codes worth sending again under the same number.
const TEMPORARY_CODES: [&str; 4] = [
    "SYSTEM_ERROR",
    "NOT_ENOUGH",
    "FREQUENCY_LIMITED",
    "STATEMENT_CREATING",
];

impl WechatPayClient {
    pub fn new(base: &str, timeout: Duration) -> Result<Self, ConfigError> {
        let uri: Uri = base.parse().map_err(|e| ConfigError::Invalid {
            var: "WECHATPAY_API_URL",
            reason: format!("{base:?}: {e}"),
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(ConfigError::Invalid {
                var: "WECHATPAY_API_URL",
                reason: format!("{base:?} is not an http(s) URL"),
            });
        }
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            transport: Transport::with(uri.scheme_str() == Some("https"), timeout)?,
        })
    }

    /// One signed call to `path` (under the base URL) or to a full URL
    /// (`download_url`); the answer verified unless it is a temporary failure.
    async fn call(
        &self,
        c: &Credentials,
        what: &str,
        method: Method,
        target: &str,
        body: Option<Value>,
        max: usize,
    ) -> Result<Answer, ProviderError> {
        let url = if target.starts_with("http://") || target.starts_with("https://") {
            target.to_owned()
        } else {
            format!("{}{target}", self.base)
        };
        let uri: Uri = url
            .parse()
            .map_err(|e| ProviderError::Refused(format!("{what}: bad URL {url:?}: {e}")))?;
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = c.authorization(method.as_str(), &path, body.as_bytes());
        let mut headers = vec![
            (
                AUTHORIZATION,
                HeaderValue::from_str(&auth).expect("the authorization is ASCII"),
            ),
            // WeChat Pay refuses a request without one (INVALID_REQUEST).
            (
                http::header::USER_AGENT,
                HeaderValue::from_static(USER_AGENT),
            ),
        ];
        if let Some(id) = c.verifying.public_key_id() {
            // Answer under our WeChat Pay public key (public-key mode).
            if let Ok(v) = HeaderValue::from_str(id) {
                headers.push((HeaderName::from_static("wechatpay-serial"), v));
            }
        }
        let content_type = (method == Method::POST).then_some("application/json");
        let answer = self
            .transport
            .send_limited(
                what,
                method,
                &uri,
                content_type,
                &headers,
                Bytes::from(body),
                max,
            )
            .await
            .map_err(|e| match e {
                SupplierError::Unavailable(m) | SupplierError::Rejected(m) => {
                    ProviderError::Temporary(m)
                }
            })?;
        if answer.is_retryable_status() {
            return Err(ProviderError::Temporary(format!(
                "{what}: HTTP {}: {}",
                answer.status.as_u16(),
                answer.snippet()
            )));
        }
        Ok(answer)
    }

    /// Checks an answer's signature; a forged or unverifiable answer is
    /// not acted on (temporary: asked again).
    fn verified(&self, c: &Credentials, what: &str, a: &Answer) -> Result<(), ProviderError> {
        let header = |name: &str| {
            a.headers
                .get(HeaderName::from_bytes(name.as_bytes()).ok()?)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        SignedHeaders::from_headers(header)
            .and_then(|h| c.verifying.verify(&h, &a.body, unix_now()))
            .map_err(|e| {
                ProviderError::Temporary(format!("{what}: the answer is not WeChat Pay's: {e}"))
            })
    }

    /// A verified non-2xx answer as an error.
    fn refusal(&self, c: &Credentials, what: &str, a: &Answer) -> ProviderError {
        if let Err(e) = self.verified(c, what, a) {
            return e;
        }
        let err: ErrorAnswer = serde_json::from_slice(&a.body).unwrap_or(ErrorAnswer {
            code: String::new(),
            message: a.snippet(),
        });
        let msg = format!(
            "{what}: HTTP {} {}: {}",
            a.status.as_u16(),
            err.code,
            err.message
        );
        if TEMPORARY_CODES.contains(&err.code.as_str()) {
            ProviderError::Temporary(msg)
        } else if a.status == StatusCode::NOT_FOUND || err.code == "RESOURCE_NOT_EXISTS" {
            ProviderError::NotFound
        } else {
            ProviderError::Refused(msg)
        }
    }

    fn json<T: for<'de> Deserialize<'de>>(
        &self,
        c: &Credentials,
        what: &str,
        a: &Answer,
    ) -> Result<T, ProviderError> {
        if !a.status.is_success() {
            return Err(self.refusal(c, what, a));
        }
        self.verified(c, what, a)?;
        serde_json::from_slice(&a.body).map_err(|e| {
            ProviderError::Temporary(format!("{what}: unreadable answer ({e}): {}", a.snippet()))
        })
    }

    /// `POST /v3/pay/transactions/jsapi`, then the signed `wx.requestPayment`
    /// parameters.
    pub async fn prepay(
        &self,
        c: &Credentials,
        req: &PrepayRequest,
        notify_url: &str,
    ) -> Result<PayParams, ProviderError> {
        let body = json!({
            "appid": c.appid,
            "mchid": c.mchid,
            "description": req.description,
            "out_trade_no": req.order_id.as_str(),
            "time_expire": beijing_rfc3339(req.expires_at),
            "notify_url": notify_url,
            "amount": {"total": req.amount_cents.0, "currency": "CNY"},
            "payer": {"openid": req.openid},
        });
        let what = "wechatpay jsapi prepay";
        let a = self
            .call(
                c,
                what,
                Method::POST,
                "/v3/pay/transactions/jsapi",
                Some(body),
                1 << 16,
            )
            .await?;
        #[derive(Deserialize)]
        struct Prepay {
            prepay_id: String,
        }
        let p: Prepay = self.json(c, what, &a)?;
        Ok(c.pay_params(&p.prepay_id))
    }

    fn refund_word(
        &self,
        c: &Credentials,
        what: &str,
        a: &Answer,
    ) -> Result<ProviderRefund, ProviderError> {
        let r: RefundAnswer = self.json(c, what, a)?;
        let state = refund_state(&r.status).ok_or_else(|| {
            ProviderError::Temporary(format!("{what}: unknown status {:?}", r.status))
        })?;
        Ok(ProviderRefund {
            state,
            provider_refund_id: r.refund_id,
        })
    }

    /// `POST /v3/refund/domestic/refunds`: `out_refund_no` is the refund's
    /// number, so a repeat answers the refund it made.
    pub async fn create_refund(
        &self,
        c: &Credentials,
        r: &RefundRequest,
        notify_url: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        let body = serde_json::to_value(RefundBody {
            transaction_id: &r.payment_id,
            out_refund_no: &r.provider_no,
            reason: &r.reason,
            notify_url,
            amount: RefundAmount {
                refund: r.amount_cents.0,
                total: r.payment_cents.0,
                currency: "CNY",
            },
        })
        .map_err(|e| ProviderError::Refused(e.to_string()))?;
        let what = "wechatpay refund";
        let a = self
            .call(
                c,
                what,
                Method::POST,
                "/v3/refund/domestic/refunds",
                Some(body),
                1 << 16,
            )
            .await?;
        match self.refund_word(c, what, &a) {
            // A 404 to a create names no refund: the payment is unknown.
            Err(ProviderError::NotFound) => Err(ProviderError::Refused(format!(
                "{what}: HTTP 404: {}",
                a.snippet()
            ))),
            other => other,
        }
    }

    /// `GET /v3/refund/domestic/refunds/{out_refund_no}`.
    pub async fn query_refund(
        &self,
        c: &Credentials,
        r: &RefundRequest,
    ) -> Result<ProviderRefund, ProviderError> {
        let path = format!("/v3/refund/domestic/refunds/{}", segment(&r.provider_no)?);
        let what = "wechatpay refund query";
        let a = self
            .call(c, what, Method::GET, &path, None, 1 << 16)
            .await?;
        self.refund_word(c, what, &a)
    }

    /// `POST /v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund`
    /// (WeChat's refund id, asked for first when not known), to the
    /// merchant's bank account (`MERCHANT_BANK_CARD`: the buyer's card
    /// details are not ours to hold).
    pub async fn apply_abnormal(
        &self,
        c: &Credentials,
        r: &RefundRequest,
    ) -> Result<ProviderRefund, ProviderError> {
        let refund_id = match &r.provider_refund_id {
            Some(id) => id.clone(),
            None => self
                .query_refund(c, r)
                .await?
                .provider_refund_id
                .ok_or_else(|| {
                    ProviderError::Temporary("the refund has no WeChat id yet".into())
                })?,
        };
        let path = format!(
            "/v3/refund/domestic/refunds/{}/apply-abnormal-refund",
            segment(&refund_id)?
        );
        let body = json!({"out_refund_no": r.provider_no, "type": "MERCHANT_BANK_CARD"});
        let what = "wechatpay apply-abnormal-refund";
        let a = self
            .call(c, what, Method::POST, &path, Some(body), 1 << 16)
            .await?;
        self.refund_word(c, what, &a)
    }

    /// The trade bill of `date` (`YYYY-MM-DD`, Asia/Shanghai): `GET
    /// /v3/bill/tradebill`, then its `download_url`, the file checked
    /// against `hash_value` (SHA1 of the bytes as served). None:
    /// `NO_STATEMENT_EXIST`, a day without trade.
    pub async fn trade_bill(
        &self,
        c: &Credentials,
        date: &str,
    ) -> Result<Option<Vec<u8>>, ProviderError> {
        if !valid_date(date) {
            return Err(ProviderError::Refused(format!(
                "{date:?} is not YYYY-MM-DD"
            )));
        }
        let what = "wechatpay trade bill";
        let path = format!("/v3/bill/tradebill?bill_date={date}&bill_type=ALL");
        let a = self
            .call(c, what, Method::GET, &path, None, 1 << 16)
            .await?;
        if !a.status.is_success() {
            if self.verified(c, what, &a).is_ok()
                && serde_json::from_slice::<ErrorAnswer>(&a.body)
                    .is_ok_and(|e| e.code == "NO_STATEMENT_EXIST")
            {
                return Ok(None);
            }
            return Err(self.refusal(c, what, &a));
        }
        let bill: BillAnswer = self.json(c, what, &a)?;
        if !bill.hash_type.eq_ignore_ascii_case("SHA1") {
            return Err(ProviderError::Refused(format!(
                "{what}: hash type {:?}",
                bill.hash_type
            )));
        }
        let what = "wechatpay bill download";
        let file = self
            .call(
                c,
                what,
                Method::GET,
                &bill.download_url,
                None,
                MAX_BILL_BYTES,
            )
            .await?;
        if !file.status.is_success() {
            return Err(self.refusal(c, what, &file));
        }
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &file.body);
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        if !hex.eq_ignore_ascii_case(&bill.hash_value) {
            return Err(ProviderError::Temporary(format!(
                "{what}: SHA1 {hex} is not the bill's {}",
                bill.hash_value
            )));
        }
        Ok(Some(file.body.to_vec()))
    }
}

/// `YYYY-MM-DD` in form (the provider judges the day itself).
pub fn valid_date(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// A path segment: refund numbers and ids are letters, digits, `-` and `_`.
fn segment(s: &str) -> Result<&str, ProviderError> {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    {
        Ok(s)
    } else {
        Err(ProviderError::Refused(format!(
            "{s:?} cannot be used in a URL"
        )))
    }
}

/// `time_expire`: RFC 3339 in Beijing time (`+08:00`), as WeChat writes it.
pub fn beijing_rfc3339(t: domain::time::Timestamp) -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).expect("UTC+8");
    let at = time::OffsetDateTime::from_unix_timestamp(t.unix())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    at.format(&time::format_description::well_known::Rfc3339)
        .expect("an RFC 3339 time")
}
