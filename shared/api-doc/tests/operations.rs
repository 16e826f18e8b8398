//! What a deploy gives the on-call engineer, read from template.yaml
//! offline: the generated section current, every function deployed through
//! its alias with a canary / linear / all-at-once shift watched by its own
//! alarms and checked by the pre-traffic hook, every alarm telling the one
//! topic, the alarms README promises, and only metrics the code writes.

use api_doc::operations::{self, Class};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn repo(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name)
}

fn text() -> String {
    std::fs::read_to_string(repo("template.yaml")).expect("template.yaml")
}

fn template() -> Value {
    let y: serde_yaml::Value = serde_yaml::from_str(&text()).expect("template.yaml parses");
    serde_json::to_value(y).expect("as JSON")
}

fn resources() -> serde_json::Map<String, Value> {
    template()["Resources"].as_object().cloned().unwrap()
}

#[test]
fn the_generated_section_is_current() {
    let t = text();
    assert!(
        operations::rewrite(&t) == t,
        "template.yaml's generated section (log groups, per-function and per-route alarms, \
         dashboard) is not what the code generates. Rewrite it:\n\n    \
         cargo run -p api-doc -- --operations\n"
    );
}

#[test]
fn every_function_deploys_through_its_alias_watched_by_its_alarms() {
    let y: serde_yaml::Value = serde_yaml::from_str(&text()).unwrap();
    let fns = operations::functions(&y);
    assert_eq!(fns.len(), 14, "{fns:#?}");
    let res = resources();
    for f in &fns {
        let p = &res[&f.logical_id]["Properties"];
        assert_eq!(p["AutoPublishAlias"], "live", "{}", f.logical_id);
        let d = &p["DeploymentPreference"];
        assert_eq!(d["Type"], f.class.deployment(), "{}", f.logical_id);
        let alarms: Vec<String> = d["Alarms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["Ref"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(alarms, operations::deployment_alarms(f), "{}", f.logical_id);
        assert!(alarms.len() <= 10, "CodeDeploy watches at most 10 alarms");
        for a in &alarms {
            assert_eq!(res[a]["Type"], "AWS::CloudWatch::Alarm", "{a}");
        }
        assert_eq!(
            d["Hooks"]["PreTraffic"],
            json!({"Ref": "PreTrafficHookFunction"})
        );
        assert_eq!(
            p["LoggingConfig"]["LogGroup"],
            json!({"Ref": operations::log_group(f)})
        );
    }
    let class = |b: &str| fns.iter().find(|f| f.binary == b).unwrap().class;
    assert_eq!(class("place"), Class::Api);
    assert_eq!(class("refund"), Class::Api, "it serves routes too");
    assert_eq!(class("forward"), Class::Consumer);
    assert_eq!(class("events"), Class::Consumer);
    assert_eq!(class("expire"), Class::Scheduled);
    assert_eq!(class("pre-token"), Class::Scheduled);
    // The hook is SAM's to invoke: its name, and no deployment of its own.
    let hook = &res["PreTrafficHookFunction"]["Properties"];
    assert!(hook["FunctionName"]["Fn::Sub"]
        .as_str()
        .unwrap()
        .starts_with("CodeDeployHook_"));
    assert!(hook.get("DeploymentPreference").is_none() && hook.get("AutoPublishAlias").is_none());
    // Cognito calls the alias; a pool attached to the function before
    // aliases existed may still call it.
    assert_eq!(
        res["PreTokenInvokedByCognito"]["Properties"]["FunctionName"],
        json!({"Ref": "PreTokenFunction.Alias"})
    );
    assert_eq!(
        res["PreTokenFunctionInvokedByCognito"]["Properties"]["FunctionName"],
        json!({"Fn::GetAtt": ["PreTokenFunction", "Arn"]})
    );
}

#[test]
fn every_function_has_a_probe_the_hook_can_send() {
    let t = template();
    let global = t["Globals"]["Function"]["Environment"]["Variables"]["PRE_TRAFFIC_PROBE"].clone();
    let y: serde_yaml::Value = serde_yaml::from_str(&text()).unwrap();
    let res = resources();
    for f in operations::functions(&y) {
        let own =
            &res[&f.logical_id]["Properties"]["Environment"]["Variables"]["PRE_TRAFFIC_PROBE"];
        let raw = if own.is_null() { &global } else { own };
        let probe: Value = serde_json::from_str(raw.as_str().unwrap()).unwrap();
        assert!(
            probe["event"].is_object() && probe["expect"].is_object(),
            "{}",
            f.logical_id
        );
        if f.class == Class::Api {
            assert!(
                own.is_null(),
                "{}: API functions share the 404 probe",
                f.logical_id
            );
        }
    }
}

#[test]
fn every_alarm_tells_the_one_topic() {
    for (id, r) in resources() {
        if r["Type"] == "AWS::CloudWatch::Alarm" {
            assert_eq!(
                r["Properties"]["AlarmActions"],
                operations::alarm_actions(),
                "{id}"
            );
        }
    }
    let topic = &resources()["AlarmTopic"];
    assert_eq!(topic["Condition"], "CreateAlarmTopic");
    // CloudWatch cannot publish to a topic under the AWS-managed SNS key.
    assert_ne!(topic["Properties"]["KmsMasterKeyId"], "alias/aws/sns");
    // DIFF has no value for the first period it sees: the growth alarm
    // asks N of more than N, or it could never fire.
    let growth = &resources()["AttentionGrowingAlarm"]["Properties"];
    assert_eq!(growth["EvaluationPeriods"], 12);
    assert_eq!(
        growth["DatapointsToAlarm"],
        json!({"Ref": "AttentionGrowthHours"})
    );
    let max = &template()["Parameters"]["AttentionGrowthHours"]["MaxValue"];
    assert!(max.as_u64().unwrap() < 12);
}

#[test]
fn the_alarms_the_on_call_engineer_needs_exist() {
    let res = resources();
    let mut want: Vec<String> = [
        "ApiServerErrorAlarm",
        "DynamoDbThrottleAlarm",
        "ForwardInternalErrorAlarm",
        "EventsPublishFailureAlarm",
        "ForwardQueueAgeAlarm",
        "RefundQueueAgeAlarm",
        "ForwardDeadLetterAlarm",
        "RefundDeadLetterAlarm",
        "EventsDeadLetterAlarm",
        "EventsIteratorAgeAlarm",
        "AttentionGrowingAlarm",
        "ReconciliationDifferenceAlarm",
    ]
    .map(String::from)
    .to_vec();
    let y: serde_yaml::Value = serde_yaml::from_str(&text()).unwrap();
    for f in operations::functions(&y) {
        want.push(operations::errors_alarm(&f));
        want.push(operations::throttles_alarm(&f));
    }
    for r in routes::ROUTES {
        want.push(operations::latency_alarm(r));
    }
    for a in &want {
        assert_eq!(res[a]["Type"], "AWS::CloudWatch::Alarm", "{a} missing");
    }
    // And README says what to do for each kind.
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    for a in want
        .iter()
        .filter(|a| !a.contains("Function") && !a.ends_with("LatencyAlarm"))
    {
        assert!(
            readme.contains(a.as_str()),
            "README does not say what to do for {a}"
        );
    }
    for kind in ["ErrorsAlarm", "ThrottlesAlarm", "LatencyAlarm"] {
        assert!(
            readme.contains(kind),
            "README does not say what to do for <...>{kind}"
        );
    }
    assert_eq!(res["Dashboard"]["Type"], "AWS::CloudWatch::Dashboard");
}

/// Metric names of our namespace the template reads: alarms and dashboard.
fn metrics_read() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ns = json!({"Fn::Sub": operations::NAMESPACE});
    fn walk(v: &Value, ns: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                if o.get("Namespace") == Some(ns) {
                    if let Some(Value::String(n)) = o.get("MetricName") {
                        out.insert(n.clone());
                    }
                }
                o.values().for_each(|x| walk(x, ns, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, ns, out)),
            _ => {}
        }
    }
    let res = resources();
    for r in res.values() {
        walk(r, &ns, &mut out);
    }
    let body: Value = serde_json::from_str(
        res["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    for w in body["widgets"].as_array().unwrap() {
        for m in w["properties"]["metrics"].as_array().unwrap() {
            let m = m.as_array().unwrap();
            if m[0] == operations::NAMESPACE {
                out.insert(m[1].as_str().unwrap().to_owned());
            }
            if let Some(e) = m[0]["expression"].as_str() {
                if let Some(name) = e.split("MetricName=\"").nth(1) {
                    out.insert(name.split('"').next().unwrap().to_owned());
                }
            }
        }
    }
    out
}

fn sources(dir: &std::path::Path, out: &mut String) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
}

#[test]
fn the_template_reads_only_metrics_the_code_writes() {
    let mut code = String::new();
    for d in ["functions", "shared/domain/src", "shared/adapters/src"] {
        sources(&repo(d), &mut code);
    }
    let events: Vec<&str> = domain::order::events::EventType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect();
    let read = metrics_read();
    assert!(read.len() > 10, "{read:?}");
    for name in &read {
        let written = events.contains(&name.as_str()) || code.contains(&format!("\"{name}\""));
        assert!(written, "the template reads {name}, which no code writes");
    }
}

/// The statements of a function's policies.
fn statements(logical_id: &str) -> Vec<Value> {
    resources()[logical_id]["Properties"]["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[test]
fn the_sweep_may_read_what_the_attention_gauge_counts() {
    // expire lists the storefronts and counts the attention queue's
    // entries (partition keys STOREFRONTS and Q#attention#<sf>#<nn>).
    let allowed = statements("ExpireFunction").into_iter().any(|st| {
        let query = st["Action"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "dynamodb:Query");
        let table = st["Resource"][0] == json!({"Fn::GetAtt": ["OrdersTable", "Arn"]});
        let keys = &st["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
        query && table && keys == &json!(["STOREFRONTS", "Q#attention#*"])
    });
    assert!(
        allowed,
        "ExpireFunction cannot Query STOREFRONTS and Q#attention#*"
    );
}

#[test]
fn the_hook_may_invoke_the_versions_of_this_stacks_functions_only() {
    let y: serde_yaml::Value = serde_yaml::from_str(&text()).unwrap();
    let want: BTreeSet<String> = operations::functions(&y)
        .iter()
        .map(|f| json!({"Fn::Sub": format!("${{{}.Arn}}:*", f.logical_id)}).to_string())
        .collect();
    let invoke = statements("PreTrafficHookFunction")
        .into_iter()
        .find(|st| {
            st["Action"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "lambda:InvokeFunction")
        })
        .unwrap();
    let got: BTreeSet<String> = invoke["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    assert_eq!(got, want);
}
