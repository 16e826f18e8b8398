//! Section 2, handler overhead: place, pay and cancel through the real
//! handlers in-process, each call followed by a replay of exactly the requests it
//! made (captured by the interceptor) with the bare SDK clients, against
//! the same DynamoDB Local and SQS emulator, renamed onto a shadow copy of
//! the order so that every conditional write succeeds as it did for the
//! handler. The ratio handler / bare SDK is what the handler adds.

use crate::counter::Captured;
use crate::harness::{self, Endpoints, Stack};
use crate::replay::{replay, Rename};
use crate::report::{fmt_ms, ms, pct, r3, sorted, yes_no, Miss, Out, Section};
use crate::Res;
use domain::config::Config;
use integration_tests::decode;
use serde_json::{json, Value};
use std::time::Instant;

const TARGET: f64 = 1.2;
const WARMUP: usize = 10;

struct Samples {
    op: &'static str,
    handler: Vec<f64>,
    bare: Vec<f64>,
    calls: Vec<String>,
}

fn ulid() -> String {
    ulid::Ulid::new().to_string()
}

/// Replays the captured requests in order; the time they took.
async fn bare(s: &Stack, captured: &[Captured], rename: &Rename) -> Res<f64> {
    s.counter.capture(true); // the handler paid for capturing; so does the replay
    let t = Instant::now();
    for c in captured {
        replay(s.app.store.client(), s.publisher.client(), c, rename).await?;
    }
    let d = ms(t.elapsed());
    s.counter.capture(false);
    Ok(d)
}

/// Copies the stored order under a new id: what the replay will act on.
async fn shadow(s: &Stack, id: &str) -> Res<String> {
    let new = ulid();
    let item = Rename(vec![(id.to_owned(), new.clone())]).map(&s.order_item(id).await?);
    s.raw
        .put_item()
        .table_name(&s.table)
        .set_item(Some(item))
        .send()
        .await
        .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
    Ok(new)
}

fn names(captured: &[Captured]) -> Vec<String> {
    captured
        .iter()
        .map(|c| match c {
            Captured::GetItem(_) => "GetItem".to_owned(),
            Captured::BatchGetItem(_) => "BatchGetItem".to_owned(),
            Captured::TransactWriteItems(_) => "TransactWriteItems".to_owned(),
            Captured::UpdateItem(_) => "UpdateItem".to_owned(),
            Captured::PutItem(_) => "PutItem".to_owned(),
            Captured::DeleteItem(_) => "DeleteItem".to_owned(),
            Captured::Query(_) => "Query".to_owned(),
            Captured::SendMessageBatch(_) => "SQS SendMessageBatch".to_owned(),
            Captured::Other(o) => o.clone(),
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Place,
    Pay,
    Cancel,
}

/// One call ready to time: its request, and the ids it acts on.
struct Prepared {
    req: lambda_http::Request,
    /// The order it acts on (pay, cancel); place learns it from the answer.
    order: Option<String>,
    /// A copy of that order under another id, for a replay to act on.
    shadow: Option<String>,
    /// The payment id or idempotency key part a replay must not reuse.
    token: Option<String>,
}

async fn prepare(s: &Stack, op: Op, user: &str, lines: &Value) -> Res<Prepared> {
    Ok(match op {
        Op::Place => {
            let token = ulid();
            Prepared {
                req: harness::place_event(user, lines, Some(&format!("oh-{token}"))).build(),
                order: None,
                shadow: None,
                token: Some(token),
            }
        }
        Op::Pay => {
            let order = s.placed(user, lines).await?;
            let id = harness::id_of(&order)?;
            let token = ulid();
            Prepared {
                req: harness::pay_event(&order, &format!("PAY-{token}")).build(),
                shadow: Some(shadow(s, &id).await?),
                order: Some(id),
                token: Some(token),
            }
        }
        Op::Cancel => {
            let order = s.placed(user, lines).await?;
            let id = harness::id_of(&order)?;
            Prepared {
                req: harness::cancel_event(user, &id).build(),
                shadow: Some(shadow(s, &id).await?),
                order: Some(id),
                token: None,
            }
        }
    })
}

/// Calls the handler with the interceptor capturing: time, answer, requests.
async fn call(s: &Stack, op: Op, req: lambda_http::Request) -> (f64, u16, Value, Vec<Captured>) {
    s.counter.capture(true);
    let t = Instant::now();
    let resp = match op {
        Op::Place => place::handle(&s.app, req).await,
        Op::Pay => pay::handle(&s.pay, req).await,
        Op::Cancel => cancel::handle(&s.cancel, req).await,
    };
    let h = ms(t.elapsed());
    let captured = s.counter.take_captured();
    s.counter.capture(false);
    let (status, v) = decode(resp);
    (h, status, v, captured)
}

/// The order id a call acted on, and its token (payment id, idempotency key).
type Ids = (String, Option<String>);

/// Renames a captured call's order id onto `target` and its token onto a fresh one.
fn rename(ids: &Ids, target: &str) -> Rename {
    let mut r = vec![(ids.0.clone(), target.to_owned())];
    if let Some(t) = &ids.1 {
        r.push((t.clone(), ulid()));
    }
    Rename(r)
}

/// Handler and replay take turns going first (odd samples replay the
/// previous call's requests before the handler runs), so that neither
/// profits from following the other.
async fn sample(s: &Stack, op: Op, name: &'static str, n: usize, lines: &Value) -> Res<Samples> {
    let user = "oh-alice";
    let want = if matches!(op, Op::Place) { 201 } else { 200 };
    let mut out = Samples {
        op: name,
        handler: vec![],
        bare: vec![],
        calls: vec![],
    };
    let mut prev: Option<(Vec<Captured>, Ids)> = None;
    for i in 0..WARMUP + n {
        let p = prepare(s, op, user, lines).await?;
        let target = p.shadow.clone().unwrap_or_else(ulid);
        let mut b = None;
        if i % 2 == 1 {
            if let Some((captured, ids)) = &prev {
                b = Some(bare(s, captured, &rename(ids, &target)).await?);
            }
        }
        let (h, status, v, captured) = call(s, op, p.req).await;
        if status != want {
            return Err(format!("{name}: {status} {v}").into());
        }
        let ids = (
            match p.order {
                Some(id) => id,
                None => harness::id_of(&v)?,
            },
            p.token,
        );
        let b = match b {
            Some(b) => b,
            None => bare(s, &captured, &rename(&ids, &target)).await?,
        };
        if i >= WARMUP {
            out.handler.push(h);
            out.bare.push(b);
        }
        out.calls = names(&captured);
        prev = Some((captured, ids));
    }
    Ok(out)
}

pub async fn run(ep: &Endpoints, samples: usize) -> Res<Out> {
    let s = Stack::new(ep, "oh", Config::default()).await?;
    s.seed().await?;
    let lines = json!([{"sku": "TEA-1", "qty": 1}, {"sku": "RUG-1", "qty": 1}]);
    let all = vec![
        sample(&s, Op::Place, "place", samples, &lines).await?,
        sample(&s, Op::Pay, "pay", samples, &lines).await?,
        sample(&s, Op::Cancel, "cancel", samples, &lines).await?,
    ];

    let mut sec = Section::new(
        &format!("2. Handler overhead ({samples} samples each after {WARMUP} warm-up; bare SDK = the same requests replayed with the SDK client; each handler call paired with its replay)"),
        &["operation", "handler p50", "bare SDK p50", "added p50", "added p90", "added p99", "paired ratio p50", "paired ratio p90", "target", "met", "requests replayed"],
    );
    let mut json_ops = Vec::new();
    let mut missed = Vec::new();
    for p in &all {
        let h = sorted(p.handler.clone());
        let b = sorted(p.bare.clone());
        // Each call against its own replay: what the handler added to it,
        // and how many times as long it took (two independent percentiles
        // would compare different calls).
        let added = sorted(p.handler.iter().zip(&p.bare).map(|(h, b)| h - b).collect());
        let ratios = sorted(p.handler.iter().zip(&p.bare).map(|(h, b)| h / b).collect());
        let (h50, b50) = (pct(&h, 50.0), pct(&b, 50.0));
        let (a50, a90, a99) = (pct(&added, 50.0), pct(&added, 90.0), pct(&added, 99.0));
        let (r50, r90) = (pct(&ratios, 50.0), pct(&ratios, 90.0));
        let met = r50 <= TARGET;
        if !met {
            missed.push(Miss {
                figure: format!("handler overhead: {} paired ratio p50", p.op),
                measured: format!("{r50:.2} (adds {} at p50)", fmt_ms(a50)),
                target: format!("<= {TARGET}"),
            });
        }
        sec.row(vec![
            p.op.to_owned(),
            fmt_ms(h50),
            fmt_ms(b50),
            fmt_ms(a50),
            fmt_ms(a90),
            fmt_ms(a99),
            format!("{r50:.2}"),
            format!("{r90:.2}"),
            format!("<= {TARGET} (p50)"),
            yes_no(met),
            p.calls.join(" + "),
        ]);
        json_ops.push(json!({
            "operation": p.op,
            "samples": h.len(),
            "handler_ms": {"p50": r3(h50), "p99": r3(pct(&h, 99.0)), "mean": r3(h.iter().sum::<f64>() / h.len() as f64)},
            "bare_sdk_ms": {"p50": r3(b50), "p99": r3(pct(&b, 99.0)), "mean": r3(b.iter().sum::<f64>() / b.len() as f64)},
            "added_ms": {"p50": r3(a50), "p90": r3(a90), "p99": r3(a99)},
            "paired_ratio": {"p50": r3(r50), "p90": r3(r90)},
            "target": TARGET,
            "target_met": met,
            "requests": p.calls,
        }));
    }
    sec.footer.push("Handler time: the call of the function's `handle` with a ready API Gateway request (parsing, auth, domain, SDK calls, JSON answer).".into());
    sec.footer.push("place with an Idempotency-Key; pay and cancel act on a fresh order each time, the replay on a copy of it under another id;".into());
    sec.footer
        .push("handler and replay take turns going first.".into());
    Ok(Out {
        json: Value::Array(json_ops),
        sections: vec![sec],
        missed,
    })
}
