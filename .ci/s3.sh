#!/usr/bin/env bash
# A local S3 server (moto) on loopback for persist's object-store tests.
# moto is a mock, quick to start; CI runs the suites on a real object store,
# a one-node Ceph cluster (.ci/ceph.sh).
#
#   eval "$(.ci/s3.sh start)"   # install moto if missing, start it, create a bucket,
#                               # print the export lines the tests read
#   .ci/s3.sh stop              # stop the server started by `start` (by its PID)
#   .ci/s3.sh env               # print the export lines again (server already running)
#
# `start` prints only `export …` lines on stdout; progress goes to stderr.
# Settings (environment, all optional):
#   PERSIST_S3_PORT    port to listen on (default: a free port chosen at start)
#   PERSIST_S3_BUCKET  bucket to create (default: persist-test)
#   PERSIST_S3_STATE   folder for the PID file, log and settings
#                      (default: ${TMPDIR:-/tmp}/persist-s3-$UID)
#   PERSIST_S3_VENV    virtualenv moto is installed into if `moto_server` is not
#                      on PATH (default: $HOME/.cache/persist/moto-venv)
#   PYTHON             the python used to make that virtualenv (default: python3)
# The server listens on 127.0.0.1 only.
set -euo pipefail

STATE="${PERSIST_S3_STATE:-${TMPDIR:-/tmp}/persist-s3-$(id -u)}"
VENV="${PERSIST_S3_VENV:-$HOME/.cache/persist/moto-venv}"
BUCKET="${PERSIST_S3_BUCKET:-persist-test}"
PY="${PYTHON:-python3}"

log() { printf 's3.sh: %s\n' "$*" >&2; }

# The python that has moto and boto3 (after installing them if needed).
moto_python() {
  if [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" -c 'import moto.server, boto3' >/dev/null 2>&1; then
    echo "$VENV/bin/python"
    return
  fi
  if command -v moto_server >/dev/null 2>&1; then
    local shebang
    shebang="$(head -1 "$(command -v moto_server)" | sed 's/^#!//')"
    if [ -x "$shebang" ] && "$shebang" -c 'import moto.server, boto3' >/dev/null 2>&1; then
      echo "$shebang"
      return
    fi
  fi
  log "installing moto[server] into $VENV"
  "$PY" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'moto[server]>=5.0.17' >&2
  echo "$VENV/bin/python"
}

free_port() {
  "$1" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

print_env() {
  # shellcheck disable=SC1091
  . "$STATE/settings"
  cat <<EOF
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
export AWS_ALLOW_HTTP=true
export PERSIST_TEST_S3_URL=s3://$BUCKET/persist-test-$RUN
EOF
}

start() {
  mkdir -p "$STATE"
  if [ -f "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
    log "already running (PID $(cat "$STATE/pid"))"
    print_env
    return
  fi
  local python port pid
  python="$(moto_python)"
  port="${PERSIST_S3_PORT:-$(free_port "$python")}"
  log "starting moto $("$python" -c 'import moto; print(moto.__version__)') on 127.0.0.1:$port"
  # This is `moto_server -H 127.0.0.1 -p PORT` (moto's own `main`), with one
  # change: requests are handled one at a time. moto checks `If-None-Match: *`
  # and then stores the object, with other threads running in between, so two
  # concurrent create-only PUTs of one key can both succeed (seen with moto
  # 5.2.5: 12 concurrent creates of a 600 KB object all "won"). Real S3 decides
  # atomically; serializing requests makes moto do the same.
  # PERSIST_S3_MOTO_THREADED=1 runs moto unchanged.
  if [ "${PERSIST_S3_MOTO_THREADED:-0}" = 1 ]; then
    nohup "$python" -m moto.server -H 127.0.0.1 -p "$port" >"$STATE/moto.log" 2>&1 </dev/null &
  else
    nohup "$python" -c '
import sys, threading
import moto.server as ms
lock = threading.Lock()
Base = ms.DomainDispatcherApplication
class Serialized(Base):
    def __call__(self, environ, start_response):
        with lock:
            return Base.__call__(self, environ, start_response)
ms.DomainDispatcherApplication = Serialized
ms.main(sys.argv[1:])
' -H 127.0.0.1 -p "$port" >"$STATE/moto.log" 2>&1 </dev/null &
  fi
  pid=$!
  echo "$pid" >"$STATE/pid"
  printf 'PORT=%s\nBUCKET=%s\nRUN=%s\n' "$port" "$BUCKET" "$(date +%s)-$$" >"$STATE/settings"
  local i
  for i in $(seq 1 100); do
    if "$python" - "$port" >/dev/null 2>&1 <<'EOF'
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
EOF
    then
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "moto exited; its log:"
      cat "$STATE/moto.log" >&2
      exit 1
    fi
    sleep 0.2
    if [ "$i" = 100 ]; then
      log "moto did not answer within 20 s; its log:"
      cat "$STATE/moto.log" >&2
      stop
      exit 1
    fi
  done
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "$python" - "$port" "$BUCKET" <<'EOF' >&2
import sys, boto3
port, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
s3.create_bucket(Bucket=bucket)
# persist's autoinc needs create-only writes (If-None-Match: *); say if this server ignores them.
s3.put_object(Bucket=bucket, Key="s3sh-probe", Body=b"1", IfNoneMatch="*")
try:
    s3.put_object(Bucket=bucket, Key="s3sh-probe", Body=b"2", IfNoneMatch="*")
    print("s3.sh: WARNING: this server ignores If-None-Match: * (autoinc saves will fail)")
except s3.exceptions.ClientError as e:
    print(f"s3.sh: conditional writes honoured ({e.response['Error']['Code']})")
s3.delete_object(Bucket=bucket, Key="s3sh-probe")
print(f"s3.sh: bucket {bucket} ready")
EOF
  print_env
}

stop() {
  if [ -f "$STATE/pid" ]; then
    local pid
    pid="$(cat "$STATE/pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
      log "stopped moto (PID $pid)"
    fi
    rm -f "$STATE/pid"
  else
    log "not running"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  *)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
