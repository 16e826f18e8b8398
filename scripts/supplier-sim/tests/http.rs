//! The simulator over plain HTTP: control endpoints, JD gateway checks, the bin.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use supplier_sim::{jd_sign, InterceptMode, Kind, Simulator};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// One request over a fresh connection; (status, body as JSON or Null).
async fn call(base: &str, method: &str, path: &str, ct: &str, body: &str) -> (u16, Value) {
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: {ct}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn form(params: &BTreeMap<String, String>) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

fn beijing_now() -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+8))
        .format(f)
        .unwrap()
}

fn jd_params(secret: &str, method: &str, payload: Value) -> BTreeMap<String, String> {
    let mut p: BTreeMap<String, String> = [
        ("app_key", "k".to_owned()),
        ("method", method.to_owned()),
        ("access_token", "t".to_owned()),
        ("timestamp", beijing_now()),
        ("v", "2.0".to_owned()),
        ("format", "json".to_owned()),
        ("360buy_param_json", payload.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let sign = jd_sign(secret, &p);
    p.insert("sign".into(), sign);
    p
}

const FORM: &str = "application/x-www-form-urlencoded;charset=utf-8";
const SUBMIT: &str = "jingdong.kepler.order.submit";

fn submit_payload(pkg: &str) -> Value {
    json!({"thirdOrderId": pkg, "sku": [{"skuId": "A", "num": 1}], "name": "n", "mobile": "1",
           "address": "a", "city": "c", "zip": ""})
}

#[tokio::test]
async fn control_endpoints() {
    let sim = Simulator::start("s").await;
    let base = sim.base_url();
    let body = json!({"package_id": "P1", "order_id": "O1", "lines": [{"sku": "A", "qty": 1}],
        "address": {"name": "n", "phone": "1", "line1": "l", "city": "c", "postcode": ""}, "goods_cents": 0});
    let forward = |key: &'static str| {
        let base = base.clone();
        let body = body.to_string();
        async move {
            let addr = base.trim_start_matches("http://").to_owned();
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let req = format!(
                "POST /warehouses/W/packages HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nidempotency-key: {key}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            s.write_all(req.as_bytes()).await.unwrap();
            let mut line = String::new();
            BufReader::new(s).read_line(&mut line).await.unwrap();
            line
        }
    };
    assert!(forward("P1").await.contains(" 201 "));
    assert!(forward("P1").await.contains(" 200 "));
    assert!(forward("wrong").await.contains(" 400 "));
    assert_eq!(sim.forwards_for("P1"), 2);

    let (status, received) = call(&base, "GET", "/_sim/received", "", "").await;
    assert_eq!(status, 200);
    let list = received.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["kind"], "forward");
    assert_eq!(list[0]["channel"], "warehouse");
    assert_eq!(list[0]["target"], "W");
    assert_eq!(list[0]["reference"], "WH-P1");
    assert_eq!(list[2]["accepted"], false);

    let (status, mode) = call(
        &base,
        "POST",
        "/_sim/mode",
        "application/json",
        r#"{"fail_next": 2, "intercept": "pending"}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        mode,
        json!({"fail_next": 2, "fail_always": false, "intercept": "pending"})
    );
    assert_eq!(sim.mode().intercept, InterceptMode::Pending);
    assert!(forward("P1").await.contains(" 503 "));
    assert!(forward("P1").await.contains(" 503 "));
    assert!(forward("P1").await.contains(" 200 "));

    let (status, _) = call(
        &base,
        "POST",
        "/_sim/mode",
        "application/json",
        r#"{"intercept": "maybe"}"#,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &base,
        "POST",
        "/_sim/mode",
        "application/json",
        r#"{"fail_always": true}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert!(forward("P1").await.contains(" 503 "));

    let (status, _) = call(&base, "POST", "/_sim/reset", "", "").await;
    assert_eq!(status, 200);
    assert!(sim.received().is_empty());
    assert_eq!(sim.mode(), Default::default());
    assert!(
        forward("P1").await.contains(" 201 "),
        "references forgotten too"
    );

    assert_eq!(call(&base, "GET", "/nothing", "", "").await.0, 404);
    assert_eq!(
        call(&base, "GET", "/warehouses/W/packages", "", "").await.0,
        405
    );
}

#[tokio::test]
async fn jd_gateway_checks() {
    let secret = "jd-secret";
    let sim = Simulator::start(secret).await;
    let url = sim.base_url();
    let post = |params: BTreeMap<String, String>, ct: &'static str| {
        let url = url.clone();
        async move { call(&url, "POST", "/jd/routerjson", ct, &form(&params)).await }
    };
    let error_code = |v: &Value| v["error_response"]["code"].as_str().map(str::to_owned);

    let ok = jd_params(secret, SUBMIT, submit_payload("P1"));
    let (status, v) = post(ok.clone(), FORM).await;
    assert_eq!(status, 200);
    let id = v["jingdong_kepler_order_submit_response"]["result"]["jdOrderId"].clone();
    assert!(id.is_u64(), "{v}");
    assert_eq!(v["jingdong_kepler_order_submit_response"]["code"], "0");

    // bad sign
    let mut bad = ok.clone();
    bad.insert("sign".into(), "0".repeat(32));
    assert_eq!(error_code(&post(bad, FORM).await.1).as_deref(), Some("19"));
    // lower-case sign is not the JOS sign
    let mut lower = ok.clone();
    lower.insert("sign".into(), ok["sign"].to_lowercase());
    assert_eq!(
        error_code(&post(lower, FORM).await.1).as_deref(),
        Some("19")
    );
    // every parameter is required
    for name in [
        "app_key",
        "method",
        "access_token",
        "timestamp",
        "v",
        "format",
        "360buy_param_json",
        "sign",
    ] {
        let mut p = ok.clone();
        p.remove(name);
        assert_eq!(
            error_code(&post(p, FORM).await.1).as_deref(),
            Some("41"),
            "{name}"
        );
    }
    // v and format
    let mut p = jd_params(secret, SUBMIT, submit_payload("P1"));
    p.insert("v".into(), "1.0".into());
    let sign = jd_sign(secret, &p);
    p.insert("sign".into(), sign);
    assert_eq!(error_code(&post(p, FORM).await.1).as_deref(), Some("42"));
    // a UTC timestamp is 8 hours off; ISO format is refused
    for ts in [
        time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .unwrap(),
        "2024-01-02T03:04:05".to_owned(),
    ] {
        let mut p = ok.clone();
        p.insert("timestamp".into(), ts.clone());
        let sign = jd_sign(secret, &p);
        p.insert("sign".into(), sign);
        assert_eq!(
            error_code(&post(p, FORM).await.1).as_deref(),
            Some("43"),
            "{ts}"
        );
    }
    // JSON instead of a form
    assert_eq!(
        error_code(&post(ok.clone(), "application/json").await.1).as_deref(),
        Some("40")
    );
    // unknown method, bad payload
    let p = jd_params(secret, "jingdong.other", submit_payload("P1"));
    assert_eq!(error_code(&post(p, FORM).await.1).as_deref(), Some("22"));
    let p = jd_params(secret, SUBMIT, json!({"thirdOrderId": "P2", "sku": []}));
    assert_eq!(error_code(&post(p, FORM).await.1).as_deref(), Some("60"));

    // cancel: the right jdOrderId is needed
    let cancel = "jingdong.kepler.order.cancel";
    let p = jd_params(
        secret,
        cancel,
        json!({"thirdOrderId": "P1", "jdOrderId": "1"}),
    );
    let (_, v) = post(p, FORM).await;
    assert_eq!(
        v["jingdong_kepler_order_cancel_response"]["result"]["success"],
        false
    );
    sim.set_intercept(InterceptMode::Refuse);
    let p = jd_params(
        secret,
        cancel,
        json!({"thirdOrderId": "P1", "jdOrderId": id}),
    );
    let (_, v) = post(p, FORM).await;
    assert_eq!(
        v["jingdong_kepler_order_cancel_response"]["result"]["outcome"], "refused",
        "{v}"
    );

    assert_eq!(sim.forwards_for("P1"), 1);
    assert_eq!(sim.intercepts_for("P1"), 1);
    let got = sim.received();
    assert!(
        got.iter()
            .filter(|r| r.kind == Kind::Forward && !r.accepted)
            .count()
            >= 10
    );
}

/// Kills the child when the test ends, pass or fail.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn bin_prints_its_address_first() {
    let mut child = KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_supplier-sim"))
            .args(["--port", "0"])
            .env("SUPPLIER_SIM_QUIET", "1")
            .env_remove("JD_APP_SECRET")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .expect(&first)
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    // default secret
    let p = jd_params("dev-jd-secret", SUBMIT, submit_payload("P9"));
    let (status, v) = call(&base, "POST", "/jd/routerjson", FORM, &form(&p)).await;
    assert_eq!(status, 200);
    assert!(v.get("error_response").is_none(), "{v}");
    let (_, received) = call(&base, "GET", "/_sim/received", "", "").await;
    assert_eq!(received[0]["package_id"], "P9");
}
