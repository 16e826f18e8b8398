//! DynamoDB Local and the SQS emulator, started by the project's own
//! `scripts/lib.sh` (`start_local_services`: pinned tools, free loopback
//! ports) in a child bash that stays alive until its stdin closes. Closing
//! stdin (done on drop, and by the kernel if this process dies) lets the
//! script return, and its EXIT trap stops both services.

use crate::Res;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = r#"
set -euo pipefail
source scripts/lib.sh
start_local_services
printf 'BENCH_DDB=%s\nBENCH_SQS=%s\nBENCH_READY\n' "$AWS_ENDPOINT_URL_DYNAMODB" "$AWS_ENDPOINT_URL_SQS"
# Stay up until the bench closes our stdin; then the EXIT trap stops the services.
read -r _ || true
"#;

pub struct Services {
    child: Child,
    stdin: Option<ChildStdin>,
    pub dynamodb: String,
    pub sqs: String,
}

impl Services {
    pub fn start(repo: &Path) -> Res<Services> {
        let t0 = Instant::now();
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(SCRIPT)
            .current_dir(repo)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot run bash for scripts/lib.sh: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (mut dynamodb, mut sqs) = (None, None);
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            if let Some(v) = line.strip_prefix("BENCH_DDB=") {
                dynamodb = Some(v.to_owned());
            } else if let Some(v) = line.strip_prefix("BENCH_SQS=") {
                sqs = Some(v.to_owned());
            } else if line == "BENCH_READY" {
                break;
            }
        }
        let mut services = Services {
            child,
            stdin,
            dynamodb: dynamodb.unwrap_or_default(),
            sqs: sqs.unwrap_or_default(),
        };
        if services.dynamodb.is_empty() || services.sqs.is_empty() {
            services.stop();
            return Err("scripts/lib.sh start_local_services failed (see above)".into());
        }
        eprintln!(
            "==> bench: DynamoDB Local {} and SQS {} up in {:.1}s",
            services.dynamodb,
            services.sqs,
            t0.elapsed().as_secs_f64()
        );
        Ok(services)
    }

    /// Lets the script return; waits for its cleanup (it stops the services).
    pub fn stop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop();
    }
}
