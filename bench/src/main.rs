//! The order system's benchmark (issue 8).
//!
//! ```sh
//! cargo run --release -p bench -- [--json] [--quick] [--buyers N] [--units K]
//!                                 [--samples N] [--starts N] [--flash-scale D]
//!                                 [--flash-buyers N] [--flash-shards LIST]
//!                                 [--only LIST]
//! ```
//!
//! Starts its own DynamoDB Local and SQS emulator through `scripts/lib.sh`,
//! builds the function binaries (`cargo build --release -p <fn>`), and
//! prints each figure next to its target: round trips per operation, handler
//! overhead against the bare SDK, cold start per function, contention on one
//! SKU, and a flash sale on S = 1, 4, 16, 64 stock shards under a model of
//! DynamoDB's write limit per partition. With `--json` the
//! table goes to stderr and stdout carries the same figures as JSON.

mod coldstart;
mod contention;
mod counter;
mod flashsale;
mod harness;
mod overhead;
mod replay;
mod report;
mod roundtrips;
mod runtime_api;
mod services;

use report::{Miss, Out, Section};
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const SECTIONS: [&str; 5] = [
    "roundtrips",
    "overhead",
    "coldstart",
    "contention",
    "flashsale",
];

#[derive(Debug)]
struct Args {
    json: bool,
    quick: bool,
    buyers: usize,
    units: u64,
    samples: usize,
    starts: usize,
    flash_scale: f64,
    flash_shards: Vec<u8>,
    flash_buyers: usize,
    only: Vec<String>,
}

const USAGE: &str = "usage: cargo run --release -p bench -- [--json] [--quick] [--buyers N] [--units K] [--samples N] [--starts N] [--flash-buyers N] [--flash-scale D] [--flash-shards 1,4,16,64] [--only roundtrips,overhead,coldstart,contention,flashsale]";

fn parse_args() -> Result<Args, String> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let quick = raw.iter().any(|a| a == "--quick");
    let mut a = Args {
        json: false,
        quick,
        buyers: if quick { 200 } else { 1000 },
        units: 100,
        samples: if quick { 50 } else { 300 },
        starts: if quick { 2 } else { 5 },
        flash_scale: 100.0,
        flash_shards: flashsale::SHARDS.to_vec(),
        flash_buyers: 300,
        only: SECTIONS.iter().map(|s| (*s).to_owned()).collect(),
    };
    let mut it = raw.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--json" => a.json = true,
            "--quick" => {}
            "--buyers" => {
                a.buyers = value("--buyers")?
                    .parse()
                    .map_err(|_| "--buyers N".to_owned())?
            }
            "--units" => {
                a.units = value("--units")?
                    .parse()
                    .map_err(|_| "--units K".to_owned())?
            }
            "--samples" => {
                a.samples = value("--samples")?
                    .parse()
                    .map_err(|_| "--samples N".to_owned())?
            }
            "--starts" => {
                a.starts = value("--starts")?
                    .parse()
                    .map_err(|_| "--starts N".to_owned())?
            }
            "--flash-scale" => {
                a.flash_scale = value("--flash-scale")?
                    .parse()
                    .map_err(|_| "--flash-scale D".to_owned())?
            }
            "--flash-buyers" => {
                a.flash_buyers = value("--flash-buyers")?
                    .parse()
                    .map_err(|_| "--flash-buyers N".to_owned())?
            }
            "--flash-shards" => {
                a.flash_shards = value("--flash-shards")?
                    .split(',')
                    .map(|s| s.trim().parse::<u8>())
                    .collect::<Result<_, _>>()
                    .ok()
                    .filter(|v: &Vec<u8>| v.iter().all(|s| (1..=64).contains(s)) && !v.is_empty())
                    .ok_or_else(|| "--flash-shards LIST: numbers in 1..=64".to_owned())?
            }
            "--only" => {
                a.only = value("--only")?
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .collect();
                if let Some(bad) = a.only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                    return Err(format!("unknown section {bad:?}\n{USAGE}"));
                }
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if a.buyers == 0 || a.samples == 0 || a.starts == 0 || a.flash_buyers == 0 {
        return Err("--buyers, --samples and --starts must be above 0".into());
    }
    if !(a.flash_scale >= 1.0 && a.flash_scale.is_finite()) {
        return Err("--flash-scale D must be a number >= 1".into());
    }
    Ok(a)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": model,
        "memory_gib": (mem_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "os": format!("{} {}", std::env::consts::OS, kernel),
        "arch": std::env::consts::ARCH,
        "rustc": rustc,
        "loadavg_at_end": loadavg(),
    })
}

fn failed(title: &str, e: &dyn std::fmt::Display) -> Out {
    let mut sec = Section::new(title, &[]);
    sec.notes.push(format!("FAILED: {e}"));
    Out {
        json: json!({"error": e.to_string()}),
        sections: vec![sec],
        missed: vec![Miss {
            figure: title.to_owned(),
            measured: format!("failed: {e}"),
            target: "measured".into(),
        }],
    }
}

async fn run(args: &Args) -> Res<(Value, String, usize)> {
    let t0 = Instant::now();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no repository root")?
        .to_owned();
    let on = |s: &str| args.only.iter().any(|o| o == s);

    // Build first, so that compiling never competes with a measurement.
    let builds = if on("coldstart") {
        coldstart::build_all(&repo)
    } else {
        vec![]
    };

    let mut services = services::Services::start(&repo)?;
    let load_at_start = loadavg();
    let ep = harness::Endpoints {
        dynamodb: services.dynamodb.clone(),
        sqs: services.sqs.clone(),
    };
    let mut parts: Vec<(&str, Out)> = Vec::new();
    if on("roundtrips") {
        eprintln!("==> bench: round trips");
        let out = roundtrips::run(&ep)
            .await
            .unwrap_or_else(|e| failed("1. Round trips per operation", &e));
        parts.push(("round_trips", out));
    }
    if on("overhead") {
        eprintln!(
            "==> bench: handler overhead ({} samples each)",
            args.samples
        );
        let out = overhead::run(&ep, args.samples)
            .await
            .unwrap_or_else(|e| failed("2. Handler overhead", &e));
        parts.push(("handler_overhead", out));
    }
    if on("coldstart") {
        eprintln!("==> bench: cold starts");
        let out = coldstart::run(&ep, &builds, args.starts, args.starts.max(3) + 2)
            .await
            .unwrap_or_else(|e| failed("3. Cold start", &e));
        parts.push(("cold_start", out));
    }
    if on("contention") {
        eprintln!(
            "==> bench: contention ({} buyers, {} units)",
            args.buyers, args.units
        );
        let out = contention::run(&ep, args.buyers, args.units)
            .await
            .unwrap_or_else(|e| failed("4. Contention", &e));
        parts.push(("contention", out));
    }
    if on("flashsale") {
        let out = flashsale::run(
            &ep,
            args.flash_buyers,
            args.units,
            args.flash_scale,
            &args.flash_shards,
        )
        .await
        .unwrap_or_else(|e| failed("5. Flash sale", &e));
        parts.push(("flash_sale", out));
    }
    services.stop();
    let wall = t0.elapsed().as_secs_f64();

    let mut m = machine();
    m["loadavg_at_start"] = json!(load_at_start);
    let mut text = format!(
        "Order system benchmark: {} CPUs {}, {} GiB, {} {}, {}{}; load average {} when measuring began, {} at the end\n\n",
        m["cpus"],
        m["cpu_model"].as_str().unwrap_or(""),
        m["memory_gib"],
        m["os"].as_str().unwrap_or(""),
        m["arch"].as_str().unwrap_or(""),
        m["rustc"].as_str().unwrap_or(""),
        if args.quick { " (--quick)" } else { "" },
        m["loadavg_at_start"].as_str().unwrap_or(""),
        m["loadavg_at_end"].as_str().unwrap_or("")
    );
    let mut json_parts = serde_json::Map::new();
    let mut missed: Vec<Miss> = Vec::new();
    for (key, out) in parts {
        for s in &out.sections {
            text.push_str(&s.render());
            text.push('\n');
        }
        json_parts.insert(key.to_owned(), out.json);
        missed.extend(out.missed);
    }
    text.push_str("Targets missed\n");
    if missed.is_empty() {
        text.push_str("  none\n");
    }
    for miss in &missed {
        text.push_str(&format!(
            "  {}: {} (target {})\n",
            miss.figure, miss.measured, miss.target
        ));
    }
    text.push_str(&format!(
        "\nWall time: {wall:.1} s (builds, services and every section)\n"
    ));
    let json = json!({
        "machine": m,
        "args": {"quick": args.quick, "buyers": args.buyers, "units": args.units, "samples": args.samples, "starts": args.starts, "flash_scale": args.flash_scale, "flash_shards": args.flash_shards, "flash_buyers": args.flash_buyers, "sections": args.only},
        "results": json_parts,
        "targets_missed": missed.iter().map(|x| json!({"figure": x.figure, "measured": x.measured, "target": x.target})).collect::<Vec<_>>(),
        "wall_s": (wall * 10.0).round() / 10.0,
    });
    Ok((json, text, missed.len()))
}

/// The handlers log as deployed (JSON lines at info), into a sink.
fn quiet_logs() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false)
        .without_time()
        .with_writer(std::io::sink)
        .try_init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("--probe-first-call") {
        let mode = raw.get(2).cloned().unwrap_or_default();
        return match coldstart::probe_main(&mode).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("probe: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    quiet_logs();
    match run(&args).await {
        Ok((json, text, missed)) => {
            if args.json {
                eprint!("\n{text}");
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&json).unwrap_or_default()
                );
            } else {
                print!("\n{text}");
            }
            if missed > 0 {
                eprintln!(
                    "bench: {missed} target(s) missed or section(s) failed: see \"Targets missed\""
                );
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}
