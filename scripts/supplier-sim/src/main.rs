//! `supplier-sim [--port <p>]`: the three supplier channels on 127.0.0.1.
//!
//! The first stdout line is `listening on http://127.0.0.1:<port>`. The JD
//! secret comes from `JD_APP_SECRET` (default `dev-jd-secret`), the JD method
//! names from `JD_FORWARD_METHOD` / `JD_INTERCEPT_METHOD` (the same variables
//! the `suppliers` clients read). It plays the payment gateway's refunds too
//! (`/gateway`, see `gateway.rs`), posting refund notifications to
//! `SIM_NOTIFY_URL`. Runs until killed.

use std::io::Write;
use supplier_sim::{SimOptions, Simulator};

const USAGE: &str = "usage: supplier-sim [--port <port>]   (0 = a free port, the default)

Serves on 127.0.0.1 the routes the `suppliers` clients call:
  WAREHOUSE_API_URL = DROPSHIP_API_URL = http://127.0.0.1:<port>
  JD_API_URL = http://127.0.0.1:<port>/jd/routerjson
Also the payment gateway's refunds: PAYMENT_GATEWAY_URL = http://127.0.0.1:<port>/gateway
Control: GET /_sim/received, GET|POST /_sim/mode, GET|POST /_sim/gateway, POST /_sim/reset
Environment: JD_APP_SECRET (default dev-jd-secret), JD_FORWARD_METHOD, JD_INTERCEPT_METHOD,
  PAYMENT_WEBHOOK_SECRET (the default storefront's gateway secret, default dev-payment-secret),
  SIM_NOTIFY_URL (the API's base URL: refund notifications are posted there),
  SUPPLIER_SIM_QUIET=1 to stop logging requests on stderr";

fn parse_port(args: &[String]) -> Result<u16, String> {
    let mut port = 0u16;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let value = if arg == "--port" {
            i += 1;
            args.get(i).ok_or("--port needs a value")?.clone()
        } else if let Some(v) = arg.strip_prefix("--port=") {
            v.to_owned()
        } else {
            return Err(format!("unknown argument {arg:?}"));
        };
        port = value
            .parse()
            .map_err(|_| format!("--port: {value:?} is not a port number"))?;
        i += 1;
    }
    Ok(port)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return;
    }
    let port = match parse_port(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("supplier-sim: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let options = SimOptions {
        port,
        jd_app_secret: env_or("JD_APP_SECRET", supplier_sim::DEFAULT_JD_APP_SECRET),
        jd_forward_method: env_or("JD_FORWARD_METHOD", supplier_sim::DEFAULT_JD_FORWARD_METHOD),
        jd_intercept_method: env_or(
            "JD_INTERCEPT_METHOD",
            supplier_sim::DEFAULT_JD_INTERCEPT_METHOD,
        ),
        log_requests: std::env::var("SUPPLIER_SIM_QUIET").is_err(),
        payment_secret: env_or("PAYMENT_WEBHOOK_SECRET", "dev-payment-secret"),
        notify_url: std::env::var("SIM_NOTIFY_URL")
            .ok()
            .filter(|v| !v.trim().is_empty()),
    };
    let sim = match Simulator::start_with(options).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("supplier-sim: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", sim.base_url());
    let _ = out.flush();
    drop(out);
    eprintln!(
        "supplier-sim: WAREHOUSE_API_URL=DROPSHIP_API_URL={} JD_API_URL={}",
        sim.base_url(),
        sim.jd_url()
    );
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use super::parse_port;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port(&args(&[])), Ok(0));
        assert_eq!(parse_port(&args(&["--port", "9100"])), Ok(9100));
        assert_eq!(parse_port(&args(&["--port=9101"])), Ok(9101));
        assert!(parse_port(&args(&["--port"])).is_err());
        assert!(parse_port(&args(&["--port", "x"])).is_err());
        assert!(parse_port(&args(&["--bind", "0.0.0.0"])).is_err());
    }
}
