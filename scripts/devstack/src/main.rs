//! Local stand-in for what AWS provides when deployed.
//!
//! `devstack provision [--seed] [--env-out PATH]`: creates the table and the
//! queues of template.yaml (if they do not exist yet), optionally seeds the
//! demo catalog, and writes the queue URLs as `export` lines to PATH.
//!
//! `devstack wire [--api URL] [--expire-every SECS]`: the SQS event sources
//! of `forward` and `refund`, the table's stream to `events`, and the
//! schedule of `expire`, through cargo lambda watch's invoke API (see
//! `wire.rs`). Runs until killed.
//!
//! `devstack sign [--secret S]`: prints hex(HMAC-SHA256(S, stdin)), the
//! `X-Signature` of a webhook body (S defaults to `PAYMENT_WEBHOOK_SECRET`).

mod invoke;
mod provision;
mod wire;

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

type Error = Box<dyn std::error::Error>;

const USAGE: &str = "usage:
  devstack provision [--seed] [--env-out PATH]
      table and queues of template.yaml (TABLE_NAME; queues named TABLE_NAME-<LogicalId>),
      demo catalog with --seed, queue URLs as `export` lines to PATH
  devstack wire [--api URL] [--expire-every SECS]
      forward queue -> forward, refund queue -> refund, table stream -> events,
      expire every SECS, through cargo lambda
      watch's invoke API (URL default http://127.0.0.1:$API_PORT, port 9000;
      SECS default $EXPIRE_EVERY_SECS or 60; reads FORWARD_QUEUE_URL)
  devstack sign [--secret S]
      hex(HMAC-SHA256(S, stdin)): the X-Signature of a webhook body
      (S default $PAYMENT_WEBHOOK_SECRET)";

/// Flags of one subcommand: `--name value`, `--name=value`, or bare switches.
struct Args {
    rest: Vec<String>,
}

impl Args {
    /// Takes `--name`; `Err` if it is present without a value.
    fn value(&mut self, name: &str) -> Result<Option<String>, Error> {
        let prefix = format!("{name}=");
        if let Some(i) = self.rest.iter().position(|a| a.starts_with(&prefix)) {
            let arg = self.rest.remove(i);
            return Ok(Some(arg[prefix.len()..].to_owned()));
        }
        match self.rest.iter().position(|a| a == name) {
            None => Ok(None),
            Some(i) if i + 1 < self.rest.len() => {
                self.rest.remove(i);
                Ok(Some(self.rest.remove(i)))
            }
            Some(_) => Err(format!("{name} needs a value").into()),
        }
    }

    fn switch(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        self.rest.len() != before
    }

    fn finish(self) -> Result<(), Error> {
        match self.rest.first() {
            None => Ok(()),
            Some(a) => Err(format!("unexpected argument {a:?}").into()),
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// devstack only ever talks to the local emulators: without an endpoint the
/// SDK would go to AWS itself.
fn require_local_endpoints(vars: &[&str]) -> Result<(), Error> {
    if env("AWS_ENDPOINT_URL").is_some() {
        return Ok(());
    }
    let missing: Vec<&str> = vars.iter().copied().filter(|v| env(v).is_none()).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} not set: devstack talks only to the local emulators (scripts/dev sets it)",
            missing.join(" and ")
        )
        .into())
    }
}

async fn provision(mut args: Args) -> Result<(), Error> {
    let opts = provision::Options {
        seed: args.switch("--seed"),
        env_out: args.value("--env-out")?,
    };
    args.finish()?;
    require_local_endpoints(&[
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_SQS",
        "AWS_ENDPOINT_URL_EVENTBRIDGE",
    ])?;
    provision::run(opts).await
}

async fn wire(mut args: Args) -> Result<(), Error> {
    let api = match args.value("--api")? {
        Some(a) => a,
        None => format!(
            "http://127.0.0.1:{}",
            env("API_PORT").unwrap_or_else(|| "9000".into())
        ),
    };
    let every = match args.value("--expire-every")? {
        Some(s) => Some(s),
        None => env("EXPIRE_EVERY_SECS"),
    };
    let every = match every {
        None => 60,
        Some(s) => s
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                format!(
                    "EXPIRE_EVERY_SECS / --expire-every: {s:?} is not a positive number of seconds"
                )
            })?,
    };
    args.finish()?;
    require_local_endpoints(&["AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB"])?;
    let forward_queue_url = env("FORWARD_QUEUE_URL").ok_or(
        "FORWARD_QUEUE_URL is not set (source the file `devstack provision --env-out` wrote)",
    )?;
    let refund_queue_url = env("REFUND_QUEUE_URL").ok_or(
        "REFUND_QUEUE_URL is not set (source the file `devstack provision --env-out` wrote)",
    )?;
    let table = env("TABLE_NAME").ok_or("TABLE_NAME is not set")?;
    let streams_endpoint = env("AWS_ENDPOINT_URL_DYNAMODB_STREAMS")
        .or_else(|| env("AWS_ENDPOINT_URL_DYNAMODB"))
        .ok_or("AWS_ENDPOINT_URL_DYNAMODB is not set")?;
    let events_dlq_url = env("EVENTS_DEAD_LETTER_QUEUE_URL").ok_or(
        "EVENTS_DEAD_LETTER_QUEUE_URL is not set (source the file `devstack provision --env-out` wrote)",
    )?;
    wire::run(wire::Options {
        api,
        forward_queue_url,
        refund_queue_url,
        expire_every: Duration::from_secs(every),
        table,
        streams_endpoint,
        events_dlq_url,
    })
    .await
}

fn sign(mut args: Args) -> Result<(), Error> {
    let secret = match args.value("--secret")? {
        Some(s) => s,
        None => std::env::var("PAYMENT_WEBHOOK_SECRET")
            .map_err(|_| "set PAYMENT_WEBHOOK_SECRET or pass --secret")?,
    };
    args.finish()?;
    let mut body = Vec::new();
    std::io::stdin()
        .read_to_end(&mut body)
        .map_err(|e| format!("reading stdin: {e}"))?;
    println!(
        "{}",
        domain::payment::signature::sign(secret.as_bytes(), &body)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let command = argv.next();
    let args = Args {
        rest: argv.collect(),
    };
    let result = match command.as_deref() {
        Some("provision") => provision(args).await,
        Some("wire") => wire(args).await,
        Some("sign") => sign(args),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("devstack: {e}");
            ExitCode::FAILURE
        }
    }
}
