#!/usr/bin/env bash
# Interoperability with a real third-party RocketMQ implementation (RocketMQ-Rust 1.0.0).
#
# Direction 1, our SDK against their broker: installs their name server and broker into a
# cache outside the clone (once), starts them on 127.0.0.1, runs our SDK's interop tests
# against them.
#
# Direction 2, their client against our broker: builds our `rocketmq-embedded-broker` binary,
# starts it on loopback ephemeral ports, builds (cached in $ROCKETMQ_INTEROP_TARGET_DIR, default
# ~/.cache/rocketmq-interop-target) and runs interop/peer-client, which uses
# rocketmq-client-rust 1.0.0 to produce and consume (concurrent and orderly push consumers).
#
# Everything started here is stopped by PID on exit. ROCKETMQ_INTEROP_SKIP_DIRECTION1=1 runs
# direction 2 only.
set -euo pipefail
cd "$(dirname "$0")/.."

PEERS="${ROCKETMQ_PEERS_DIR:-$HOME/.cache/rmq-peers}"
NAMESRV_BIN="$PEERS/bin/rocketmq-namesrv-rust"
BROKER_BIN="$PEERS/bin/rocketmq-broker-rust"

if [ "${ROCKETMQ_INTEROP_SKIP_DIRECTION1:-0}" != 1 ] && { [ ! -x "$NAMESRV_BIN" ] || [ ! -x "$BROKER_BIN" ]; }; then
  echo "installing RocketMQ-Rust 1.0.0 peers into $PEERS (a few minutes, once)"
  cargo install --locked --debug --root "$PEERS" rocketmq-namesrv@1.0.0 rocketmq-broker@1.0.0
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
NS_PORT=$(free_port)
BROKER_PORT=$(free_port)
HA_PORT=$(free_port)

RUN=$(mktemp -d "${TMPDIR:-/tmp}/rmq-interop.XXXXXX")
mkdir -p "$RUN/home" "$RUN/store"
PIDS=()
stop_pids() {
  for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    # Ctrl-C (graceful), then SIGTERM after 10 s, then SIGKILL after 2 s more.
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 10); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
cleanup() {
  stop_pids
  rm -rf "$RUN"
}
trap cleanup EXIT

if [ "${ROCKETMQ_INTEROP_SKIP_DIRECTION1:-0}" != 1 ]; then
echo "== direction 1: our SDK against the RocketMQ-Rust 1.0.0 broker"
cat > "$RUN/namesrv.toml" <<TOML
rocketmqHome = "$RUN/home"
kvConfigPath = "$RUN/home/kvConfig.json"
configStorePath = "$RUN/home/namesrv.properties"
TOML

cat > "$RUN/broker.toml" <<TOML
[broker]
namesrvAddr = "127.0.0.1:$NS_PORT"
brokerIp1 = "127.0.0.1"
brokerIp2 = "127.0.0.1"
listenPort = $BROKER_PORT
storePathRootDir = "$RUN/store"

[broker.brokerServerConfig]
bindAddress = "127.0.0.1"

[broker.brokerIdentity]
brokerName = "rust-broker-a"
brokerClusterName = "DefaultCluster"
brokerId = 0

[store]
storeType = "LocalFile"
brokerRole = "ASYNC_MASTER"
flushDiskType = "ASYNC_FLUSH"
storePathRootDir = "$RUN/store"
haListenAddress = "127.0.0.1"
haListenPort = $HA_PORT
commitLogMicroBatchMaxWaitMicros = 0
TOML

export ROCKETMQ_HOME="$RUN/home"
export ROCKETMQ_SECURITY_PROFILE=development-insecure-loopback
unset NAMESRV_ADDR

"$NAMESRV_BIN" -c "$RUN/namesrv.toml" --bindAddress 127.0.0.1 --listenPort "$NS_PORT" > "$RUN/namesrv.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$NS_PORT") 2>/dev/null && break
  sleep 0.2
done
"$BROKER_BIN" -c "$RUN/broker.toml" -n "127.0.0.1:$NS_PORT" > "$RUN/broker.log" 2>&1 &
PIDS+=($!)
ready=0
for _ in $(seq 1 300); do
  if grep -q "started successfully" "$RUN/broker.log"; then ready=1; break; fi
  sleep 0.2
done
if [ "$ready" != 1 ]; then
  echo "the RocketMQ-Rust broker did not start; its log:" >&2
  tail -50 "$RUN/broker.log" >&2
  exit 1
fi
echo "RocketMQ-Rust name server on 127.0.0.1:$NS_PORT, broker on 127.0.0.1:$BROKER_PORT"

export ROCKETMQ_INTEROP_NAMESRV="127.0.0.1:$NS_PORT"
export ROCKETMQ_INTEROP_REQUIRED=1
cargo test --locked --test interop_rocketmq_rust -- --test-threads=2
stop_pids
fi

# ---------------------------------------------------------------------------------------------
echo "== direction 2: rocketmq-client-rust 1.0.0 against our embedded broker"
PEER_TARGET="${ROCKETMQ_INTEROP_TARGET_DIR:-$HOME/.cache/rocketmq-interop-target}"
PEER_BIN="$PEER_TARGET/debug/rocketmq-interop-peer-client"
# The peer client pulls in ~370 crates (about 25 minutes from scratch on 2 cores). Unless
# asked explicitly, run it only when its cached build is at least as new as its manifest.
# The build records a hash of the manifest and lock file it was made from (file times say
# nothing in a fresh clone).
PEER_STAMP="$PEER_TARGET/peer-client.stamp"
peer_inputs_hash() { cat interop/peer-client/Cargo.toml interop/peer-client/Cargo.lock | sha256sum | cut -d' ' -f1; }
if [ "${ROCKETMQ_INTEROP_DIRECTION2:-auto}" = auto ]; then
  if [ -x "$PEER_BIN" ] && [ -f "$PEER_STAMP" ] && [ "$(cat "$PEER_STAMP")" = "$(peer_inputs_hash)" ]; then
    ROCKETMQ_INTEROP_DIRECTION2=1
  else
    echo "direction 2 SKIPPED: the peer client is not built in $PEER_TARGET yet (about 25 min from"
    echo "scratch on 2 cores). Run: ROCKETMQ_INTEROP_DIRECTION2=1 scripts/interop.sh"
    exit 0
  fi
fi
[ "$ROCKETMQ_INTEROP_DIRECTION2" = 1 ] || exit 0
cargo build --locked -p rocketmq-embedded-broker --bin rocketmq-embedded-broker
OUR_BROKER="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/rocketmq-embedded-broker"

build_start=$(date +%s)
# Debug build with default features off (see interop/peer-client/Cargo.toml): the from-scratch
# build is the slow part of this script; it is cached in $PEER_TARGET.
CARGO_TARGET_DIR="$PEER_TARGET" cargo build --locked --manifest-path interop/peer-client/Cargo.toml
peer_inputs_hash > "$PEER_STAMP"
echo "peer client build: $(( $(date +%s) - build_start )) s"

"$OUR_BROKER" --listen 127.0.0.1:0 --broker-port 0 --log warn > "$RUN/ours.out" 2> "$RUN/ours.log" &
PIDS+=($!)
OUR_NS=""
for _ in $(seq 1 150); do
  OUR_NS=$(sed -n 's/^name server  *\([^ ]*\)$/\1/p' "$RUN/ours.out")
  [ -n "$OUR_NS" ] && break
  kill -0 "${PIDS[-1]}" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$OUR_NS" ]; then
  echo "our embedded broker did not start; its output:" >&2
  cat "$RUN/ours.out" >&2
  tail -50 "$RUN/ours.log" >&2
  exit 1
fi
cat "$RUN/ours.out"

run_start=$(date +%s)
# The client logs at INFO to stdout (it ignores RUST_LOG): keep its full output in a file and
# show the rest (warnings, errors and its summary).
peer_rc=0
timeout 240 "$PEER_BIN" "$OUR_NS" "${ROCKETMQ_INTEROP_MESSAGES:-40}" > "$RUN/peer.log" 2>&1 || peer_rc=$?
grep -v 'INFO' "$RUN/peer.log" || true
if [ "$peer_rc" != 0 ]; then
  echo "the peer client failed (exit $peer_rc) against our broker; its last lines:" >&2
  tail -40 "$RUN/peer.log" >&2
  echo "our broker's log (warnings and errors):" >&2
  tail -50 "$RUN/ours.log" >&2
  exit 1
fi
echo "peer client run: $(( $(date +%s) - run_start )) s"

