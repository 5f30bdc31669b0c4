#!/usr/bin/env bash
# A one-node Ceph cluster with its RADOS Gateway (S3) on loopback, for
# persist's object-store tests against a real distributed object store.
#
#   eval "$(.ci/ceph.sh start)"   # install Ceph if missing, start mon + mgr + one
#                                 # OSD + radosgw, create a user and a bucket,
#                                 # print the export lines the tests read
#   .ci/ceph.sh stop              # stop the daemons `start` started (by their PIDs)
#                                 # and remove the cluster's folder
#   .ci/ceph.sh env               # print the export lines again (cluster running)
#
# `start` prints only `export …` lines on stdout; progress goes to stderr.
# The packages (Debian's ceph-mon ceph-osd ceph-mgr radosgw ceph-common, about
# 73 MB) are installed with apt-get when `ceph-mon` is not on PATH (needs root).
# The cluster: one monitor and one manager, one BlueStore OSD on a sparse file,
# pools of size 1, cephx, every daemon bound to 127.0.0.1 (the monitor and the
# gateway on free ports chosen at start). It takes about 20 s to start, and
# 450 MB of memory then (about 1 GB after the bench: the OSD's cache grows).
# Settings (environment, all optional):
#   PERSIST_CEPH_STATE   folder for the cluster (config, keys, data, logs, PIDs)
#                        (default: ${TMPDIR:-/tmp}/persist-ceph-$UID)
#   PERSIST_CEPH_BUCKET  bucket to create (default: persist-test)
#   PERSIST_CEPH_OSD_GB  size of the OSD's block file, sparse (default: 20)
set -euo pipefail

STATE="${PERSIST_CEPH_STATE:-${TMPDIR:-/tmp}/persist-ceph-$(id -u)}"
BUCKET="${PERSIST_CEPH_BUCKET:-persist-test}"
OSD_GB="${PERSIST_CEPH_OSD_GB:-20}"
CONF="$STATE/ceph.conf"
# The gateway's S3 user; the keys only guard a cluster on loopback.
ACCESS_KEY=persisttestaccesskey
SECRET_KEY=persisttestsecretkey0123456789abcdefghij

log() { printf 'ceph.sh: %s\n' "$*" >&2; }

install_ceph() {
  if command -v ceph-mon >/dev/null && command -v radosgw >/dev/null \
    && command -v ceph-osd >/dev/null && command -v ceph-mgr >/dev/null \
    && command -v curl >/dev/null; then
    return
  fi
  log "installing ceph-mon ceph-osd ceph-mgr radosgw ceph-common with apt-get"
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    ceph-mon ceph-osd ceph-mgr radosgw ceph-common curl python3 >&2
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

C() { ceph -c "$CONF" --connect-timeout 30 "$@"; }

# Every daemon writes its PID to $STATE/run/<name>.pid.
pids() {
  local f
  for f in "$STATE"/run/*.pid; do
    [ -f "$f" ] && cat "$f"
  done
  return 0
}

print_env() {
  # shellcheck disable=SC1091
  . "$STATE/settings"
  cat <<EOF
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$RGW_PORT
export AWS_ALLOW_HTTP=true
export PERSIST_TEST_S3_URL=s3://$BUCKET/persist-test-$RUN
EOF
}

# A signed S3 request to the gateway (curl signs it: --aws-sigv4, curl >= 7.75).
# Prints the HTTP status.
s3() {
  local method="$1" path="$2"
  shift 2
  curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$ACCESS_KEY:$SECRET_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -X "$method" "$@" "http://127.0.0.1:$RGW_PORT/$path"
}

fail() {
  log "$1; the logs in $STATE/log:"
  tail -n 30 "$STATE"/log/*.log >&2 || true
  stop
  exit 1
}

start() {
  if [ -f "$STATE/settings" ] && [ -n "$(pids)" ] && kill -0 $(pids) 2>/dev/null; then
    log "already running (PIDs $(pids | tr '\n' ' '))"
    print_env
    return
  fi
  install_ceph
  local started=$SECONDS
  rm -rf "$STATE"
  mkdir -p "$STATE"/{run,log,mon/ceph-a,mgr/ceph-x,osd/ceph-0,rgw}
  local fsid mon_port rgw_port
  fsid="$(cat /proc/sys/kernel/random/uuid)"
  mon_port="$(free_port)"
  rgw_port="$(free_port)"
  printf 'RGW_PORT=%s\nMON_PORT=%s\nRUN=%s\n' "$rgw_port" "$mon_port" "$(date +%s)-$$" \
    >"$STATE/settings"
  RGW_PORT=$rgw_port
  # Debian builds Ceph against glibc's malloc, though Ceph is written for
  # tcmalloc (its OSD sizes its caches from tcmalloc's heap figures) and the
  # radosgw package depends on it: the monitor, the OSD and radosgw run with
  # it preloaded when it is installed. The minimal library, because the full
  # one brings libunwind, whose unwinder then replaces libgcc's for every C++
  # exception (radosgw throws some on each PUT).
  local tcmalloc
  tcmalloc="$(ldconfig -p 2>/dev/null | awk '$1 == "libtcmalloc_minimal.so.4" && !f { print $NF; f = 1 }' || true)"
  PRELOAD=(env)
  [ -n "$tcmalloc" ] && PRELOAD=(env "LD_PRELOAD=$tcmalloc")
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$mon_port
public_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_msgr2 = true
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = $STATE/\$name.keyring
run_dir = $STATE/run
pid_file = $STATE/run/\$name.pid
admin_socket = $STATE/run/\$name.asok
log_file = $STATE/log/\$name.log
mon_data = $STATE/mon/\$cluster-\$id
mgr_data = $STATE/mgr/\$cluster-\$id
osd_data = $STATE/osd/\$cluster-\$id
# One OSD: every pool has one copy, placed on it.
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
mon_allow_pool_delete = true
# The monitor refuses to start below 5% free space on its disk, which a large
# build disk can be at with gigabytes to spare; the tests need a few.
mon_data_avail_crit = 0
mon_data_avail_warn = 0
# Keep the cluster small and quiet.
mgr_initial_modules =
osd_objectstore = bluestore
bluestore_block_path = $STATE/osd/\$cluster-\$id/block.file
bluestore_block_create = true
bluestore_block_size = $((OSD_GB << 30))
bluestore_fsck_on_mkfs = false
bluestore_fsck_on_mount = false
osd_memory_target = 939524096
bluestore_cache_autotune = true
osd_op_num_shards = 2
osd_op_num_threads_per_shard = 1
# The OSD's history of recent ops (dump_historic_ops) costs CPU on every op.
osd_enable_op_tracker = false
# Logging: each daemon formats every message up to a subsystem's in-memory
# level (5 for most: the default 1/5) for a crash dump, whether or not it is
# ever written, and radosgw logs three lines per request; 0/0 keeps only the
# errors, in the log files.
debug_asok = 0/0
debug_auth = 0/0
debug_bdev = 0/0
debug_bluefs = 0/0
debug_bluestore = 0/0
debug_buffer = 0/0
debug_civetweb = 0/0
debug_compressor = 0/0
debug_context = 0/0
debug_crush = 0/0
debug_crypto = 0/0
debug_eventtrace = 0/0
debug_filestore = 0/0
debug_finisher = 0/0
debug_heartbeatmap = 0/0
debug_journal = 0/0
debug_kstore = 0/0
debug_leveldb = 0/0
debug_memdb = 0/0
debug_mgr = 0/0
debug_mgrc = 0/0
debug_mon = 0/0
debug_monc = 0/0
debug_ms = 0/0
debug_none = 0/0
debug_objclass = 0/0
debug_objecter = 0/0
debug_optracker = 0/0
debug_osd = 0/0
debug_paxos = 0/0
debug_perfcounter = 0/0
debug_prioritycache = 0/0
debug_rados = 0/0
debug_reserver = 0/0
debug_rgw = 0/0
debug_rgw_sync = 0/0
debug_rocksdb = 0/0
debug_throttle = 0/0
debug_timer = 0/0
debug_tp = 0/0

[client.rgw.a]
# tcp_nodelay: without it a reused connection waits for the client's delayed
# ACK between the response's header and body, 40 ms a request on loopback.
rgw_frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw_data = $STATE/rgw
rgw_enable_usage_log = false
# Threads: beast runs each request as a coroutine, but some of a PUT's OSD
# calls block their thread (a sync of 2,000 records, 16 at a time: 10.7 s with
# 2 threads, 7.9 s with 16); fewer threads wake less often per GET (17 context
# switches a GET with 2, about 30 with 16 or 64).
rgw_thread_pool_size = 16
EOF

  log "ceph $(ceph --version | awk '{print $3}'): monitor on 127.0.0.1:$mon_port"
  ceph-authtool --create-keyring "$STATE/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$STATE/client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
  ceph-authtool "$STATE/mon.keyring" --import-keyring "$STATE/client.admin.keyring" >/dev/null
  monmaptool --create --addv a "[v2:127.0.0.1:$mon_port]" --fsid "$fsid" "$STATE/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$STATE/monmap" --keyring "$STATE/mon.keyring" 2>>"$STATE/log/setup.log" \
    || fail "ceph-mon --mkfs failed"
  cp "$STATE/mon.keyring" "$STATE/mon.a.keyring"
  "${PRELOAD[@]}" ceph-mon -c "$CONF" -i a >>"$STATE/log/setup.log" 2>&1 </dev/null || fail "ceph-mon did not start"
  C mon enable-msgr2 >/dev/null 2>&1 || true

  log "manager"
  C auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    -o "$STATE/mgr.x.keyring" >/dev/null 2>>"$STATE/log/setup.log" || fail "no mgr key"
  ceph-mgr -c "$CONF" -i x >>"$STATE/log/setup.log" 2>&1 </dev/null || fail "ceph-mgr did not start"

  log "one BlueStore OSD on a ${OSD_GB} GB sparse file"
  local osd_uuid osd_id
  osd_uuid="$(cat /proc/sys/kernel/random/uuid)"
  osd_id="$(C osd new "$osd_uuid" 2>>"$STATE/log/setup.log")" || fail "ceph osd new failed"
  [ "$osd_id" = 0 ] || fail "the new OSD got id $osd_id, not 0"
  C auth get-or-create osd.0 mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' \
    -o "$STATE/osd.0.keyring" >/dev/null 2>>"$STATE/log/setup.log" || fail "no OSD key"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$STATE/log/setup.log" 2>&1 \
    || fail "ceph-osd --mkfs failed"
  "${PRELOAD[@]}" ceph-osd -c "$CONF" -i 0 >>"$STATE/log/setup.log" 2>&1 </dev/null || fail "ceph-osd did not start"
  local i
  for i in $(seq 1 120); do
    if C osd dump 2>/dev/null | grep -q '^osd.0 up'; then break; fi
    [ "$i" = 120 ] && fail "osd.0 not up after 60 s"
    sleep 0.5
  done

  log "radosgw on 127.0.0.1:$rgw_port"
  C auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' mgr 'allow rw' \
    -o "$STATE/client.rgw.a.keyring" >/dev/null 2>>"$STATE/log/setup.log" || fail "no radosgw key"
  "${PRELOAD[@]}" radosgw -c "$CONF" -n client.rgw.a >>"$STATE/log/setup.log" 2>&1 </dev/null || fail "radosgw did not start"
  for i in $(seq 1 240); do
    if curl -s -o /dev/null "http://127.0.0.1:$rgw_port/"; then break; fi
    [ "$i" = 240 ] && fail "radosgw did not answer within 120 s"
    sleep 0.5
  done

  radosgw-admin -c "$CONF" user create --uid=persist --display-name="persist tests" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null 2>>"$STATE/log/setup.log" \
    || fail "radosgw-admin user create failed"
  local code
  code="$(s3 PUT "$BUCKET")"
  [ "$code" = 200 ] || fail "creating bucket $BUCKET answered HTTP $code"
  # persist's autoinc needs create-only writes (If-None-Match: *); say if this
  # server ignores them (persist's own probe then refuses autoinc saves).
  s3 PUT "$BUCKET/ceph-sh-probe" -H 'If-None-Match: *' --data-binary 1 >/dev/null
  code="$(s3 PUT "$BUCKET/ceph-sh-probe" -H 'If-None-Match: *' --data-binary 2)"
  s3 DELETE "$BUCKET/ceph-sh-probe" >/dev/null || true
  if [ "$code" = 412 ]; then
    log "conditional writes honoured (a second create-only PUT answered 412)"
  else
    log "WARNING: a second create-only PUT answered $code, not 412 (autoinc saves will fail)"
  fi
  log "bucket $BUCKET ready after $((SECONDS - started)) s (PIDs $(pids | tr '\n' ' '))"
  print_env
}

stop() {
  local all
  all="$(pids | tr '\n' ' ')"
  if [ -z "${all// /}" ]; then
    log "not running"
  else
    # The gateway first, then the OSD, manager and monitor.
    local name pid
    for name in client.rgw.a osd.0 mgr.x mon.a; do
      [ -f "$STATE/run/$name.pid" ] || continue
      pid="$(cat "$STATE/run/$name.pid")"
      kill "$pid" 2>/dev/null || continue
      for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    done
    log "stopped ceph (PIDs $all)"
  fi
  rm -rf "$STATE"
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
