//! A traced invocation's call to a supplier (its own test binary: the
//! trace header and the daemon address are process environment, as Lambda
//! sets them): the supplier gets the trace header naming a subsegment, and
//! that subsegment reaches the X-Ray daemon with the call's status.

use domain::catalog::Source;
use domain::ids::{OrderId, PackageId, SkuId, WarehouseId};
use domain::money::Cents;
use domain::order::{Address, PackageLine};
use domain::ports::{ForwardRequest, Supplier};
use domain::time::Timestamp;
use serde_json::Value;
use std::net::UdpSocket;
use supplier_sim::Simulator;
use suppliers::{SupplierConfig, SupplierRouter};

const ROOT: &str = "1-67891233-abcdef012345678912345678";

#[tokio::test]
async fn a_supplier_call_is_a_subsegment_and_carries_its_trace() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    // What Lambda sets for a traced invocation (before any call reads them).
    std::env::set_var(
        "AWS_XRAY_DAEMON_ADDRESS",
        daemon.local_addr().unwrap().to_string(),
    );
    std::env::set_var(
        "_X_AMZN_TRACE_ID",
        format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"),
    );

    let sim = Simulator::start("sim-secret").await;
    let router = SupplierRouter::new(SupplierConfig::local(&sim.base_url(), "sim-secret")).unwrap();
    let order = OrderId::generate(&Timestamp::now());
    let request = ForwardRequest {
        package_id: PackageId::new(&order, 1),
        order_id: order,
        source: Source::SelfOperated {
            warehouse: WarehouseId::parse("WH-1").unwrap(),
        },
        lines: vec![PackageLine {
            sku: SkuId::parse("TEA-100").unwrap(),
            qty: 1,
            line_total_cents: Cents(1200),
        }],
        goods_cents: Cents(1200),
        address: Address {
            name: "n".into(),
            phone: "13800000000".into(),
            line1: "l".into(),
            city: "c".into(),
            postcode: "100000".into(),
        },
    };
    router.forward(&request).await.expect("forwarded");

    let got = sim.received();
    let header = got[0]
        .trace_header
        .clone()
        .expect("the supplier got a trace header");
    let parent = header
        .strip_prefix(&format!("Root={ROOT};Parent="))
        .and_then(|rest| rest.strip_suffix(";Sampled=1"))
        .unwrap_or_else(|| panic!("{header}"));
    let mut buf = [0u8; 8192];
    let n = daemon.recv(&mut buf).expect("a subsegment at the daemon");
    let text = std::str::from_utf8(&buf[..n]).unwrap();
    let doc: Value = serde_json::from_str(text.split_once('\n').unwrap().1).unwrap();
    assert_eq!(doc["trace_id"], ROOT);
    assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
    assert_eq!(doc["id"], parent, "the header names the subsegment");
    assert_eq!(doc["namespace"], "remote");
    assert!(doc["http"]["request"]["url"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert_eq!(
        doc["http"]["response"]["status"], got[0].status,
        "the status the supplier answered"
    );
    assert!(!doc["http"]["request"]["url"]
        .as_str()
        .unwrap()
        .contains('?'));
    assert!(doc["end_time"].as_f64().unwrap() >= doc["start_time"].as_f64().unwrap());

    // A GET with a query (WeChat Pay's trade bill, `?bill_date=...`): the
    // subsegment names the path, never the query. (One test: the daemon's
    // address is read once per process.)
    let client = suppliers::wechatpay::WechatPayClient::new(
        &sim.wechat_url(),
        std::time::Duration::from_millis(1500),
    )
    .unwrap();
    let values = serde_json::to_value(sim.wechat_credentials()).unwrap();
    let creds =
        suppliers::wechatpay::Credentials::from_values(|k| values[k].as_str().map(str::to_owned))
            .unwrap()
            .expect("configured");
    let _ = client.trade_bill(&creds, "2001-01-01").await;
    let mut urls = Vec::new();
    while let Ok(n) = daemon.recv(&mut buf) {
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let doc: Value = serde_json::from_str(text.split_once('\n').unwrap().1).unwrap();
        urls.push(doc["http"]["request"]["url"].as_str().unwrap().to_owned());
        if urls.iter().any(|u| u.contains("tradebill")) {
            break;
        }
    }
    let bill = urls
        .iter()
        .find(|u| u.contains("tradebill"))
        .unwrap_or_else(|| panic!("{urls:?}"));
    assert!(!bill.contains('?') && !bill.contains("bill_date"), "{bill}");
}
