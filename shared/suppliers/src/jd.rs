//! JD Kepler over the JD open platform (JOS) `routerjson` gateway.

use crate::config::JdConfig;
use crate::rest::parse_outcome;
use crate::transport::{Answer, Transport};
use bytes::Bytes;
use domain::ids::PackageId;
use domain::ports::{ForwardRequest, InterceptOutcome, SupplierError};
use md5::{Digest, Md5};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use time::{OffsetDateTime, UtcOffset};

/// Content type of a routerjson request.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded;charset=utf-8";

/// The JOS `sign`: upper-case hex MD5 of `app_secret` + every parameter
/// except `sign`, sorted by name (byte order), as `name` + `value` + `app_secret`.
pub fn sign<K: AsRef<str>, V: AsRef<str>>(app_secret: &str, params: &[(K, V)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, _)| *k != "sign")
        .collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut md5 = Md5::new();
    md5.update(app_secret.as_bytes());
    for (k, v) in sorted {
        md5.update(k.as_bytes());
        md5.update(v.as_bytes());
    }
    md5.update(app_secret.as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02X}")).collect()
}

/// `yyyy-MM-dd HH:mm:ss` in UTC+8 (Beijing time), as JOS expects.
pub fn timestamp(at: OffsetDateTime) -> String {
    let offset = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    let t = at.to_offset(offset);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The key of a successful answer: `jingdong.kepler.order.submit` ->
/// `jingdong_kepler_order_submit_response`.
pub fn response_key(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// All routerjson parameters for one call, `sign` last.
pub fn signed_params(
    config: &JdConfig,
    method: &str,
    param_json: &str,
    at: OffsetDateTime,
) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("app_key", config.app_key.clone()),
        ("method", method.to_owned()),
        ("access_token", config.access_token.clone()),
        ("timestamp", timestamp(at)),
        ("v", "2.0".to_owned()),
        ("format", "json".to_owned()),
        ("360buy_param_json", param_json.to_owned()),
    ];
    let sign = sign(&config.app_secret, &params);
    params.push(("sign", sign));
    params
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubmitPayload<'a> {
    third_order_id: &'a str,
    sku: Vec<SkuNum<'a>>,
    name: &'a str,
    mobile: &'a str,
    address: &'a str,
    city: &'a str,
    zip: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SkuNum<'a> {
    sku_id: &'a str,
    num: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CancelPayload<'a> {
    third_order_id: &'a str,
    jd_order_id: &'a str,
}

#[derive(Clone)]
pub(crate) struct JdClient {
    config: Arc<JdConfig>,
    uri: http::Uri,
    transport: Transport,
}

impl JdClient {
    pub fn new(config: JdConfig, transport: Transport) -> Result<Self, crate::ConfigError> {
        let uri = config
            .api_url
            .parse()
            .map_err(|e| crate::ConfigError::Invalid {
                var: crate::config::var::JD_API_URL,
                reason: format!("{e}"),
            })?;
        Ok(Self {
            config: Arc::new(config),
            uri,
            transport,
        })
    }

    pub async fn forward(&self, req: &ForwardRequest) -> Result<String, SupplierError> {
        let what = format!("jd forward {}", req.package_id);
        let payload = SubmitPayload {
            third_order_id: req.package_id.as_str(),
            sku: req
                .lines
                .iter()
                .map(|l| SkuNum {
                    sku_id: l.sku.as_str(),
                    num: l.qty,
                })
                .collect(),
            name: &req.address.name,
            mobile: &req.address.phone,
            address: &req.address.line1,
            city: &req.address.city,
            zip: &req.address.postcode,
        };
        let result = self
            .call(&what, &self.config.forward_method, &payload)
            .await?;
        match result.get("jdOrderId") {
            Some(Value::String(id)) if !id.trim().is_empty() => Ok(id.clone()),
            Some(Value::Number(id)) => Ok(id.to_string()),
            _ => Err(SupplierError::Unavailable(format!(
                "{what}: answer has no jdOrderId: {}",
                short(&result.to_string())
            ))),
        }
    }

    pub async fn intercept(
        &self,
        package: &PackageId,
        supplier_ref: &str,
    ) -> Result<InterceptOutcome, SupplierError> {
        let what = format!("jd intercept {package}");
        let payload = CancelPayload {
            third_order_id: package.as_str(),
            jd_order_id: supplier_ref,
        };
        let result = self
            .call(&what, &self.config.intercept_method, &payload)
            .await?;
        result
            .get("outcome")
            .and_then(Value::as_str)
            .and_then(parse_outcome)
            .ok_or_else(|| {
                SupplierError::Unavailable(format!(
                    "{what}: answer has no known outcome: {}",
                    short(&result.to_string())
                ))
            })
    }

    async fn call(
        &self,
        what: &str,
        method: &str,
        payload: &impl Serialize,
    ) -> Result<Value, SupplierError> {
        let json = serde_json::to_string(payload)
            .map_err(|e| SupplierError::Rejected(format!("{what}: cannot encode: {e}")))?;
        let params = signed_params(&self.config, method, &json, OffsetDateTime::now_utc());
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        tracing::debug!(method, what, "jd routerjson call");
        let answer = self
            .transport
            .post(what, &self.uri, FORM_CONTENT_TYPE, &[], Bytes::from(body))
            .await?;
        parse_answer(what, method, &answer)
    }
}

/// The `result` of a successful answer, or the error it stands for.
fn parse_answer(what: &str, method: &str, answer: &Answer) -> Result<Value, SupplierError> {
    // 5xx/408/429 first: worth retrying whatever the body says.
    if answer.is_retryable_status() {
        answer.check_status(what)?;
    }
    let json: Option<Value> = serde_json::from_slice(&answer.body).ok();
    // A JOS error object wins over a 4xx status: it says what went wrong.
    if let Some(err) = json
        .as_ref()
        .and_then(|j| j.get("error_response"))
        .filter(|e| e.is_object())
    {
        return Err(SupplierError::Rejected(format!(
            "{what}: JD error {}",
            describe(err)
        )));
    }
    answer.check_status(what)?;
    let Some(json) = json else {
        return Err(SupplierError::Unavailable(format!(
            "{what}: answer is not JSON: {}",
            answer.snippet()
        )));
    };
    let Some(resp) = json.get(response_key(method)) else {
        return Err(SupplierError::Unavailable(format!(
            "{what}: answer has no {}: {}",
            response_key(method),
            answer.snippet()
        )));
    };
    match resp.get("code").map(code_text) {
        None => {}
        Some(code) if code == "0" => {}
        Some(_) => {
            return Err(SupplierError::Rejected(format!(
                "{what}: JD refused {}",
                describe(resp)
            )))
        }
    }
    let result = match resp.get("result") {
        // Some JOS APIs hand the result over as a JSON document in a string.
        Some(Value::String(s)) => serde_json::from_str(s).ok(),
        Some(v @ Value::Object(_)) => Some(v.clone()),
        _ => None,
    };
    let Some(result) = result else {
        return Err(SupplierError::Unavailable(format!(
            "{what}: answer has no result object: {}",
            answer.snippet()
        )));
    };
    if result.get("success") == Some(&Value::Bool(false)) {
        let code = result.get("resultCode").map(code_text).unwrap_or_default();
        let msg = result
            .get("resultMessage")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        return Err(SupplierError::Rejected(format!(
            "{what}: JD refused ({code}): {msg}"
        )));
    }
    Ok(result)
}

fn code_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_owned(),
        other => other.to_string(),
    }
}

fn describe(err: &Value) -> String {
    let code = err.get("code").map(code_text).unwrap_or_default();
    let text = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or("").trim();
    let desc = [text("en_desc"), text("zh_desc")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    short(&format!("code {code}: {desc}"))
}

fn short(s: &str) -> String {
    match s.char_indices().nth(300) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use time::macros::datetime;

    #[test]
    fn sign_matches_an_independent_md5() {
        // Expected value computed independently with Python:
        //   import hashlib
        //   s = "test-secret" + "360buy_param_json" + '{"thirdOrderId":"X","sku":[{"skuId":"TEA-100","num":2}]}' \
        //       + "access_tokenT1" + "app_keyK1" + "formatjson" + "methodjingdong.kepler.order.submit" \
        //       + "timestamp2024-01-02 03:04:05" + "v2.0" + "test-secret"
        //   hashlib.md5(s.encode()).hexdigest().upper()
        //   -> 'F5C9B8B099AAF3E92206EBDBAE862406'
        let params = [
            ("app_key", "K1"),
            ("method", "jingdong.kepler.order.submit"),
            ("access_token", "T1"),
            ("timestamp", "2024-01-02 03:04:05"),
            ("v", "2.0"),
            ("format", "json"),
            (
                "360buy_param_json",
                r#"{"thirdOrderId":"X","sku":[{"skuId":"TEA-100","num":2}]}"#,
            ),
            ("sign", "IGNORED"),
        ];
        assert_eq!(
            sign("test-secret", &params),
            "F5C9B8B099AAF3E92206EBDBAE862406"
        );
        // UTF-8 values are hashed as bytes:
        //   hashlib.md5(('s' + '360buy_param_json{"name":"张三"}' + 'methodm' + 's').encode()).hexdigest().upper()
        assert_eq!(
            sign(
                "s",
                &[("method", "m"), ("360buy_param_json", r#"{"name":"张三"}"#)]
            ),
            "3791C1AFE6FD458DB8AD4EFF168ACC4E"
        );
    }

    #[test]
    fn timestamp_is_beijing_time() {
        assert_eq!(
            timestamp(datetime!(2024-12-31 20:30:05 UTC)),
            "2025-01-01 04:30:05"
        );
        assert_eq!(
            timestamp(datetime!(2024-01-02 03:04:05 +08:00)),
            "2024-01-02 03:04:05"
        );
    }

    #[test]
    fn params_are_complete_and_signed() {
        let cfg = JdConfig::new("http://x/routerjson", "K1", "test-secret", "T1");
        let json = r#"{"thirdOrderId":"X","sku":[{"skuId":"TEA-100","num":2}]}"#;
        let params = signed_params(
            &cfg,
            "jingdong.kepler.order.submit",
            json,
            datetime!(2024-01-01 19:04:05 UTC),
        );
        let names: Vec<_> = params.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "app_key",
                "method",
                "access_token",
                "timestamp",
                "v",
                "format",
                "360buy_param_json",
                "sign"
            ]
        );
        assert_eq!(params[3].1, "2024-01-02 03:04:05");
        assert_eq!(params[7].1, "F5C9B8B099AAF3E92206EBDBAE862406");
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Default::default(),
            body: Bytes::from(body.to_owned()),
        }
    }

    const M: &str = "jingdong.kepler.order.submit";

    #[test]
    fn answers_are_classified() {
        let ok = parse_answer(
            "t",
            M,
            &answer(
                200,
                r#"{"jingdong_kepler_order_submit_response":{"code":"0","result":{"success":true,"jdOrderId":123}}}"#,
            ),
        )
        .unwrap();
        assert_eq!(ok["jdOrderId"], 123);
        // result as an embedded JSON string
        let ok = parse_answer(
            "t",
            M,
            &answer(
                200,
                r#"{"jingdong_kepler_order_submit_response":{"code":0,"result":"{\"jdOrderId\":\"9\"}"}}"#,
            ),
        )
        .unwrap();
        assert_eq!(ok["jdOrderId"], "9");

        let rejected = [
            r#"{"error_response":{"code":"19","zh_desc":"签名错误","en_desc":"Invalid signature"}}"#,
            r#"{"jingdong_kepler_order_submit_response":{"code":"3001","result":{}}}"#,
            r#"{"jingdong_kepler_order_submit_response":{"code":"0","result":{"success":false,"resultMessage":"no stock"}}}"#,
        ];
        for body in rejected {
            assert!(
                matches!(
                    parse_answer("t", M, &answer(200, body)),
                    Err(SupplierError::Rejected(_))
                ),
                "{body}"
            );
        }
        assert!(matches!(
            parse_answer("t", M, &answer(400, "bad")),
            Err(SupplierError::Rejected(_))
        ));

        let unavailable = [
            (503, "busy"),
            (
                502,
                r#"{"jingdong_kepler_order_submit_response":{"code":"0","result":{}}}"#,
            ),
            (200, "<html>"),
            (200, ""),
            (200, "null"),
            (200, "[1,2]"),
            (200, r#"{"other_response":{}}"#),
            (
                200,
                r#"{"jingdong_kepler_order_submit_response":{"code":"0"}}"#,
            ),
            (200, r#"{"jingdong_kepler_order_submit_response":"x"}"#),
        ];
        for (status, body) in unavailable {
            assert!(
                matches!(
                    parse_answer("t", M, &answer(status, body)),
                    Err(SupplierError::Unavailable(_))
                ),
                "{status} {body}"
            );
        }
    }
}
