//! The supplier clients against the in-process simulator (scripts/supplier-sim)
//! and against misbehaving servers.

use domain::catalog::Source;
use domain::ids::{OrderId, PackageId, SkuId, SupplierId, WarehouseId};
use domain::money::Cents;
use domain::order::{Address, PackageLine};
use domain::ports::{ForwardRequest, InterceptOutcome, Supplier, SupplierError};
use domain::time::Timestamp;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use supplier_sim::{Channel, InterceptMode, Kind, Simulator};
use suppliers::{JdConfig, SupplierConfig, SupplierRouter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "sim-secret";

fn warehouse() -> Source {
    Source::SelfOperated {
        warehouse: WarehouseId::parse("WH-1").unwrap(),
    }
}

fn dropship() -> Source {
    Source::Dropship {
        supplier: SupplierId::parse("S-1").unwrap(),
    }
}

fn request(source: Source) -> ForwardRequest {
    let order = OrderId::generate(&Timestamp::now());
    ForwardRequest {
        package_id: PackageId::new(&order, 1),
        order_id: order,
        source,
        lines: vec![
            PackageLine {
                sku: SkuId::parse("TEA-100").unwrap(),
                qty: 2,
                line_total_cents: Cents(2400),
            },
            PackageLine {
                sku: SkuId::parse("CUP-7").unwrap(),
                qty: 1,
                line_total_cents: Cents(900),
            },
        ],
        goods_cents: Cents(3300),
        address: Address {
            name: "张三".into(),
            phone: "13800000000".into(),
            line1: "1 Example Road & Co".into(),
            city: "Beijing".into(),
            postcode: "100000".into(),
        },
    }
}

async fn setup() -> (Simulator, SupplierRouter) {
    let sim = Simulator::start(SECRET).await;
    let router = SupplierRouter::new(SupplierConfig::local(&sim.base_url(), SECRET)).unwrap();
    (sim, router)
}

#[tokio::test]
async fn warehouse_forward_sends_the_documented_request() {
    let (sim, router) = setup().await;
    let req = request(warehouse());
    let reference = router.forward(&req).await.unwrap();
    assert_eq!(reference, format!("WH-{}", req.package_id));

    let got = sim.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(
        (r.kind, r.channel, r.target.as_str()),
        (Kind::Forward, Channel::Warehouse, "WH-1")
    );
    assert_eq!(r.package_id, req.package_id.as_str());
    assert_eq!(r.idempotency_key.as_deref(), Some(req.package_id.as_str()));
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        r.payload,
        json!({
            "package_id": req.package_id.as_str(),
            "order_id": req.order_id.as_str(),
            "lines": [{"sku": "TEA-100", "qty": 2}, {"sku": "CUP-7", "qty": 1}],
            "address": {"name": "张三", "phone": "13800000000", "line1": "1 Example Road & Co",
                        "city": "Beijing", "postcode": "100000"},
            "goods_cents": 3300
        })
    );
    assert_eq!(sim.forwards_for(req.package_id.as_str()), 1);
}

#[tokio::test]
async fn dropship_forward_sends_the_documented_request() {
    let (sim, router) = setup().await;
    let req = request(dropship());
    let reference = router.forward(&req).await.unwrap();
    assert_eq!(reference, format!("DS-{}", req.package_id));
    let r = &sim.received()[0];
    assert_eq!(
        (r.kind, r.channel, r.target.as_str()),
        (Kind::Forward, Channel::Dropship, "S-1")
    );
    assert_eq!(r.idempotency_key.as_deref(), Some(req.package_id.as_str()));
    assert_eq!(
        r.payload["lines"],
        json!([{"sku": "TEA-100", "qty": 2}, {"sku": "CUP-7", "qty": 1}])
    );
    assert_eq!(r.payload["goods_cents"], 3300);
}

#[tokio::test]
async fn jd_forward_speaks_routerjson() {
    let (sim, router) = setup().await;
    let req = request(Source::Jd);
    let reference = router.forward(&req).await.unwrap();
    assert!(
        !reference.is_empty() && reference.bytes().all(|b| b.is_ascii_digit()),
        "{reference}"
    );

    let got = sim.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert!(r.accepted, "{:?}", r.error);
    assert_eq!(
        (r.kind, r.channel, r.target.as_str()),
        (Kind::Forward, Channel::Jd, "jd")
    );
    assert_eq!(r.package_id, req.package_id.as_str());
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/x-www-form-urlencoded;charset=utf-8")
    );
    let names: Vec<&str> = r.params.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "360buy_param_json",
            "access_token",
            "app_key",
            "format",
            "method",
            "sign",
            "timestamp",
            "v"
        ]
    );
    assert_eq!(r.params["app_key"], "dev-app-key");
    assert_eq!(r.params["access_token"], "dev-access-token");
    assert_eq!(r.params["method"], "jingdong.kepler.order.submit");
    assert_eq!(r.params["v"], "2.0");
    assert_eq!(r.params["format"], "json");
    // sign: independently recomputed by the simulator's own implementation, and
    // the client's pure function agrees; upper-case hex.
    assert_eq!(r.params["sign"], supplier_sim::jd_sign(SECRET, &r.params));
    let pairs: Vec<(&str, &str)> = r
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(r.params["sign"], suppliers::jd::sign(SECRET, &pairs));
    assert!(r.params["sign"]
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
    assert_eq!(r.params["sign"].len(), 32);
    // timestamp: yyyy-MM-dd HH:mm:ss, Beijing time, now.
    let ts = &r.params["timestamp"];
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let at = time::PrimitiveDateTime::parse(ts, fmt)
        .unwrap()
        .assume_offset(time::macros::offset!(+8));
    assert!(
        (time::OffsetDateTime::now_utc() - at).whole_seconds().abs() < 60,
        "{ts}"
    );
    assert_eq!(ts.len(), 19);
    // business payload
    let payload: Value = serde_json::from_str(&r.params["360buy_param_json"]).unwrap();
    assert_eq!(
        payload,
        json!({
            "thirdOrderId": req.package_id.as_str(),
            "sku": [{"skuId": "TEA-100", "num": 2}, {"skuId": "CUP-7", "num": 1}],
            "name": "张三", "mobile": "13800000000", "address": "1 Example Road & Co",
            "city": "Beijing", "zip": "100000"
        })
    );
    assert_eq!(r.reference.as_deref(), Some(reference.as_str()));
}

#[tokio::test]
async fn repeated_forward_gets_the_same_reference_and_is_counted() {
    let (sim, router) = setup().await;
    for source in [warehouse(), dropship(), Source::Jd] {
        let req = request(source);
        let first = router.forward(&req).await.unwrap();
        let second = router.forward(&req).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(sim.forwards_for(req.package_id.as_str()), 2);
    }
    // different packages get different JD ids
    let a = router.forward(&request(Source::Jd)).await.unwrap();
    let b = router.forward(&request(Source::Jd)).await.unwrap();
    assert_ne!(a, b);
}

#[tokio::test]
async fn fail_mode_is_unavailable() {
    let (sim, router) = setup().await;
    for source in [warehouse(), dropship(), Source::Jd] {
        let req = request(source);
        sim.fail_next(1);
        let err = router.forward(&req).await.unwrap_err();
        assert!(matches!(err, SupplierError::Unavailable(_)), "{err}");
        assert!(err.to_string().contains("503"), "{err}");
        assert_eq!(sim.forwards_for(req.package_id.as_str()), 0);
        // next one goes through
        router.forward(&req).await.unwrap();
        assert_eq!(sim.forwards_for(req.package_id.as_str()), 1);
    }
    sim.fail_always(true);
    for source in [warehouse(), dropship(), Source::Jd] {
        let req = request(source.clone());
        for _ in 0..2 {
            assert!(matches!(
                router.forward(&req).await,
                Err(SupplierError::Unavailable(_))
            ));
            assert!(matches!(
                router.intercept(&req.package_id, &source, "x").await,
                Err(SupplierError::Unavailable(_))
            ));
        }
    }
    assert!(sim
        .received()
        .iter()
        .rev()
        .take(12)
        .all(|r| r.status == 503));
    sim.fail_always(false);
    router.forward(&request(Source::Jd)).await.unwrap();
}

#[tokio::test]
async fn intercept_outcomes_map() {
    let (sim, router) = setup().await;
    for source in [warehouse(), dropship(), Source::Jd] {
        let req = request(source.clone());
        let reference = router.forward(&req).await.unwrap();
        for (mode, expected) in [
            (InterceptMode::Accept, InterceptOutcome::Intercepted),
            (InterceptMode::Refuse, InterceptOutcome::Refused),
            (InterceptMode::Pending, InterceptOutcome::Pending),
        ] {
            sim.set_intercept(mode);
            let got = router
                .intercept(&req.package_id, &source, &reference)
                .await
                .unwrap();
            assert_eq!(got, expected, "{source:?} {mode:?}");
        }
        assert_eq!(sim.intercepts_for(req.package_id.as_str()), 3);
        let last = sim.received().pop().unwrap();
        assert_eq!(last.kind, Kind::Intercept);
        assert_eq!(last.package_id, req.package_id.as_str());
        if source == Source::Jd {
            assert_eq!(last.params["method"], "jingdong.kepler.order.cancel");
            let payload: Value = serde_json::from_str(&last.params["360buy_param_json"]).unwrap();
            assert_eq!(
                payload,
                json!({"thirdOrderId": req.package_id.as_str(), "jdOrderId": reference})
            );
            assert_eq!(
                last.params["sign"],
                supplier_sim::jd_sign(SECRET, &last.params)
            );
        } else {
            assert_eq!(
                last.payload,
                json!({"package_id": req.package_id.as_str(), "reference": reference})
            );
        }
    }
}

#[tokio::test]
async fn intercept_of_an_unknown_package_is_rejected() {
    let (sim, router) = setup().await;
    for source in [warehouse(), dropship(), Source::Jd] {
        let req = request(source.clone());
        let err = router
            .intercept(&req.package_id, &source, "123")
            .await
            .unwrap_err();
        assert!(
            matches!(err, SupplierError::Rejected(_)),
            "{source:?}: {err}"
        );
    }
    assert!(sim.received().iter().all(|r| !r.accepted));
}

#[tokio::test]
async fn jd_error_response_is_rejected() {
    let sim = Simulator::start(SECRET).await;
    // The client signs with the wrong secret.
    let router =
        SupplierRouter::new(SupplierConfig::local(&sim.base_url(), "not-the-secret")).unwrap();
    let req = request(Source::Jd);
    let err = router.forward(&req).await.unwrap_err();
    match &err {
        SupplierError::Rejected(msg) => assert!(msg.contains("invalid signature"), "{msg}"),
        other => panic!("{other:?}"),
    }
    let r = &sim.received()[0];
    assert!(!r.accepted);
    assert_eq!(r.package_id, req.package_id.as_str());
    assert_eq!(sim.forwards_for(req.package_id.as_str()), 0);

    // An unknown method name is refused too.
    let mut jd = JdConfig::new(sim.jd_url(), "k", SECRET, "t");
    jd.forward_method = "jingdong.kepler.order.nope".into();
    let router =
        SupplierRouter::new(SupplierConfig::new(sim.base_url(), sim.base_url(), jd)).unwrap();
    let err = router.forward(&req).await.unwrap_err();
    assert!(matches!(err, SupplierError::Rejected(_)), "{err}");
}

#[tokio::test]
async fn a_server_that_is_down_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let router = SupplierRouter::new(SupplierConfig::local(&base, SECRET)).unwrap();
    for source in [warehouse(), dropship(), Source::Jd] {
        let req = request(source.clone());
        let err = router.forward(&req).await.unwrap_err();
        assert!(matches!(err, SupplierError::Unavailable(_)), "{err}");
        let err = router
            .intercept(&req.package_id, &source, "r")
            .await
            .unwrap_err();
        assert!(matches!(err, SupplierError::Unavailable(_)), "{err}");
    }
}

#[tokio::test]
async fn timeouts_are_honoured() {
    // Connections complete in the kernel backlog but nobody ever answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", silent.local_addr().unwrap());
    let router = SupplierRouter::new(
        SupplierConfig::local(&base, SECRET).with_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    for source in [warehouse(), dropship(), Source::Jd] {
        let started = Instant::now();
        let err = router.forward(&request(source)).await.unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, SupplierError::Unavailable(_)), "{err}");
        assert!(err.to_string().contains("no answer within 300 ms"), "{err}");
        assert!(
            took >= Duration::from_millis(290) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }
    drop(silent);
}

/// Serves one canned raw HTTP answer to every connection.
async fn canned(answer: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(&answer).await;
                let _ = s.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

fn http_answer(status: &str, body: &[u8]) -> Vec<u8> {
    let mut a = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    a.extend_from_slice(body);
    a
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Unavailable,
    Rejected,
    /// A JOS error object: a refusal from JD; on the JSON channels a 200
    /// without the expected field, so worth retrying.
    RejectedByJd,
}

#[tokio::test]
async fn odd_answers_never_panic() {
    use Expect::*;
    let big = vec![b'x'; 2 << 20];
    let cases: Vec<(Vec<u8>, Expect)> = vec![
        (http_answer("200 OK", b"<html>hi</html>"), Unavailable),
        (http_answer("200 OK", b""), Unavailable),
        (
            http_answer("200 OK", b"{\"reference\": 5, \"outcome\": 7}"),
            Unavailable,
        ),
        (
            http_answer("200 OK", b"{\"reference\": \"\", \"outcome\": \"maybe\"}"),
            Unavailable,
        ),
        (http_answer("200 OK", &[0xff, 0x00, 0xfe]), Unavailable),
        (http_answer("200 OK", &big), Unavailable),
        (
            http_answer(
                "500 Internal Server Error",
                b"{\"error_response\": {\"code\": 1}}",
            ),
            Unavailable,
        ),
        (http_answer("429 Too Many Requests", b""), Unavailable),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"refer".to_vec(),
            Unavailable,
        ),
        (b"garbage that is not http\r\n\r\n".to_vec(), Unavailable),
        (http_answer("404 Not Found", b"nope"), Rejected),
        (
            http_answer(
                "200 OK",
                b"{\"error_response\": {\"code\": 5, \"zh_desc\": null, \"en_desc\": [1]}}",
            ),
            RejectedByJd,
        ),
    ];
    for (answer, expect) in cases {
        let shown = String::from_utf8_lossy(&answer[..answer.len().min(80)]).into_owned();
        let base = canned(answer).await;
        let router = SupplierRouter::new(
            SupplierConfig::local(&base, SECRET).with_timeout(Duration::from_secs(2)),
        )
        .unwrap();
        for source in [warehouse(), dropship(), Source::Jd] {
            let req = request(source.clone());
            let results = [
                router.forward(&req).await.map(|_| ()),
                router
                    .intercept(&req.package_id, &source, "r")
                    .await
                    .map(|_| ()),
            ];
            let want_rejected = match expect {
                Unavailable => false,
                Rejected => true,
                RejectedByJd => source == Source::Jd,
            };
            for result in results {
                let err = result.expect_err(&shown);
                let rejected = matches!(err, SupplierError::Rejected(_));
                assert_eq!(rejected, want_rejected, "{source:?} {shown}: {err}");
            }
        }
    }
}

#[test]
fn https_endpoints_are_supported() {
    let config = SupplierConfig::new(
        "https://wms.example.com/api",
        "https://dropship.example.com",
        JdConfig::new("https://api.jd.com/routerjson", "k", "s", "t"),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The client is built (TLS set up with the system roots) without a network call.
    runtime.block_on(async { SupplierRouter::new(config).unwrap() });
}
