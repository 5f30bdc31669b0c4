#!/usr/bin/env bash
# Runs persist's S3 tests against Garage (https://garagehq.deuxfleurs.fr/, crates.io
# `garage`), an S3-compatible distributed object store, on loopback.
#
#   scripts/garage.sh            build Garage if missing, start a one-node cluster,
#                                run the S3 tests against it, stop it
#   scripts/garage.sh start      start it and print the `export` lines (eval them)
#   scripts/garage.sh stop       stop the server `start` started (by its PID)
#
# Building Garage (`cargo install garage`, ~260 crates with the features below)
# took 10 minutes on two cores. It is built once into $GARAGE_ROOT and reused.
# The tests learn from the probe below whether the server honours create-only
# writes (PERSIST_TEST_S3_CONDITIONAL_WRITES); Garage 2.5.0 does not, and there
# they check that autoinc saves are refused.
# Settings (environment, all optional):
#   GARAGE_ROOT    where `cargo install` puts Garage (default: $HOME/.cache/persist/garage)
#   GARAGE_STATE   config, data, log and PID (default: ${TMPDIR:-/tmp}/persist-garage-$UID)
#   GARAGE_S3_PORT / GARAGE_RPC_PORT / GARAGE_ADMIN_PORT (defaults: 3900 / 3901 / 3903)
set -euo pipefail
cd "$(dirname "$0")/.."

GARAGE_ROOT="${GARAGE_ROOT:-$HOME/.cache/persist/garage}"
STATE="${GARAGE_STATE:-${TMPDIR:-/tmp}/persist-garage-$(id -u)}"
S3_PORT="${GARAGE_S3_PORT:-3900}"
RPC_PORT="${GARAGE_RPC_PORT:-3901}"
ADMIN_PORT="${GARAGE_ADMIN_PORT:-3903}"
BUCKET=persist-test
# Fixed test credentials (Garage's key format: GK + 24 hex digits, 64 hex digits).
KEY_ID=GK0123456789abcdef01234567
SECRET=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

log() { printf 'garage.sh: %s\n' "$*" >&2; }

garage_bin() {
  if command -v garage >/dev/null 2>&1; then
    command -v garage
  elif [ -x "$GARAGE_ROOT/bin/garage" ]; then
    echo "$GARAGE_ROOT/bin/garage"
  else
    log "building Garage with cargo install (slow: ~10 min on 2 cores)"
    cargo install garage --locked --no-default-features --features bundled-libs,lmdb \
      --root "$GARAGE_ROOT" >&2
    echo "$GARAGE_ROOT/bin/garage"
  fi
}

G() { "$GARAGE" -c "$STATE/garage.toml" "$@"; }

# Does the server honour create-only writes (S3 `If-None-Match: *`)? Two PUTs
# of one new object with that header: the second must answer 412. Prints
# true or false. (curl signs the requests itself: --aws-sigv4, curl >= 7.75.)
conditional_writes() {
  local url="http://127.0.0.1:$S3_PORT/$BUCKET/.probe-if-none-match-$$" code
  s3_put() {
    curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:garage:s3" \
      --user "$KEY_ID:$SECRET" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
      -H 'If-None-Match: *' -X PUT --data-binary "$1" "$url"
  }
  s3_put first >/dev/null
  code="$(s3_put second)"
  curl -s -o /dev/null --aws-sigv4 "aws:amz:garage:s3" --user "$KEY_ID:$SECRET" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X DELETE "$url" || true
  log "a second create-only PUT of one object answered HTTP $code"
  if [ "$code" = 412 ]; then echo true; else echo false; fi
}

print_env() {
  cat <<EOF
export AWS_ACCESS_KEY_ID=$KEY_ID
export AWS_SECRET_ACCESS_KEY=$SECRET
export AWS_DEFAULT_REGION=garage
export AWS_REGION=garage
export AWS_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
export AWS_ALLOW_HTTP=true
export PERSIST_TEST_S3_URL=s3://$BUCKET/garage-$(date +%s)
export PERSIST_TEST_S3_CONDITIONAL_WRITES=$(conditional_writes)
EOF
}

start() {
  GARAGE="$(garage_bin)"
  mkdir -p "$STATE"
  if [ -f "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
    log "already running (PID $(cat "$STATE/pid"))"
    print_env
    return
  fi
  rm -rf "$STATE/meta" "$STATE/data"
  cat >"$STATE/garage.toml" <<EOF
metadata_dir = "$STATE/meta"
data_dir = "$STATE/data"
db_engine = "lmdb"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$RPC_PORT"
rpc_public_addr = "127.0.0.1:$RPC_PORT"
rpc_secret = "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$S3_PORT"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$ADMIN_PORT"
EOF
  log "starting $("$GARAGE" --version 2>/dev/null || echo garage) on 127.0.0.1:$S3_PORT"
  nohup "$GARAGE" -c "$STATE/garage.toml" server >"$STATE/garage.log" 2>&1 </dev/null &
  echo $! >"$STATE/pid"
  for i in $(seq 1 100); do
    G status >/dev/null 2>&1 && break
    if ! kill -0 "$(cat "$STATE/pid")" 2>/dev/null || [ "$i" = 100 ]; then
      log "Garage did not start; its log:"
      cat "$STATE/garage.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  local node
  node="$(G node id -q 2>/dev/null | cut -d@ -f1)"
  G layout assign -z dc1 -c 1G "$node" >&2
  G layout apply --version 1 >&2
  G key import --yes -n persist "$KEY_ID" "$SECRET" >&2
  G bucket create "$BUCKET" >&2
  G bucket allow --read --write --owner "$BUCKET" --key "$KEY_ID" >&2
  print_env
}

stop() {
  if [ -f "$STATE/pid" ]; then
    local pid
    pid="$(cat "$STATE/pid")"
    kill "$pid" 2>/dev/null && log "stopped Garage (PID $pid)" || true
    rm -f "$STATE/pid"
  fi
}

run() {
  eval "$(start)"
  trap stop EXIT
  log "S3 tests against Garage ($PERSIST_TEST_S3_URL)"
  log "create-only writes honoured: $PERSIST_TEST_S3_CONDITIONAL_WRITES (where not, the tests" \
    "check that autoinc saves are refused instead)"
  local status=0
  # The backend contract, multipart uploads and the 8-process autoinc run.
  cargo test -p persist-core --features object-store --test object_store -- --nocapture ||
    status=$?
  # The typed contract suite of the root package (contract, queries, refs,
  # evolution, ...), each test on local, memory and this S3 store.
  cargo test -p persist --features object-store --tests --no-fail-fast || status=$?
  exit "$status"
}

case "${1:-run}" in
  start) start ;;
  stop) stop ;;
  run) run ;;
  *)
    echo "usage: $0 [run|start|stop]" >&2
    exit 2
    ;;
esac
