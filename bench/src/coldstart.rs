//! Section 3, cold start per function: the release binary started under
//! the bench's Lambda Runtime API with the environment it needs, one real event each
//! (against DynamoDB Local, the SQS emulator and the supplier simulator),
//! process start to first answer, stripped size, peak RSS; and the first
//! SDK call after init with and without warming the connection, each in a
//! fresh process.

use crate::harness::{self, Endpoints, Stack, JD_SECRET, PAYMENT_SECRET};
use crate::report::{fmt_ms, ms, pct, r3, sorted, yes_no, Miss, Out, Section};
use crate::runtime_api::{invoke_once, ColdRun};
use crate::Res;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::config::Config;
use integration_tests::Event;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

pub const FUNCTIONS: [&str; 14] = [
    "catalog",
    "place",
    "orders",
    "pay",
    "cancel",
    "expire",
    "forward",
    "status-sync",
    "after-sales",
    "backoffice",
    "pre-token",
    "refund",
    "reconcile",
    "events",
];

const FIRST_ANSWER_TARGET_MS: f64 = 20.0;
const SIZE_TARGET_BYTES: u64 = 8_000_000;
const RSS_TARGET_KIB: u64 = 16 * 1024;

#[derive(Debug, Clone)]
pub struct Built {
    pub name: &'static str,
    pub path: Option<PathBuf>,
    pub error: Option<String>,
}

/// `cargo build --release -p <fn>` for each function on its own (features
/// as when that function alone is built, as for deployment).
pub fn build_all(repo: &Path) -> Vec<Built> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let t0 = Instant::now();
    let built = FUNCTIONS
        .iter()
        .map(|&name| {
            eprintln!("==> bench: cargo build --release -p {name}");
            let out = Command::new(&cargo)
                .args(["build", "--release", "-p", name, "--bin", name])
                .arg("--message-format=json-render-diagnostics")
                .current_dir(repo)
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output();
            let out = match out {
                Ok(o) => o,
                Err(e) => {
                    return Built {
                        name,
                        path: None,
                        error: Some(format!("cannot run cargo: {e}")),
                    }
                }
            };
            let path = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == name)
                .find_map(|v| v["executable"].as_str().map(PathBuf::from));
            match (out.status.success(), path) {
                (true, Some(p)) => Built {
                    name,
                    path: Some(p),
                    error: None,
                },
                (ok, _) => Built {
                    name,
                    path: None,
                    error: Some(if ok {
                        "no executable reported".into()
                    } else {
                        "build failed".into()
                    }),
                },
            }
        })
        .collect();
    eprintln!(
        "==> bench: function binaries ready in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    built
}

fn base_env(ep: &Endpoints, s: &Stack) -> Vec<(String, String)> {
    let sim = s.sim.base_url();
    [
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", ep.dynamodb.clone()),
        ("AWS_ENDPOINT_URL_SQS", ep.sqs.clone()),
        ("AWS_ENDPOINT_URL_S3", ep.sqs.clone()),
        ("UPLOADS_BUCKET", "bench-proofs".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("RUST_LOG", "info".to_owned()),
        ("TABLE_NAME", s.table.clone()),
        ("FORWARD_QUEUE_URL", s.queues["ForwardQueue"].clone()),
        ("REFUND_QUEUE_URL", s.queues["RefundQueue"].clone()),
        ("AUTH_MODE", "dev-headers".to_owned()),
        ("PAYMENT_WEBHOOK_SECRET", PAYMENT_SECRET.to_owned()),
        ("SUPPLIER_WEBHOOK_SECRETS", harness::supplier_secrets_json()),
        ("WAREHOUSE_API_URL", sim.clone()),
        ("DROPSHIP_API_URL", sim),
        ("JD_API_URL", s.sim.jd_url()),
        ("JD_APP_KEY", "dev-app-key".to_owned()),
        ("JD_APP_SECRET", JD_SECRET.to_owned()),
        ("JD_ACCESS_TOKEN", "dev-access-token".to_owned()),
        ("PAYMENT_GATEWAY_URL", s.sim.gateway_url()),
        ("WECHATPAY_API_URL", s.sim.wechat_url()),
        ("PUBLIC_BASE_URL", "http://127.0.0.1:9".to_owned()),
        ("AWS_ENDPOINT_URL_EVENTBRIDGE", ep.sqs.clone()),
        ("EVENT_BUS_NAME", format!("{}-orders", s.table)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    // The simulator's WeChat Pay merchant credentials, as scripts/dev gives them.
    .chain(
        serde_json::to_value(s.sim.wechat_credentials())
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned()))),
    )
    .collect()
}

/// What a good first answer looks like.
enum Expect {
    Http(u16),
    Sweep,
    Batch,
    /// A Cognito trigger's answer: the event with its claims.
    Claims,
}

/// One event for `function`, and its setup (orders placed, paid) done in-process.
async fn prepare(s: &Stack, function: &str, run: usize) -> Res<(Value, Expect)> {
    let user = format!("cold-{run}");
    let tea = json!([{"sku": "TEA-1", "qty": 1}]);
    Ok(match function {
        "catalog" => (
            Event::new("GET", "/skus/{sku}", "/skus/TEA-1")
                .path_param("sku", "TEA-1")
                .event_json(),
            Expect::Http(200),
        ),
        "place" => (
            harness::place_event(
                &user,
                &json!([{"sku": "TEA-1", "qty": 1}, {"sku": "RUG-1", "qty": 1}]),
                Some(&format!("cold-{}", ulid::Ulid::new())),
            )
            .event_json(),
            Expect::Http(201),
        ),
        "orders" => {
            let o = s.placed(&user, &tea).await?;
            (
                harness::get_order_event(&user, &harness::id_of(&o)?).event_json(),
                Expect::Http(200),
            )
        }
        "pay" => {
            let o = s.placed(&user, &tea).await?;
            (
                harness::pay_event(&o, &format!("PAY-{}", ulid::Ulid::new())).event_json(),
                Expect::Http(200),
            )
        }
        "cancel" => {
            let o = s.placed(&user, &tea).await?;
            (
                harness::cancel_event(&user, &harness::id_of(&o)?).event_json(),
                Expect::Http(200),
            )
        }
        "pre-token" => (
            serde_json::from_str(include_str!("../../events/pre-token.json"))?,
            Expect::Claims,
        ),
        "expire" => (
            json!({"version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": "Scheduled Event",
                   "source": "aws.scheduler", "account": "123456789012", "time": integration_tests::now(),
                   "region": "us-east-1", "resources": [], "detail": {}}),
            Expect::Sweep,
        ),
        "forward" => {
            let o = s
                .placed(&user, &json!([{"sku": "RUG-1", "qty": 1}]))
                .await?;
            s.paid(&s.pay, &o).await?;
            let package = harness::package_of(&o, "dropship")?;
            let message = domain::messages::Message::Forward {
                package_id: domain::ids::PackageId::parse(&package).map_err(|e| e.to_string())?,
                not_before: domain::time::Timestamp::now(),
            };
            let m = aws_sdk_sqs::types::Message::builder()
                .message_id(ulid::Ulid::new().to_string())
                .receipt_handle(format!("rh-{}", ulid::Ulid::new()))
                .body(serde_json::to_string(&message)?)
                .attributes(
                    aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
                    "1",
                )
                .build();
            (
                adapters::local_queues::lambda_event(
                    &[m],
                    "arn:aws:sqs:us-east-1:000000000000:forward",
                ),
                Expect::Batch,
            )
        }
        "status-sync" => {
            let o = s.placed(&user, &tea).await?;
            s.paid(&s.pay, &o).await?;
            let package = harness::package_of(&o, "self")?;
            (
                Event::new(
                    "POST",
                    "/packages/{package_id}/ship",
                    &format!("/packages/{package}/ship"),
                )
                .path_param("package_id", &package)
                .user("staff-1")
                .staff()
                .json(&json!({"carrier": "SF", "tracking_no": "SF-1"}))
                .event_json(),
                Expect::Http(200),
            )
        }
        "after-sales" => {
            let o = s.placed(&user, &tea).await?;
            let case = format!("{}-C01", harness::id_of(&o)?);
            (
                Event::new(
                    "GET",
                    "/after-sales/{case_id}",
                    &format!("/after-sales/{case}"),
                )
                .path_param("case_id", &case)
                .user(&user)
                .event_json(),
                Expect::Http(404),
            )
        }
        "backoffice" => {
            let o = s.placed(&user, &tea).await?;
            let id = harness::id_of(&o)?;
            (
                Event::new("POST", "/orders/{id}/notes", &format!("/orders/{id}/notes"))
                    .path_param("id", &id)
                    .user("staff-1")
                    .staff()
                    .json(&json!({"text": "called the buyer"}))
                    .event_json(),
                Expect::Http(201),
            )
        }
        "refund" => {
            // A paid order cancelled: its refund's message, as SQS delivers it.
            let o = s.placed(&user, &tea).await?;
            s.paid(&s.pay, &o).await?;
            let id = harness::id_of(&o)?;
            let (status, v) = integration_tests::decode(
                cancel::handle(&s.cancel, harness::cancel_event(&user, &id).build()).await,
            );
            if status != 200 {
                return Err(format!("refund setup: cancel answered {status} {v}").into());
            }
            let m = s.receive_with("RefundQueue", &format!("{id}-R01")).await?;
            (
                adapters::local_queues::lambda_event(
                    &[m],
                    "arn:aws:sqs:us-east-1:000000000000:refund",
                ),
                Expect::Batch,
            )
        }
        // A day with no trade at the simulator: the bill is asked for, nothing compared.
        "reconcile" => (json!({"date": "2001-01-01"}), Expect::Sweep),
        // A stream batch (a SKU written, an order placed, then paid): two
        // events put on the bus.
        "events" => (
            serde_json::from_str(include_str!("../../events/events-stream.json"))?,
            Expect::Batch,
        ),
        other => return Err(format!("no event for {other}").into()),
    })
}

/// Runs each kind of request the functions will make a few times in-process,
/// so that the first cold start does not also pay DynamoDB Local's (JVM) and
/// moto's own warm-up.
async fn warm_emulators(s: &Stack) -> Res<()> {
    let lines = json!([{"sku": "TEA-1", "qty": 1}, {"sku": "RUG-1", "qty": 1}]);
    for i in 0..10 {
        let user = format!("warm-{i}");
        let o = s.placed(&user, &lines).await?;
        s.paid(&s.pay, &o).await?;
        let id = harness::id_of(&o)?;
        let _ = orders::handle(&s.app, harness::get_order_event(&user, &id).build()).await;
        let o = s.placed(&user, &lines).await?;
        let _ = cancel::handle(
            &s.cancel,
            harness::cancel_event(&user, &harness::id_of(&o)?).build(),
        )
        .await;
        let _ = expire::handle(&s.expire, json!({})).await;
    }
    Ok(())
}

/// "201", "sweep", "batch ok", or what went wrong.
fn check(run: &ColdRun, expect: &Expect) -> (String, bool) {
    if let Some(e) = &run.error {
        let e: String = e.chars().take(300).collect();
        return (e, false);
    }
    let v: Value = run
        .response
        .as_deref()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    match expect {
        Expect::Http(want) => {
            let got = v["statusCode"].as_u64().unwrap_or(0);
            (got.to_string(), got == u64::from(*want))
        }
        Expect::Claims => {
            let ok = v["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"]
                ["custom:warehouse"]
                == "WH-1";
            (
                if ok {
                    "claims ok".into()
                } else {
                    format!("{v}")
                },
                ok,
            )
        }
        Expect::Sweep => {
            let ok = v.is_object();
            (
                if ok {
                    "sweep ok".into()
                } else {
                    format!("{v}")
                },
                ok,
            )
        }
        Expect::Batch => {
            let ok = v["batchItemFailures"]
                .as_array()
                .is_some_and(|f| f.is_empty());
            (
                if ok {
                    "batch ok".into()
                } else {
                    format!("{v}")
                },
                ok,
            )
        }
    }
}

struct FnResult {
    name: &'static str,
    size: Option<u64>,
    runs: Vec<ColdRun>,
    answers: Vec<(String, bool)>,
    error: Option<String>,
}

pub async fn run(ep: &Endpoints, builds: &[Built], runs: usize, probe_runs: usize) -> Res<Out> {
    let s = Stack::new(ep, "cold", Config::default()).await?;
    s.seed().await?;
    // The order events' bus (and a rule's queue) in the emulator.
    let eventbridge = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .endpoint_url(&ep.sqs)
            .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
            .credentials_provider(harness::credentials())
            .build(),
    );
    adapters::local_streams::create_bus_with_tap(
        &eventbridge,
        &s.raw_sqs,
        &format!("{}-orders", s.table),
        &format!("{}-events-tap", s.table),
    )
    .await?;
    let logs = std::env::temp_dir().join(format!("bench-cold-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&logs)?;
    warm_emulators(&s).await?;
    let env = base_env(ep, &s);
    let mut results = Vec::new();
    let mut clean = true;
    for b in builds {
        let Some(bin) = &b.path else {
            results.push(FnResult {
                name: b.name,
                size: None,
                runs: vec![],
                answers: vec![],
                error: b.error.clone(),
            });
            clean = false;
            continue;
        };
        let size = std::fs::metadata(bin).ok().map(|m| m.len());
        let mut fenv = env.clone();
        fenv.push(("AWS_LAMBDA_FUNCTION_NAME".into(), b.name.into()));
        fenv.push((
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{}", b.name),
        ));
        let mut r = FnResult {
            name: b.name,
            size,
            runs: vec![],
            answers: vec![],
            error: None,
        };
        for i in 0..runs {
            let (event, expect) = prepare(&s, b.name, i).await?;
            let log = logs.join(format!("{}-{i}.log", b.name));
            let run = invoke_once(bin, b.name, &fenv, serde_json::to_vec(&event)?, &log).await?;
            let answer = check(&run, &expect);
            if !answer.1 {
                clean = false;
                eprintln!(
                    "==> bench: {} cold start {i}: {} (log: {})",
                    b.name,
                    answer.0,
                    log.display()
                );
            }
            r.answers.push(answer);
            r.runs.push(run);
        }
        results.push(r);
    }
    if clean {
        let _ = std::fs::remove_dir_all(&logs);
    }

    let mut sec = Section::new(
        &format!("3. Cold start per function (release binary under the bench's Lambda Runtime API; {runs} starts each, one real event each)"),
        &["function", "first answer p50", "min", "max", "init p50", "1st invocation p50", "answer", "size (stripped)", "peak RSS", "met: time/size/RSS"],
    );
    sec.notes.push(format!(
        "targets: first answer <= {FIRST_ANSWER_TARGET_MS} ms (p50), size <= 8 MB (8,000,000 bytes), peak RSS (VmHWM) <= 16 MiB"
    ));
    let mut missed = Vec::new();
    let mut json_fns = Vec::new();
    for r in &results {
        let first = sorted(
            r.runs
                .iter()
                .map(|x| x.first_answer_ms)
                .filter(|x| x.is_finite())
                .collect(),
        );
        let init = sorted(
            r.runs
                .iter()
                .map(|x| x.init_ms)
                .filter(|x| x.is_finite())
                .collect(),
        );
        let invocation = sorted(
            r.runs
                .iter()
                .map(|x| x.first_answer_ms - x.init_ms)
                .filter(|x| x.is_finite())
                .collect(),
        );
        let inv50 = pct(&invocation, 50.0);
        let hwm = r.runs.iter().filter_map(|x| x.hwm_kib).max();
        let (p50, min, max, init50) = (
            pct(&first, 50.0),
            pct(&first, 0.0),
            pct(&first, 100.0),
            pct(&init, 50.0),
        );
        let answers_ok = !r.answers.is_empty() && r.answers.iter().all(|a| a.1);
        let answer = r
            .error
            .clone()
            .or_else(|| r.answers.iter().find(|a| !a.1).map(|a| a.0.clone()))
            .unwrap_or_else(|| r.answers.first().map(|a| a.0.clone()).unwrap_or_default());
        let time_ok = p50 <= FIRST_ANSWER_TARGET_MS;
        let size_ok = r.size.is_some_and(|b| b <= SIZE_TARGET_BYTES);
        let rss_ok = hwm.is_some_and(|k| k <= RSS_TARGET_KIB);
        if !time_ok {
            missed.push(Miss {
                figure: format!("cold start: {} first answer p50", r.name),
                measured: fmt_ms(p50),
                target: format!("<= {FIRST_ANSWER_TARGET_MS} ms"),
            });
        }
        if !size_ok {
            missed.push(Miss {
                figure: format!("cold start: {} stripped size", r.name),
                measured: r
                    .size
                    .map(|b| format!("{:.2} MB ({b} bytes)", b as f64 / 1e6))
                    .unwrap_or("-".into()),
                target: "<= 8 MB".into(),
            });
        }
        if !rss_ok {
            missed.push(Miss {
                figure: format!("cold start: {} peak RSS", r.name),
                measured: hwm
                    .map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
                    .unwrap_or("-".into()),
                target: "<= 16 MiB".into(),
            });
        }
        if !answers_ok {
            missed.push(Miss {
                figure: format!("cold start: {} answered correctly", r.name),
                measured: answer.clone(),
                target: "the expected answer".into(),
            });
        }
        sec.row(vec![
            r.name.to_owned(),
            fmt_ms(p50),
            fmt_ms(min),
            fmt_ms(max),
            fmt_ms(init50),
            fmt_ms(inv50),
            answer.clone(),
            r.size
                .map(|b| format!("{:.2} MB", b as f64 / 1e6))
                .unwrap_or("-".into()),
            hwm.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
                .unwrap_or("-".into()),
            format!(
                "{}/{}/{}{}",
                yes_no(time_ok),
                yes_no(size_ok),
                yes_no(rss_ok),
                if answers_ok { "" } else { " (wrong answer)" }
            ),
        ]);
        json_fns.push(json!({
            "function": r.name,
            "starts": r.runs.len(),
            "first_answer_ms": {"p50": r3(p50), "min": r3(min), "max": r3(max), "all": first.iter().map(|x| r3(*x)).collect::<Vec<_>>()},
            "init_ms": {"p50": r3(init50)},
            "first_invocation_ms": {"p50": r3(inv50)},
            "answer": answer,
            "answers_ok": answers_ok,
            "size_bytes": r.size,
            "peak_rss_kib": hwm,
            "targets_met": {"first_answer": time_ok, "size": size_ok, "peak_rss": rss_ok},
        }));
    }
    sec.footer.push("first answer: process start to the /response body received; init: to its first GET /invocation/next (clients built);".into());
    sec.footer.push("1st invocation: the rest (the event handled, with its DynamoDB/SQS/supplier calls against the local emulators).".into());

    // The first SDK call after init, with and without warming.
    let table = s.table.clone();
    let probe = first_call(ep, &table, probe_runs).await?;
    let mut sec2 = Section::new(
        &format!("3b. First SDK call after init (fresh process each, {probe_runs} each; GetItem of a SKU, client built as the functions build it)"),
        &["mode", "client built", "warm-up at init", "first call", "second call"],
    );
    let med = |v: &Vec<Value>, k: &str| {
        pct(
            &sorted(v.iter().filter_map(|x| x[k].as_f64()).collect()),
            50.0,
        )
    };
    let mut probe_json = serde_json::Map::new();
    for (mode, results) in &probe {
        sec2.row(vec![
            if mode == "cold" {
                "no warm-up (today)".into()
            } else {
                "warm-up GetItem during init".into()
            },
            fmt_ms(med(results, "client_ms")),
            if mode == "cold" {
                "-".into()
            } else {
                fmt_ms(med(results, "warm_ms"))
            },
            fmt_ms(med(results, "first_ms")),
            fmt_ms(med(results, "second_ms")),
        ]);
        probe_json.insert(
            mode.clone(),
            json!({
                "runs": results.len(),
                "client_ms_p50": r3(med(results, "client_ms")),
                "warm_up_ms_p50": if mode == "cold" { Value::Null } else { r3(med(results, "warm_ms")) },
                "first_call_ms_p50": r3(med(results, "first_ms")),
                "second_call_ms_p50": r3(med(results, "second_ms")),
            }),
        );
    }
    sec2.footer.push("Locally the endpoint is plain HTTP on loopback: the first call pays the connection and the client's lazy set-up, no TLS.".into());
    sec2.footer.push("Deployed, it also pays DNS + the TLS handshake to DynamoDB; a warm-up call during init (full CPU) moves that out of the first request.".into());

    Ok(Out {
        json: json!({ "functions": json_fns, "first_sdk_call": probe_json }),
        sections: vec![sec, sec2],
        missed,
    })
}

/// Runs the probe (this binary, `--probe-first-call`) in fresh processes.
async fn first_call(ep: &Endpoints, table: &str, runs: usize) -> Res<Vec<(String, Vec<Value>)>> {
    let exe = std::env::current_exe()?;
    let mut out = vec![("cold".to_owned(), vec![]), ("warm".to_owned(), vec![])];
    for _ in 0..runs {
        for (mode, results) in out.iter_mut() {
            let o = tokio::process::Command::new(&exe)
                .args(["--probe-first-call", mode.as_str()])
                .env_clear()
                .envs([
                    ("AWS_REGION", "us-east-1"),
                    ("AWS_ACCESS_KEY_ID", "local"),
                    ("AWS_SECRET_ACCESS_KEY", "local"),
                    ("AWS_EC2_METADATA_DISABLED", "true"),
                    ("AWS_ENDPOINT_URL_DYNAMODB", ep.dynamodb.as_str()),
                    ("AWS_ENDPOINT_URL_SQS", ep.sqs.as_str()),
                    ("TABLE_NAME", table),
                ])
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()
                .await?;
            let v: Value = serde_json::from_slice(&o.stdout)
                .map_err(|e| format!("probe: {e}: {}", String::from_utf8_lossy(&o.stdout)))?;
            results.push(v);
        }
    }
    Ok(out)
}

/// `bench --probe-first-call cold|warm`: builds the client as the functions
/// do, optionally warms the connection with a GetItem of a key that does not
/// exist (what init would do), then times two GetItems of a SKU.
pub async fn probe_main(mode: &str) -> Res<()> {
    let table = std::env::var("TABLE_NAME")?;
    let t = Instant::now();
    let sdk = adapters::app::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let client_ms = ms(t.elapsed());
    let get = |pk: &str| {
        client
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S("SKU".to_owned()))
            .consistent_read(true)
            .send()
    };
    let err = |e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string();
    let warm_ms = if mode == "warm" {
        let t = Instant::now();
        get("WARMUP#none").await.map_err(err)?;
        Some(ms(t.elapsed()))
    } else {
        None
    };
    let t = Instant::now();
    get("SKU#TEA-1").await.map_err(err)?;
    let first_ms = ms(t.elapsed());
    let t = Instant::now();
    get("SKU#TEA-1").await.map_err(err)?;
    let second_ms = ms(t.elapsed());
    println!(
        "{}",
        json!({"mode": mode, "client_ms": client_ms, "warm_ms": warm_ms, "first_ms": first_ms, "second_ms": second_ms})
    );
    Ok(())
}
