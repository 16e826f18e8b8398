//! X-Ray (README "Operating in production"): each AWS SDK call of a traced
//! invocation is a subsegment at the daemon, under the invocation's trace,
//! with its service, operation and answer.

use adapters::xray::XRayInterceptor;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use std::net::UdpSocket;
use xray::{Daemon, TraceHeader};

fn next_doc(daemon: &UdpSocket) -> Value {
    let mut buf = [0u8; 8192];
    let n = daemon.recv(&mut buf).expect("a subsegment at the daemon");
    let text = std::str::from_utf8(&buf[..n]).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    assert_eq!(header, r#"{"format": "json", "version": 1}"#);
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn each_dynamodb_call_is_a_subsegment_of_the_invocation() {
    let t = integration_tests::TestApp::spawn().await;
    let daemon_side = UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon_side
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let daemon: &'static Daemon = Box::leak(Box::new(
        Daemon::at(&daemon_side.local_addr().unwrap().to_string()).unwrap(),
    ));
    let trace = TraceHeader::parse(
        "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1",
    )
    .unwrap();
    let conf = integration_tests::dynamo_client()
        .config()
        .to_builder()
        .interceptor(XRayInterceptor::to(daemon, trace.clone()))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);

    let found = client
        .get_item()
        .table_name(t.app.store.table())
        .key("pk", AttributeValue::S("ORDER#none".into()))
        .key("sk", AttributeValue::S("ORDER".into()))
        .send()
        .await
        .unwrap();
    assert!(found.item.is_none());
    let doc = next_doc(&daemon_side);
    assert_eq!(doc["name"], "DynamoDB");
    assert_eq!(doc["namespace"], "aws");
    assert_eq!(doc["aws"]["operation"], "GetItem");
    assert_eq!(doc["trace_id"], trace.root);
    assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
    assert_eq!(doc["http"]["response"]["status"], 200);
    assert!(doc.get("error").is_none() && doc.get("fault").is_none());

    // A refused call is marked as the caller's error.
    let missing = client
        .get_item()
        .table_name("no-such-table")
        .key("pk", AttributeValue::S("x".into()))
        .key("sk", AttributeValue::S("x".into()))
        .send()
        .await;
    assert!(missing.is_err());
    let doc = next_doc(&daemon_side);
    assert_eq!(doc["http"]["response"]["status"], 400);
    assert_eq!(doc["error"], true);
}
