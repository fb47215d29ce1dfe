#!/usr/bin/env bash
# Durability before/after (release, separate processes, disk store, async flush).
# Release builds of each variant: BIN_ROOT/<variant>/{benchmark,rocketmq-embedded-broker}
# (cargo build --release --example benchmark; cargo build --release -p rocketmq-embedded-broker).
set -u
out=${OUT:-results.jsonl}
: > "$out"
run_variant() { # variant round
  local v=$1 r=$2 dir
  dir=$(mktemp -d /tmp/bench-store.XXXX)
  ${BIN_ROOT:-/tmp/bench}/$v/rocketmq-embedded-broker --listen 127.0.0.1:0 --broker-port 0 --store "$dir" --flush async --log warn > /tmp/bench-$v.out 2>/tmp/bench-$v.err &
  local pid=$!
  local ns=""
  for _ in $(seq 1 100); do
    ns=$(sed -n 's/^name server  *\([^ ]*\)$/\1/p' /tmp/bench-$v.out)
    [ -n "$ns" ] && break
    sleep 0.1
  done
  for cfg in "64 1" "4 64"; do
    set -- $cfg
    line=$(${BIN_ROOT:-/tmp/bench}/$v/benchmark producer --namesrv "$ns" --senders $1 --window $2 --size 1024 --duration 10 --json 2>/dev/null | grep "^{" | tail -1)
    echo "{\"variant\":\"$v\",\"round\":$r,\"senders\":$1,\"window\":$2,\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"result\":$line}" >> "$out"
  done
  kill -INT $pid; wait $pid 2>/dev/null
  rm -rf "$dir"
}
for r in 1 2; do
  run_variant before $r
  run_variant after $r
  run_variant head $r
done
cat "$out"
