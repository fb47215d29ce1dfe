#!/usr/bin/env bash
# Interoperability with a real third-party RocketMQ implementation (RocketMQ-Rust 1.0.0):
# installs its name server and broker into a cache outside the clone (once), starts them on
# 127.0.0.1, runs our SDK's interop tests against them, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

PEERS="${ROCKETMQ_PEERS_DIR:-$HOME/.cache/rmq-peers}"
NAMESRV_BIN="$PEERS/bin/rocketmq-namesrv-rust"
BROKER_BIN="$PEERS/bin/rocketmq-broker-rust"

if [ ! -x "$NAMESRV_BIN" ] || [ ! -x "$BROKER_BIN" ]; then
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
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT

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
