#!/usr/bin/env bash
# Builds ruckus and runs it on this machine: a server (SQLite storage in
# datastore/) and one local agent that registers itself with it, then a
# short demo experiment (a memory benchmark) on that agent, whose result is
# printed. Server and agent stay up, with their URLs printed, until Ctrl-C
# (or SIGTERM) stops both cleanly.
#
#   scripts/run.sh                           server on 127.0.0.1:8000, agent on :8081
#   RUCKUS_SERVER_PORT=9000 RUCKUS_AGENT_PORT=9001 scripts/run.sh
#                                            (the daemons' own variables; RK_SERVER_PORT
#                                            and RK_AGENT_PORT are still read)
#   RK_DEMO=0 scripts/run.sh                 no demo job
#   RK_DATA=/tmp/rk RK_BUILD=0 scripts/run.sh   another data folder; no deps/build step
# Access log lines are at debug level: RUCKUS_LOG_LEVEL=debug shows them.
set -euo pipefail
cd "$(dirname "$0")/.."
server_port=${RUCKUS_SERVER_PORT:-${RK_SERVER_PORT:-8000}}
agent_port=${RUCKUS_AGENT_PORT:-${RK_AGENT_PORT:-8081}}
server_url="http://127.0.0.1:$server_port"
agent_url="http://127.0.0.1:$agent_port"
bin=${RK_BIN_DIR:-build/bin}
ruckus() { "$bin/ruckus" --server "$server_url" "$@"; }

data=${RK_DATA:-datastore}
if [ "${RK_BUILD:-1}" != 0 ]; then
  bash scripts/deps.sh --run
  cmake -S . -B build >/dev/null
  cmake --build build -j"$(nproc)"
fi

mkdir -p "$data"
server_pid=""
agent_pid=""
stop() {
  trap - INT TERM EXIT
  echo
  echo "run: stopping agent and server"
  [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  exit 0
}
trap stop INT TERM EXIT

"$bin/ruckus-server" --port "$server_port" --db "$data/ruckus.db" &
server_pid=$!
# Wait for the server to answer before the agent registers with it.
for _ in $(seq 100); do
  curl -fsS "$server_url/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "run: the server did not start" >&2; exit 1; }
  sleep 0.1
done
"$bin/ruckus-agent" --port "$agent_port" --data-dir "$data/agent" --register-with "$server_url" &
agent_pid=$!

# The agent says its own id (GET /api/v1/info, one line of JSON); the CLI
# then says when the server knows it.
agent_id=""
for _ in $(seq 100); do
  if [ -z "$agent_id" ]; then
    agent_id=$(curl -fsS "$agent_url/api/v1/info" 2>/dev/null |
      grep -o '"agent_id": *"[^"]*"' | head -1 | cut -d'"' -f4 || true)
  fi
  [ -n "$agent_id" ] && ruckus agent show "$agent_id" >/dev/null 2>&1 && break
  kill -0 "$agent_pid" 2>/dev/null || { echo "run: the agent did not start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$agent_id" ] || { echo "run: the agent did not register in 10 s" >&2; exit 1; }
echo "run: agent $agent_id registered"

if [ "${RK_DEMO:-1}" != 0 ]; then
  echo "run: demo: a memory benchmark on $agent_id"
  ruckus experiment create examples/memory_benchmark.json 2>/dev/null || true
  exp_id=exp_$(printf %s memory-bandwidth-demo | md5sum | cut -c1-6)
  job_line=$(ruckus job submit "$exp_id" "$agent_id" --wait | tee /dev/stderr | grep -o 'job_[0-9a-f]\{8\}' | head -1)
  ruckus result show "$job_line"
fi

echo
echo "run: server    $server_url   (dashboard: $server_url/)"
echo "run: agent     $agent_url   ($agent_id)"
echo "run: try       $bin/ruckus --server $server_url job list"
echo "run: Ctrl-C stops both"
wait
