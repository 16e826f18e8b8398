//! Structured logs for CloudWatch: JSON lines, level from `RUST_LOG` (the
//! same locally and deployed). Each line carries its spans: the runtime's
//! invocation (`requestId`) and, for API requests, [`crate::http::request_span`]
//! (route, order, package, case, user). No secret or address is ever logged.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false)
        .without_time()
        .try_init();
}
