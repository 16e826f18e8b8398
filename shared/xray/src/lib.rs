//! AWS X-Ray without an SDK. Lambda (with `Tracing: Active`) hands each
//! invocation a trace header (`_X_AMZN_TRACE_ID`, set by the runtime per
//! invocation) and runs an X-Ray daemon (`AWS_XRAY_DAEMON_ADDRESS`); a
//! call made during the invocation is recorded by sending the daemon a
//! subsegment document over UDP (one datagram, nothing waited for), under
//! the function's segment. Off Lambda (no daemon address) nothing is sent.

use serde_json::{json, Value};
use std::net::UdpSocket;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The trace an invocation belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    pub root: String,
    /// The segment (or subsegment) the work hangs under.
    pub parent: Option<String>,
    pub sampled: bool,
}

impl TraceHeader {
    /// `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`.
    pub fn parse(text: &str) -> Option<TraceHeader> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = false;
        for part in text.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", v)) => root = Some(v.to_owned()),
                Some(("Parent", v)) => parent = Some(v.to_owned()),
                Some(("Sampled", v)) => sampled = v == "1",
                _ => {}
            }
        }
        Some(TraceHeader {
            root: root.filter(|r| r.starts_with("1-"))?,
            parent,
            sampled,
        })
    }

    /// The current invocation's, from `_X_AMZN_TRACE_ID`.
    pub fn current() -> Option<TraceHeader> {
        Self::parse(&std::env::var("_X_AMZN_TRACE_ID").ok()?)
    }

    /// The header for a call made under `subsegment` (what a downstream
    /// service that traces continues from).
    pub fn downstream(&self, subsegment: &str) -> String {
        format!(
            "Root={};Parent={subsegment};Sampled={}",
            self.root,
            if self.sampled { 1 } else { 0 }
        )
    }
}

/// A fresh 16-hex-digit segment id.
pub fn new_id() -> String {
    format!("{:016x}", ulid::Ulid::new().0 as u64)
}

/// Seconds since the epoch, as X-Ray writes times.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// One call, timed.
#[derive(Debug, Clone, PartialEq)]
pub struct Subsegment {
    pub id: String,
    /// `DynamoDB`, `SQS`, or the host of an HTTP call.
    pub name: String,
    /// `aws` for an AWS service, `remote` for any other.
    pub namespace: &'static str,
    pub start: f64,
    pub end: f64,
    /// The `aws` object (operation, region...), for AWS calls.
    pub aws: Option<Value>,
    /// The `http` object (request method and url, response status).
    pub http: Option<Value>,
    /// A 4xx answer.
    pub error: bool,
    /// A 429 answer or a throttling error.
    pub throttle: bool,
    /// A 5xx answer, or none.
    pub fault: bool,
}

impl Subsegment {
    /// The document the daemon takes for this subsegment of `trace`.
    pub fn document(&self, trace: &TraceHeader) -> Value {
        let mut doc = json!({
            "name": self.name,
            "id": self.id,
            "trace_id": trace.root,
            "start_time": self.start,
            "end_time": self.end,
            "type": "subsegment",
            "namespace": self.namespace,
        });
        if let Some(parent) = &trace.parent {
            doc["parent_id"] = json!(parent);
        }
        if let Some(aws) = &self.aws {
            doc["aws"] = aws.clone();
        }
        if let Some(http) = &self.http {
            doc["http"] = http.clone();
        }
        for (flag, on) in [
            ("error", self.error),
            ("throttle", self.throttle),
            ("fault", self.fault),
        ] {
            if on {
                doc[flag] = json!(true);
            }
        }
        doc
    }
}

/// The X-Ray daemon: where subsegments go.
#[derive(Debug)]
pub struct Daemon {
    socket: UdpSocket,
    addr: String,
}

impl Daemon {
    /// A daemon at `addr` (`host:port`), or None when no socket can be had.
    pub fn at(addr: &str) -> Option<Daemon> {
        let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
        socket.set_nonblocking(true).ok()?;
        Some(Daemon {
            socket,
            addr: addr.to_owned(),
        })
    }

    /// Lambda's (`AWS_XRAY_DAEMON_ADDRESS`, which may name a UDP and a TCP
    /// address: `udp:1.2.3.4:2000 tcp:...`, or just `1.2.3.4:2000`).
    pub fn from_env() -> Option<&'static Daemon> {
        static DAEMON: OnceLock<Option<Daemon>> = OnceLock::new();
        DAEMON
            .get_or_init(|| {
                let v = std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok()?;
                let udp = v
                    .split_whitespace()
                    .find_map(|p| p.strip_prefix("udp:"))
                    .or_else(|| v.split_whitespace().find(|p| !p.starts_with("tcp:")))?
                    .to_owned();
                Daemon::at(&udp)
            })
            .as_ref()
    }

    /// Sends `s` as part of `trace` (only a sampled trace is recorded).
    /// Best effort: a datagram that cannot be sent is dropped.
    pub fn send(&self, trace: &TraceHeader, s: &Subsegment) {
        if !trace.sampled {
            return;
        }
        let datagram = format!(
            "{{\"format\": \"json\", \"version\": 1}}\n{}",
            s.document(trace)
        );
        let _ = self.socket.send_to(datagram.as_bytes(), &self.addr);
    }
}

/// Records `s` in the current invocation's trace, if Lambda traces it.
pub fn record(s: &Subsegment) {
    if let (Some(daemon), Some(trace)) = (Daemon::from_env(), TraceHeader::current()) {
        daemon.send(&trace, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_read_and_continued() {
        let h = TraceHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .unwrap();
        assert_eq!(h.root, "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(h.parent.as_deref(), Some("53995c3f42cd8ad8"));
        assert!(h.sampled);
        assert_eq!(
            h.downstream("aaaaaaaaaaaaaaaa"),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=aaaaaaaaaaaaaaaa;Sampled=1"
        );
        assert!(
            TraceHeader::parse("Parent=1;Sampled=1").is_none(),
            "no root"
        );
        assert!(!TraceHeader::parse("Root=1-a-b;Sampled=0").unwrap().sampled);
        assert_eq!(new_id().len(), 16);
    }

    #[test]
    fn a_subsegment_reaches_the_daemon_as_one_datagram() {
        let daemon_side = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon_side
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let daemon = Daemon::at(&daemon_side.local_addr().unwrap().to_string()).unwrap();
        let trace = TraceHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .unwrap();
        let s = Subsegment {
            id: new_id(),
            name: "DynamoDB".into(),
            namespace: "aws",
            start: 1.0,
            end: 1.5,
            aws: Some(json!({"operation": "GetItem"})),
            http: Some(json!({"response": {"status": 400}})),
            error: true,
            throttle: true,
            fault: false,
        };
        daemon.send(&trace, &s);
        let mut buf = [0u8; 4096];
        let n = daemon_side.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let (header, body) = text.split_once('\n').unwrap();
        assert_eq!(header, r#"{"format": "json", "version": 1}"#);
        let doc: Value = serde_json::from_str(body).unwrap();
        assert_eq!(doc["trace_id"], trace.root);
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["aws"]["operation"], "GetItem");
        assert_eq!(
            (doc["error"].clone(), doc["throttle"].clone()),
            (json!(true), json!(true))
        );
        assert!(doc.get("fault").is_none());
        // Not sampled: nothing is sent.
        daemon.send(
            &TraceHeader {
                sampled: false,
                ..trace
            },
            &s,
        );
        daemon_side
            .set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        assert!(daemon_side.recv(&mut buf).is_err());
    }
}
