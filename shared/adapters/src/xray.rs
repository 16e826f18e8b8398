//! Every AWS SDK call of a traced invocation as an X-Ray subsegment (the
//! service, the operation, the answer's status, its time), and the trace
//! header it carries naming that subsegment, so SQS and EventBridge pass
//! the trace on to the functions they invoke. Add [`XRayInterceptor`] to an
//! SDK client's configuration; off Lambda it records nothing.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::json;
use xray::{Daemon, Subsegment, TraceHeader};

/// Records each attempt of an SDK call in the invocation's trace.
#[derive(Debug, Default, Clone)]
pub struct XRayInterceptor {
    /// The daemon to send to; None: Lambda's (`AWS_XRAY_DAEMON_ADDRESS`).
    daemon: Option<&'static Daemon>,
    /// The trace to record in; None: the invocation's (`_X_AMZN_TRACE_ID`).
    trace: Option<TraceHeader>,
}

impl XRayInterceptor {
    /// Sends to `daemon` under `trace` (tests).
    pub fn to(daemon: &'static Daemon, trace: TraceHeader) -> Self {
        Self {
            daemon: Some(daemon),
            trace: Some(trace),
        }
    }

    fn target(&self) -> Option<(&'static Daemon, TraceHeader)> {
        let daemon = self.daemon.or_else(Daemon::from_env)?;
        let trace = self.trace.clone().or_else(TraceHeader::current)?;
        trace.sampled.then_some((daemon, trace))
    }
}

#[derive(Debug, Clone)]
struct Attempt {
    id: String,
    start: f64,
}

impl Storable for Attempt {
    type Storer = StoreReplace<Self>;
}

impl Intercept for XRayInterceptor {
    fn name(&self) -> &'static str {
        "XRayInterceptor"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some((_, trace)) = self.target() else {
            return Ok(());
        };
        let attempt = Attempt {
            id: xray::new_id(),
            start: xray::now(),
        };
        context
            .request_mut()
            .headers_mut()
            .insert("x-amzn-trace-id", trace.downstream(&attempt.id));
        cfg.interceptor_state().store_put(attempt);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (Some((daemon, trace)), Some(attempt)) = (self.target(), cfg.load::<Attempt>()) else {
            return Ok(());
        };
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_default();
        let status = context.response().map(|r| r.status().as_u16());
        // DynamoDB and SQS answer throttling 400 with the error's type in
        // the body (read in memory by now).
        let throttled = context
            .response()
            .and_then(|r| r.body().bytes())
            .and_then(|b| std::str::from_utf8(b).ok())
            .is_some_and(|b| {
                [
                    "Throttling",
                    "ProvisionedThroughputExceeded",
                    "RequestLimitExceeded",
                ]
                .iter()
                .any(|t| b.contains(t))
            });
        let mut s = Subsegment {
            id: attempt.id.clone(),
            name: service,
            namespace: "aws",
            start: attempt.start,
            end: xray::now(),
            aws: Some(json!({"operation": operation})),
            http: status.map(|s| json!({"response": {"status": s}})),
            error: false,
            throttle: false,
            fault: false,
        };
        match status {
            Some(429) => (s.error, s.throttle) = (true, true),
            Some(400..=499) => (s.error, s.throttle) = (true, throttled),
            Some(500..) | None => s.fault = true,
            _ => {}
        }
        daemon.send(&trace, &s);
        Ok(())
    }
}
