//! WeChat Pay API v3 (SPEC 2.12), as the `suppliers` WeChat Pay client calls
//! it, under `/wechatpay` (`WECHATPAY_API_URL = {base}/wechatpay`). Keys are
//! generated at start: the merchant's (its private key handed to the
//! functions, its public key verifying their requests) and the platform's
//! (signing answers and notifications under `PUB_KEY_ID_SIM...`).
//!
//! - `POST /v3/pay/transactions/jsapi`: a prepay per `out_trade_no`;
//!   `POST /_sim/wechatpay/pay {"out_trade_no", "amount_cents"?}` plays the
//!   buyer paying it: a transaction and its `TRANSACTION.SUCCESS`
//!   notification to the prepay's `notify_url`.
//! - `POST /v3/refund/domestic/refunds`: one refund per `out_refund_no`
//!   (of any payment notified to the stack), `GET .../refunds/{no}`,
//!   `POST .../refunds/{refund_id}/apply-abnormal-refund`.
//! - `GET /v3/bill/tradebill?bill_date=` and its `download_url`: the day's
//!   payments and refunds (Asia/Shanghai), with the differences injected
//!   by `POST /_sim/wechatpay/bill`.
//!
//! Refund modes (`POST /_sim/wechatpay {"refund": ...}`): `succeed`
//! (answer SUCCESS, notify it), `process_then_notify` (PROCESSING, then
//! SUCCESS), `abnormal` and `closed` (PROCESSING, then that), `process_silently`
//! (PROCESSING, settle SUCCESS unnotified), `notify_twice`, `bad_signature`
//! (the notification's signature corrupted), `time_out` (make it, answer
//! after `time_out_ms`); `unavailable_next: n` answers 500 SYSTEM_ERROR n times.
//! Requests are verified like WeChat does (merchant signature, serial,
//! mchid, 5 minutes): a bad one is 401 SIGN_ERROR.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair, UnparsedPublicKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const MCHID: &str = "1900000001";
pub const APPID: &str = "wxd0000000000sim1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WechatRefundMode {
    #[default]
    Succeed,
    ProcessThenNotify,
    Abnormal,
    Closed,
    ProcessSilently,
    NotifyTwice,
    BadSignature,
    TimeOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WechatMode {
    pub refund: WechatRefundMode,
    pub unavailable_next: u32,
    /// The next n calls are refused (400 INVALID_REQUEST), making nothing.
    pub refuse_next: u32,
    pub time_out_ms: u64,
}

impl Default for WechatMode {
    fn default() -> Self {
        Self {
            refund: WechatRefundMode::Succeed,
            unavailable_next: 0,
            refuse_next: 0,
            time_out_ms: 10_000,
        }
    }
}

/// The credentials the functions need, under the names they read
/// (`WECHATPAY_*`), verification keys as a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantCredentials {
    #[serde(rename = "WECHATPAY_MCHID")]
    pub mchid: String,
    #[serde(rename = "WECHATPAY_APPID")]
    pub appid: String,
    #[serde(rename = "WECHATPAY_KEY_SERIAL")]
    pub key_serial: String,
    #[serde(rename = "WECHATPAY_PRIVATE_KEY")]
    pub private_key: String,
    #[serde(rename = "WECHATPAY_API_V3_KEY")]
    pub api_v3_key: String,
    /// `{"PUB_KEY_ID_SIM...": PEM}` as a JSON string.
    #[serde(rename = "WECHATPAY_VERIFICATION_KEYS")]
    pub verification_keys: String,
}

/// A payment started with a prepay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepay {
    pub prepay_id: String,
    pub out_trade_no: String,
    pub amount_cents: u64,
    pub notify_url: String,
    pub openid: String,
    pub time_expire: String,
    /// Prepay requests for this order (repeats answer the same prepay).
    pub requests: u32,
}

/// Money the buyer paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub transaction_id: String,
    pub out_trade_no: String,
    pub amount_cents: u64,
    /// `YYYY-MM-DD HH:MM:SS`, Beijing time.
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WechatRefund {
    pub out_refund_no: String,
    pub refund_id: String,
    pub transaction_id: String,
    pub amount_cents: u64,
    pub total_cents: u64,
    /// `SUCCESS`, `PROCESSING`, `ABNORMAL`, `CLOSED`: where it settles.
    pub status: String,
    pub notify_url: String,
    /// Create requests under this number (repeats make nothing).
    pub requests: u32,
    pub abnormal_applications: u32,
    pub time: String,
}

/// A difference injected into the day's bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BillEdit {
    /// A payment only the bill has.
    ExtraPayment {
        out_trade_no: String,
        transaction_id: String,
        amount_cents: u64,
    },
    /// A payment the bill leaves out.
    DropPayment { transaction_id: String },
    /// A refund the bill shows with another amount or status.
    ChangeRefund {
        out_refund_no: String,
        #[serde(default)]
        amount_cents: Option<u64>,
        #[serde(default)]
        status: Option<String>,
    },
}

/// A notification to deliver: POST `url` with these headers and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WechatNotification {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// How the next notifications are spoiled (for the tests of refusals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Forgery {
    #[default]
    None,
    /// The signature does not match the body.
    Signature,
    /// Signed 6 minutes ago.
    Stale,
    /// Signed correctly, the resource sealed with another key.
    Undecryptable,
}

pub(crate) struct Keys {
    /// [`Forgery`] as a number (shared by every request).
    forgery: std::sync::atomic::AtomicU8,
    /// Answers signed with a corrupted signature while set.
    pub forge_answers: std::sync::atomic::AtomicBool,
    platform: RsaKeyPair,
    platform_id: String,
    merchant_public: Vec<u8>,
    pub credentials: MerchantCredentials,
}

impl Keys {
    pub fn generate() -> Self {
        let merchant = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA");
        let platform = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA");
        let private: Pkcs8V1Der = merchant.as_der().expect("PKCS#8");
        let merchant_public: PublicKeyX509Der = merchant.public_key().as_der().expect("SPKI");
        let platform_public: PublicKeyX509Der = platform.public_key().as_der().expect("SPKI");
        let platform_id = format!("PUB_KEY_ID_SIM{}", random_digits(20));
        let credentials = MerchantCredentials {
            mchid: MCHID.into(),
            appid: APPID.into(),
            key_serial: random_hex(40),
            private_key: pem("PRIVATE KEY", private.as_ref()),
            api_v3_key: random_alnum(32),
            verification_keys:
                json!({ platform_id.clone(): pem("PUBLIC KEY", platform_public.as_ref()) })
                    .to_string(),
        };
        Self {
            forgery: Default::default(),
            forge_answers: Default::default(),
            platform,
            platform_id,
            merchant_public: merchant_public.as_ref().to_vec(),
            credentials,
        }
    }

    pub fn set_forgery(&self, f: Forgery) {
        self.forgery
            .store(f as u8, std::sync::atomic::Ordering::SeqCst);
    }

    fn forgery(&self) -> Forgery {
        match self.forgery.load(std::sync::atomic::Ordering::SeqCst) {
            1 => Forgery::Signature,
            2 => Forgery::Stale,
            3 => Forgery::Undecryptable,
            _ => Forgery::None,
        }
    }

    /// `Wechatpay-*` headers over `body` (signature corrupted when `forge`).
    pub fn signed_headers(&self, body: &str, forge: bool) -> Vec<(String, String)> {
        self.signed_at(body, forge, now_unix())
    }

    fn signed_at(&self, body: &str, forge: bool, at: i64) -> Vec<(String, String)> {
        let ts = at.to_string();
        let nonce = random_alnum(32);
        let mut sig = vec![0; self.platform.public_modulus_len()];
        self.platform
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                format!("{ts}\n{nonce}\n{body}\n").as_bytes(),
                &mut sig,
            )
            .expect("signing");
        if forge {
            sig[10] ^= 0x55;
        }
        vec![
            ("Wechatpay-Timestamp".into(), ts),
            ("Wechatpay-Nonce".into(), nonce),
            ("Wechatpay-Signature".into(), B64.encode(sig)),
            ("Wechatpay-Serial".into(), self.platform_id.clone()),
        ]
    }

    /// Checks a merchant request's `Authorization`.
    pub fn verify_request(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        authorization: Option<&str>,
    ) -> Result<(), String> {
        let auth = authorization.ok_or("no Authorization")?;
        let params = auth
            .strip_prefix("WECHATPAY2-SHA256-RSA2048 ")
            .ok_or("not WECHATPAY2-SHA256-RSA2048")?;
        let mut fields = BTreeMap::new();
        for part in params.split(',') {
            let (k, v) = part.split_once('=').ok_or("a malformed Authorization")?;
            fields.insert(k.trim(), v.trim().trim_matches('"'));
        }
        let get = |k: &str| fields.get(k).copied().ok_or(format!("no {k}"));
        if get("mchid")? != self.credentials.mchid {
            return Err("another merchant".into());
        }
        if get("serial_no")? != self.credentials.key_serial {
            return Err("unknown serial_no".into());
        }
        let ts: i64 = get("timestamp")?.parse().map_err(|_| "bad timestamp")?;
        if (now_unix() - ts).abs() > 300 {
            return Err("stale timestamp".into());
        }
        let mut message =
            format!("{method}\n{path_and_query}\n{ts}\n{}\n", get("nonce_str")?).into_bytes();
        message.extend_from_slice(body);
        message.push(b'\n');
        let sig = B64
            .decode(get("signature")?)
            .map_err(|_| "signature not base64")?;
        UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            &self.merchant_public,
        )
        .verify(&message, &sig)
        .map_err(|_| "bad signature".to_owned())
    }

    /// A notification of `event_type` with `resource` encrypted.
    pub fn notification(
        &self,
        url: &str,
        event_type: &str,
        original_type: &str,
        resource: &Value,
        forge: bool,
    ) -> WechatNotification {
        let nonce = random_alnum(12);
        let forgery = self.forgery();
        let mut api_key = self.credentials.api_v3_key.as_bytes().to_vec();
        if forgery == Forgery::Undecryptable {
            api_key.reverse();
        }
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &api_key).expect("key"));
        let mut data = resource.to_string().into_bytes();
        key.seal_in_place_append_tag(
            Nonce::try_assume_unique_for_key(nonce.as_bytes()).expect("12 bytes"),
            Aad::from(original_type.as_bytes()),
            &mut data,
        )
        .expect("sealing");
        let body = json!({
            "id": random_hex(36), "create_time": beijing_rfc3339(now_unix()),
            "resource_type": "encrypt-resource", "event_type": event_type, "summary": event_type,
            "resource": {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": B64.encode(data), "associated_data": original_type, "nonce": nonce},
        })
        .to_string();
        let at = now_unix() - if forgery == Forgery::Stale { 360 } else { 0 };
        WechatNotification {
            url: url.to_owned(),
            headers: self.signed_at(&body, forge || forgery == Forgery::Signature, at),
            body,
        }
    }
}

#[derive(Default)]
pub(crate) struct WechatState {
    pub mode: WechatMode,
    pub prepays: BTreeMap<String, Prepay>,
    pub transactions: BTreeMap<String, Transaction>,
    pub refunds: BTreeMap<String, WechatRefund>,
    pub pending: Vec<WechatNotification>,
    pub edits: Vec<BillEdit>,
    pub bills: BTreeMap<String, Vec<u8>>,
    next: u64,
}

/// What a route answers: status and JSON body, sent after `delay_ms`.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
    pub delay_ms: u64,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body,
        delay_ms: 0,
    }
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    reply(status, json!({"code": code, "message": message}))
}

impl WechatState {
    fn next_id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:010}", self.next)
    }

    fn busy(&mut self) -> Option<Reply> {
        if self.mode.refuse_next > 0 {
            self.mode.refuse_next -= 1;
            return Some(error(400, "INVALID_REQUEST", "refused (simulated)"));
        }
        (self.mode.unavailable_next > 0).then(|| {
            self.mode.unavailable_next -= 1;
            error(500, "SYSTEM_ERROR", "system busy, try again")
        })
    }

    pub fn prepay(&mut self, body: &Value) -> Reply {
        if let Some(r) = self.busy() {
            return r;
        }
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(otn), Some(notify_url), Some(total), Some(openid)) = (
            s("out_trade_no"),
            s("notify_url"),
            body.pointer("/amount/total").and_then(Value::as_u64),
            body.pointer("/payer/openid").and_then(Value::as_str),
        ) else {
            return error(
                400,
                "PARAM_ERROR",
                "out_trade_no, notify_url, amount.total and payer.openid are required",
            );
        };
        if s("appid").as_deref() != Some(APPID) || s("mchid").as_deref() != Some(MCHID) {
            return error(400, "APPID_MCHID_NOT_MATCH", "appid and mchid do not match");
        }
        if s("description").is_none_or(|d| d.is_empty()) || s("time_expire").is_none() {
            return error(
                400,
                "PARAM_ERROR",
                "description and time_expire are required",
            );
        }
        if self.transactions.values().any(|t| t.out_trade_no == otn) {
            return error(400, "ORDERPAID", "the order is paid");
        }
        let prepay_id = match self.prepays.get_mut(&otn) {
            Some(p) => {
                p.requests += 1;
                p.prepay_id.clone()
            }
            None => {
                let id = format!("wx{}", self.next_id("SIMPREPAY"));
                self.prepays.insert(
                    otn.clone(),
                    Prepay {
                        prepay_id: id.clone(),
                        out_trade_no: otn,
                        amount_cents: total,
                        notify_url,
                        openid: openid.to_owned(),
                        time_expire: s("time_expire").unwrap_or_default(),
                        requests: 1,
                    },
                );
                id
            }
        };
        reply(200, json!({ "prepay_id": prepay_id }))
    }

    /// The buyer pays the prepay of `otn` (`amount`: what they paid, the
    /// prepay's by default): the transaction and its notification.
    pub fn pay(
        &mut self,
        keys: &Keys,
        otn: &str,
        amount: Option<u64>,
    ) -> Result<Transaction, String> {
        let p = self
            .prepays
            .get(otn)
            .cloned()
            .ok_or_else(|| format!("no prepay for {otn}"))?;
        let t = Transaction {
            transaction_id: self.next_id("42000000"),
            out_trade_no: otn.to_owned(),
            amount_cents: amount.unwrap_or(p.amount_cents),
            time: beijing_time(now_unix()),
        };
        self.transactions
            .insert(t.transaction_id.clone(), t.clone());
        let resource = json!({
            "appid": APPID, "mchid": MCHID, "out_trade_no": otn,
            "transaction_id": t.transaction_id, "trade_type": "JSAPI", "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "",
            "success_time": beijing_rfc3339(now_unix()), "payer": {"openid": p.openid},
            "amount": {"total": t.amount_cents, "payer_total": t.amount_cents, "currency": "CNY", "payer_currency": "CNY"},
        });
        self.pending.push(keys.notification(
            &p.notify_url,
            "TRANSACTION.SUCCESS",
            "transaction",
            &resource,
            false,
        ));
        Ok(t)
    }

    fn refund_shape(r: &WechatRefund, status: &str) -> Value {
        json!({
            "refund_id": r.refund_id, "out_refund_no": r.out_refund_no,
            "transaction_id": r.transaction_id, "out_trade_no": "", "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱", "create_time": beijing_rfc3339(now_unix()),
            "status": status, "funds_account": "AVAILABLE",
            "amount": {"total": r.total_cents, "refund": r.amount_cents, "payer_total": r.total_cents,
                "payer_refund": r.amount_cents, "currency": "CNY"},
        })
    }

    fn refund_notification(&mut self, keys: &Keys, r: &WechatRefund, forge: bool) {
        let event = format!("REFUND.{}", r.status);
        let resource = json!({
            "mchid": MCHID, "out_trade_no": self.transactions.get(&r.transaction_id).map(|t| t.out_trade_no.clone()).unwrap_or_default(),
            "transaction_id": r.transaction_id, "out_refund_no": r.out_refund_no,
            "refund_id": r.refund_id, "refund_status": r.status,
            "success_time": beijing_rfc3339(now_unix()), "user_received_account": "支付用户零钱",
            "amount": {"total": r.total_cents, "refund": r.amount_cents, "payer_total": r.total_cents, "payer_refund": r.amount_cents},
        });
        let n = keys.notification(&r.notify_url, &event, "refund", &resource, forge);
        self.pending.push(n);
    }

    pub fn create_refund(&mut self, keys: &Keys, body: &Value) -> Reply {
        if let Some(r) = self.busy() {
            return r;
        }
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(tid), Some(no), Some(notify_url), Some(refund), Some(total)) = (
            s("transaction_id"),
            s("out_refund_no"),
            s("notify_url"),
            body.pointer("/amount/refund").and_then(Value::as_u64),
            body.pointer("/amount/total").and_then(Value::as_u64),
        ) else {
            return error(
                400,
                "PARAM_ERROR",
                "transaction_id, out_refund_no, notify_url and amount are required",
            );
        };
        if refund == 0 || refund > total {
            return error(400, "PARAM_ERROR", "amount.refund must be 1..=amount.total");
        }
        if let Some(r) = self.refunds.get_mut(&no) {
            r.requests += 1;
            let r = r.clone();
            return reply(200, Self::refund_shape(&r, &r.status));
        }
        let already: u64 = self
            .refunds
            .values()
            .filter(|r| r.transaction_id == tid && r.status != "CLOSED")
            .map(|r| r.amount_cents)
            .sum();
        if already + refund > total {
            return error(403, "NOT_ENOUGH", "the refunds exceed the payment");
        }
        let mode = self.mode.refund;
        use WechatRefundMode::*;
        let (answered, settled, notify) = match mode {
            Succeed => ("SUCCESS", "SUCCESS", 1),
            ProcessThenNotify | BadSignature => ("PROCESSING", "SUCCESS", 1),
            Abnormal => ("PROCESSING", "ABNORMAL", 1),
            Closed => ("PROCESSING", "CLOSED", 1),
            ProcessSilently => ("PROCESSING", "SUCCESS", 0),
            NotifyTwice => ("PROCESSING", "SUCCESS", 2),
            TimeOut => ("SUCCESS", "SUCCESS", 0),
        };
        let r = WechatRefund {
            out_refund_no: no.clone(),
            refund_id: self.next_id("50300000"),
            transaction_id: tid,
            amount_cents: refund,
            total_cents: total,
            status: settled.into(),
            notify_url,
            requests: 1,
            abnormal_applications: 0,
            time: beijing_time(now_unix()),
        };
        self.refunds.insert(no, r.clone());
        for _ in 0..notify {
            self.refund_notification(keys, &r, mode == BadSignature);
        }
        let mut out = reply(200, Self::refund_shape(&r, answered));
        if mode == TimeOut {
            out.delay_ms = self.mode.time_out_ms;
        }
        out
    }

    pub fn query_refund(&mut self, no: &str) -> Reply {
        if let Some(r) = self.busy() {
            return r;
        }
        match self.refunds.get(no) {
            Some(r) => reply(200, Self::refund_shape(r, &r.status)),
            None => error(404, "RESOURCE_NOT_EXISTS", "no such refund"),
        }
    }

    /// Apply-abnormal-refund: the money goes again, and arrives.
    pub fn apply_abnormal(&mut self, keys: &Keys, refund_id: &str, body: &Value) -> Reply {
        if let Some(r) = self.busy() {
            return r;
        }
        let no = body
            .get("out_refund_no")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(r) = self
            .refunds
            .get_mut(no)
            .filter(|r| r.refund_id == refund_id)
        else {
            return error(404, "RESOURCE_NOT_EXISTS", "no such refund");
        };
        if r.status != "ABNORMAL" {
            return error(400, "INVALID_REQUEST", "the refund is not abnormal");
        }
        r.abnormal_applications += 1;
        r.status = "SUCCESS".into();
        let r = r.clone();
        self.refund_notification(keys, &r, false);
        reply(200, Self::refund_shape(&r, "PROCESSING"))
    }

    /// The bill of `date` as served (None: no trade that day).
    pub fn bill(&self, date: &str) -> Option<Vec<u8>> {
        let on = |time: &str| time.starts_with(date);
        let mut payments: Vec<(String, String, u64, String)> = self
            .transactions
            .values()
            .filter(|t| on(&t.time))
            .map(|t| {
                (
                    t.transaction_id.clone(),
                    t.out_trade_no.clone(),
                    t.amount_cents,
                    t.time.clone(),
                )
            })
            .collect();
        let mut refunds: Vec<WechatRefund> = self
            .refunds
            .values()
            .filter(|r| on(&r.time))
            .cloned()
            .collect();
        for e in &self.edits {
            match e {
                BillEdit::ExtraPayment {
                    out_trade_no,
                    transaction_id,
                    amount_cents,
                } => payments.push((
                    transaction_id.clone(),
                    out_trade_no.clone(),
                    *amount_cents,
                    format!("{date} 12:00:00"),
                )),
                BillEdit::DropPayment { transaction_id } => {
                    payments.retain(|p| p.0 != *transaction_id)
                }
                BillEdit::ChangeRefund {
                    out_refund_no,
                    amount_cents,
                    status,
                } => {
                    for r in refunds
                        .iter_mut()
                        .filter(|r| r.out_refund_no == *out_refund_no)
                    {
                        if let Some(a) = amount_cents {
                            r.amount_cents = *a;
                        }
                        if let Some(s) = status {
                            r.status = s.clone();
                        }
                    }
                }
            }
        }
        if payments.is_empty() && refunds.is_empty() {
            return None;
        }
        let yuan = |c: u64| format!("{}.{:02}", c / 100, c % 100);
        let mut out = String::from("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\n");
        let row = |f: &[&str]| {
            let mut line = f
                .iter()
                .map(|x| format!("`{x}"))
                .collect::<Vec<_>>()
                .join(",");
            line.push('\n');
            line
        };
        let (mut taken, mut back) = (0, 0);
        for (tid, otn, amount, time) in &payments {
            taken += amount;
            out += &row(&[
                time,
                APPID,
                MCHID,
                "0",
                "",
                tid,
                otn,
                "oSIM",
                "JSAPI",
                "SUCCESS",
                "OTHERS",
                "CNY",
                &yuan(*amount),
                "0.00",
                "0",
                "0",
                "0.00",
                "0.00",
                "",
                "",
                "Order, simulated",
                "",
                "0.00000",
                "0.60%",
                &yuan(*amount),
                "0.00",
                "",
            ]);
        }
        for r in &refunds {
            back += r.amount_cents;
            let otn = self
                .transactions
                .get(&r.transaction_id)
                .map(|t| t.out_trade_no.as_str())
                .unwrap_or("");
            out += &row(&[
                &r.time,
                APPID,
                MCHID,
                "0",
                "",
                &r.transaction_id,
                otn,
                "oSIM",
                "JSAPI",
                "REFUND",
                "OTHERS",
                "CNY",
                "0.00",
                "0.00",
                &r.refund_id,
                &r.out_refund_no,
                &yuan(r.amount_cents),
                "0.00",
                "ORIGINAL",
                &r.status,
                "Order",
                "",
                "0.00000",
                "0.60%",
                "0.00",
                &yuan(r.amount_cents),
                "",
            ]);
        }
        out += "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n";
        out += &row(&[
            &payments.len().to_string(),
            &yuan(taken),
            &yuan(back),
            "0.00",
            "0.00000",
            &yuan(taken),
            &yuan(back),
        ]);
        Some(out.into_bytes())
    }

    /// `GET /v3/bill/tradebill`: the hash and a one-time download address.
    pub fn trade_bill(&mut self, base: &str, date: &str) -> Reply {
        if let Some(r) = self.busy() {
            return r;
        }
        let Some(file) = self.bill(date) else {
            return error(400, "NO_STATEMENT_EXIST", "no statement for this day");
        };
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &file);
        let hash: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let token = random_alnum(24);
        self.bills.insert(token.clone(), file);
        reply(
            200,
            json!({
                "hash_type": "SHA1", "hash_value": hash,
                "download_url": format!("{base}/wechatpay/v3/billdownload/file?token={token}"),
            }),
        )
    }
}

/// Now, on the stack's clock: the system clock moved by `CLOCK_OFFSET_SECS`
/// as every function's is (the tests run a year ahead), so signatures'
/// timestamps and bill days agree with the functions'.
fn now_unix() -> i64 {
    let offset = std::env::var("CLOCK_OFFSET_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + offset
}

fn beijing(at: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(at)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(time::UtcOffset::from_hms(8, 0, 0).expect("UTC+8"))
}

fn beijing_rfc3339(at: i64) -> String {
    beijing(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM:SS` in Beijing time, as the bill writes it.
fn beijing_time(at: i64) -> String {
    let t = beijing(at);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Today's date in Asia/Shanghai (`YYYY-MM-DD`): the bill day of what happens now.
pub fn beijing_today() -> String {
    beijing_time(now_unix())[..10].to_owned()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    SystemRandom::new().fill(&mut b).expect("random");
    b
}

fn random_from(alphabet: &[u8], n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes::<32>() {
            if out.len() < n {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

fn random_alnum(n: usize) -> String {
    random_from(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        n,
    )
}

fn random_hex(n: usize) -> String {
    random_from(b"0123456789ABCDEF", n)
}

fn random_digits(n: usize) -> String {
    random_from(b"0123456789", n)
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("ASCII"));
        out.push('\n');
    }
    out + &format!("-----END {label}-----\n")
}
