#!/usr/bin/env bash
# Builds ruckus and runs it on this machine: a server (SQLite storage in
# datastore/) and one local agent that registers itself with it. Both stay
# up, with their URLs printed, until Ctrl-C (or SIGTERM) stops both cleanly.
#
#   scripts/run.sh                         server on 127.0.0.1:8000, agent on :8081
#   RK_SERVER_PORT=9000 RK_AGENT_PORT=9001 scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
server_port=${RK_SERVER_PORT:-8000}
agent_port=${RK_AGENT_PORT:-8081}

bash scripts/deps.sh --run
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"

mkdir -p datastore
build/bin/ruckus-server --port "$server_port" --db datastore/ruckus.db &
server_pid=$!
build/bin/ruckus-agent --port "$agent_port" --data-dir datastore/agent \
  --register-with "http://127.0.0.1:$server_port" &
agent_pid=$!

stop() {
  trap - INT TERM
  echo "run: stopping agent and server"
  kill -TERM "$agent_pid" "$server_pid" 2>/dev/null || true
  wait "$agent_pid" "$server_pid" 2>/dev/null || true
  exit 0
}
trap stop INT TERM

echo "run: server http://127.0.0.1:$server_port (pid $server_pid)"
echo "run: agent  http://127.0.0.1:$agent_port (pid $agent_pid)"
echo "run: Ctrl-C stops both"
wait
