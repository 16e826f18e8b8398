//! The pre-traffic hook's probes (template.yaml `PRE_TRAFFIC_PROBE`, README
//! "Deploying"): each function, handed its probe as Lambda would hand it,
//! answers what the probe expects and writes nothing.

use aws_lambda_events::event::sqs::SqsEvent;
use domain::config::Config;
use integration_tests::events::EventTap;
use integration_tests::stack::Stack;
use serde_json::Value;

fn template() -> Value {
    let y: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../template.yaml")).expect("template.yaml");
    serde_json::to_value(y).unwrap()
}

/// The probe the hook sends to the function built from `binary`.
fn probe(binary: &str) -> Value {
    let t = template();
    let global = t["Globals"]["Function"]["Environment"]["Variables"]["PRE_TRAFFIC_PROBE"].clone();
    let f = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"] == binary)
        .unwrap_or_else(|| panic!("no function {binary}"));
    let own = &f["Properties"]["Environment"]["Variables"]["PRE_TRAFFIC_PROBE"];
    let raw = if own.is_null() { &global } else { own };
    serde_json::from_str(raw.as_str().unwrap()).unwrap()
}

/// The hook's test: every expected key present, equal unless null.
fn holds(answer: &Value, expect: &Value) -> bool {
    expect
        .as_object()
        .unwrap()
        .iter()
        .all(|(k, v)| answer.get(k).is_some_and(|a| v.is_null() || a == v))
}

async fn items(s: &Stack) -> i32 {
    s.t.app
        .store
        .client()
        .scan()
        .table_name(s.t.app.store.table())
        .select(aws_sdk_dynamodb::types::Select::Count)
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .count
}

async fn http_answer(s: &Stack, binary: &str, event: &Value) -> Value {
    let req = || lambda_http::request::from_str(&event.to_string()).expect("an API event");
    let resp = match binary {
        "catalog" => catalog::handle(&s.t.app, req()).await,
        "place" => place::handle(&s.t.app, req()).await,
        "orders" => orders::handle(&s.t.app, req()).await,
        "pay" => pay::handle(&s.pay, req()).await,
        "cancel" => cancel::handle(&s.cancel, req()).await,
        "status-sync" => status_sync::handle(&s.status_sync, req()).await,
        "after-sales" => after_sales::handle(&s.after_sales, req()).await,
        "backoffice" => backoffice::handle(&s.backoffice, req()).await,
        "refund" => refund::handle_http(&s.refund, req()).await,
        other => panic!("{other} is not an API function"),
    };
    let status = resp.status().as_u16();
    let body: Value = serde_json::from_slice(resp.body().as_ref()).unwrap_or(Value::Null);
    serde_json::json!({"statusCode": status, "body": body})
}

#[tokio::test]
async fn every_function_answers_its_probe_as_the_hook_expects_and_writes_nothing() {
    let s = Stack::spawn_streaming(Config::default()).await;
    let tap = EventTap::create(&s).await;
    let before = items(&s).await;
    let apis = [
        "catalog",
        "place",
        "orders",
        "pay",
        "cancel",
        "status-sync",
        "after-sales",
        "backoffice",
        "refund",
    ];
    // refund serves a queue too: its main takes the probe for HTTP.
    assert!(matches!(
        refund::Invocation::parse(probe("refund")["event"].clone()),
        Ok(refund::Invocation::Http(_))
    ));
    for binary in apis {
        let p = probe(binary);
        let answer = http_answer(&s, binary, &p["event"]).await;
        assert!(holds(&answer, &p["expect"]), "{binary}: {answer}");
        assert!(
            answer["body"]["error"]["code"].is_string(),
            "{binary}: the one error shape"
        );
    }
    let p = probe("forward");
    let event: SqsEvent = serde_json::from_value(p["event"].clone()).unwrap();
    let answer = serde_json::to_value(forward::handle(&s.forward, event).await).unwrap();
    assert!(holds(&answer, &p["expect"]), "forward: {answer}");

    let p = probe("events");
    let event = serde_json::from_value(p["event"].clone()).unwrap();
    let answer = serde_json::to_value(events::handle(tap.handler(), event).await).unwrap();
    assert!(holds(&answer, &p["expect"]), "events: {answer}");

    let p = probe("expire");
    let answer =
        serde_json::to_value(expire::handle(&s.expire, p["event"].clone()).await.unwrap()).unwrap();
    assert!(holds(&answer, &p["expect"]), "expire: {answer}");

    let p = probe("reconcile");
    let ask = reconcile::Ask::from_event(&p["event"]);
    assert!(ask.plan, "the probe only plans");
    let answer = serde_json::to_value(
        reconcile::run(&s.reconcile, &ask, domain::time::Timestamp::now())
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(holds(&answer, &p["expect"]), "reconcile: {answer}");

    let p = probe("pre-token");
    let answer = pre_token::handle(p["event"].clone());
    assert!(holds(&answer, &p["expect"]), "pre-token: {answer}");

    assert_eq!(items(&s).await, before, "a probe writes nothing");
    assert!(tap.poll().await.is_empty(), "nothing reached the stream");
}
