//! A minimal Lambda Runtime API (2018-06-01) on loopback: hands one event to
//! a freshly started function process, takes its answer, and notes when it
//! asks for the next event (it is then idle; its peak RSS is read before it
//! is killed). Every answer of this server goes out in ONE write (headers
//! and body together), with TCP_NODELAY, so that no delayed-ACK stall is
//! measured instead of the function.

use crate::report::ms;
use crate::Res;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

#[derive(Debug, Clone, Default)]
pub struct ColdRun {
    /// Process start to its first `GET .../invocation/next` (init done).
    pub init_ms: f64,
    /// Process start to its answer fully received.
    pub first_answer_ms: f64,
    /// Peak resident set (VmHWM) once it asked for the next event, KiB.
    pub hwm_kib: Option<u64>,
    /// The function's answer (the `/response` body).
    pub response: Option<Vec<u8>>,
    /// `/error` or `/init/error` body, or how the process ended.
    pub error: Option<String>,
}

#[derive(Default)]
struct State {
    t0: Option<Instant>,
    served: bool,
    next_at: Option<Duration>,
    answered_at: Option<Duration>,
    response: Option<Vec<u8>>,
    error: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    done: Notify,
    event: Vec<u8>,
    request_id: String,
    function_arn: String,
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    s.state.lock().unwrap_or_else(|e| e.into_inner())
}

struct Req {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn find(h: &[u8], needle: &[u8]) -> Option<usize> {
    h.windows(needle.len()).position(|w| w == needle)
}

async fn fill(sock: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = sock.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// Reads one HTTP/1.1 request (Content-Length or chunked body) off a
/// keep-alive connection; `None` when the peer closed it.
async fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<Req>> {
    let head_end = loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            break p;
        }
        if !fill(sock, buf).await? {
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_owned();
    let path = first.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    let mut chunked = false;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                length = v.parse().unwrap_or(0);
            } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            }
        }
    }
    buf.drain(..head_end + 4);
    let mut body = Vec::new();
    if chunked {
        loop {
            let line_end = loop {
                if let Some(p) = find(buf, b"\r\n") {
                    break p;
                }
                if !fill(sock, buf).await? {
                    return Ok(None);
                }
            };
            let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
                .unwrap_or(0);
            buf.drain(..line_end + 2);
            if size == 0 {
                // Trailers (none expected) end with an empty line.
                loop {
                    if let Some(p) = find(buf, b"\r\n") {
                        let empty = p == 0;
                        buf.drain(..p + 2);
                        if empty {
                            break;
                        }
                    } else if !fill(sock, buf).await? {
                        break;
                    }
                }
                break;
            }
            while buf.len() < size + 2 {
                if !fill(sock, buf).await? {
                    return Ok(None);
                }
            }
            body.extend_from_slice(&buf[..size]);
            buf.drain(..size + 2);
        }
    } else {
        while buf.len() < length {
            if !fill(sock, buf).await? {
                return Ok(None);
            }
        }
        body = buf.drain(..length).collect();
    }
    Ok(Some(Req { method, path, body }))
}

/// Headers and body in one buffer, sent with one write.
async fn answer(
    sock: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    sock.write_all(&bytes).await
}

async fn connection(mut sock: TcpStream, shared: Arc<Shared>) {
    let _ = sock.set_nodelay(true);
    let mut buf = Vec::new();
    while let Ok(Some(req)) = read_request(&mut sock, &mut buf).await {
        let accepted = br#"{"status":"OK"}"#;
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/2018-06-01/runtime/invocation/next") => {
                let first = {
                    let mut st = lock(&shared);
                    if st.served {
                        false
                    } else {
                        st.served = true;
                        st.next_at = st.t0.map(|t| t.elapsed());
                        true
                    }
                };
                if !first {
                    // Idle again: done. Never answered; the process is
                    // killed, which closes the connection.
                    shared.done.notify_one();
                    let mut rest = [0u8; 512];
                    while matches!(sock.read(&mut rest).await, Ok(n) if n > 0) {}
                    return;
                }
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() + 30_000)
                    .unwrap_or(0);
                let headers = [
                    ("lambda-runtime-aws-request-id", shared.request_id.clone()),
                    ("lambda-runtime-deadline-ms", deadline.to_string()),
                    (
                        "lambda-runtime-invoked-function-arn",
                        shared.function_arn.clone(),
                    ),
                    (
                        "lambda-runtime-trace-id",
                        "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
                    ),
                ];
                if answer(&mut sock, "200 OK", &headers, &shared.event)
                    .await
                    .is_err()
                {
                    return;
                }
            }
            ("POST", p) if p.ends_with("/response") => {
                {
                    let mut st = lock(&shared);
                    st.answered_at = st.t0.map(|t| t.elapsed());
                    st.response = Some(req.body);
                }
                if answer(&mut sock, "202 Accepted", &[], accepted)
                    .await
                    .is_err()
                {
                    return;
                }
            }
            ("POST", p) if p.ends_with("/error") => {
                let init = p.contains("/init/");
                {
                    let mut st = lock(&shared);
                    st.answered_at = st.t0.map(|t| t.elapsed());
                    st.error = Some(format!(
                        "{}: {}",
                        if init {
                            "init error"
                        } else {
                            "invocation error"
                        },
                        String::from_utf8_lossy(&req.body)
                    ));
                }
                let _ = answer(&mut sock, "202 Accepted", &[], accepted).await;
                if init {
                    shared.done.notify_one();
                    return;
                }
            }
            _ => {
                if answer(&mut sock, "404 Not Found", &[], b"{}")
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// VmHWM of a live process, KiB.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Starts `bin` with `env` only (plus `AWS_LAMBDA_RUNTIME_API`), hands it
/// `event`, and measures it. Its output goes to `log`.
pub async fn invoke_once(
    bin: &Path,
    function: &str,
    env: &[(String, String)],
    event: Vec<u8>,
    log: &Path,
) -> Res<ColdRun> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        done: Notify::new(),
        event,
        request_id: ulid::Ulid::new().to_string().to_lowercase(),
        function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"),
    });
    let server = {
        let shared = shared.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(connection(sock, shared.clone()));
            }
        })
    };
    let out = std::fs::File::create(log)?;
    let err = out.try_clone()?;
    let mut cmd = tokio::process::Command::new(bin);
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .kill_on_drop(true);
    let t0 = Instant::now();
    lock(&shared).t0 = Some(t0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("start {}: {e}", bin.display()))?;
    let pid = child.id().unwrap_or(0);
    let mut exited = None;
    tokio::select! {
        _ = shared.done.notified() => {}
        status = child.wait() => { exited = Some(status); }
        _ = tokio::time::sleep(Duration::from_secs(20)) => {}
    }
    let hwm_kib = if exited.is_none() { vm_hwm(pid) } else { None };
    let _ = child.start_kill();
    let _ = child.wait().await;
    server.abort();
    let st = lock(&shared);
    let mut run = ColdRun {
        init_ms: st.next_at.map(ms).unwrap_or(f64::NAN),
        first_answer_ms: st.answered_at.map(ms).unwrap_or(f64::NAN),
        hwm_kib,
        response: st.response.clone(),
        error: st.error.clone(),
    };
    if run.response.is_none() && run.error.is_none() {
        let tail = std::fs::read_to_string(log).unwrap_or_default();
        let tail: String = tail
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" | ");
        run.error = Some(match exited {
            Some(status) => format!("exited ({:?}) before answering: {tail}", status.ok()),
            None => format!("no answer within 20 s: {tail}"),
        });
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_sized_and_chunked_requests_off_one_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
                .await
                .unwrap();
            c.write_all(b"POST /b HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
                .await
                .unwrap();
            c.write_all(b"GET /c HTTP/1.1\r\n\r\n").await.unwrap();
            c
        });
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let a = read_request(&mut sock, &mut buf).await.unwrap().unwrap();
        assert_eq!(
            (a.method.as_str(), a.path.as_str(), &a.body[..]),
            ("POST", "/a", &b"hello"[..])
        );
        let b = read_request(&mut sock, &mut buf).await.unwrap().unwrap();
        assert_eq!((b.path.as_str(), &b.body[..]), ("/b", &b"abcde"[..]));
        let c = read_request(&mut sock, &mut buf).await.unwrap().unwrap();
        assert_eq!((c.method.as_str(), c.body.len()), ("GET", 0));
        drop(client.await.unwrap());
        assert!(read_request(&mut sock, &mut buf).await.unwrap().is_none());
    }
}
