#!/usr/bin/env bash
# Installs the Debian packages that building, running and testing ruckus
# need, only those missing. Safe to run twice. Needs root (or sudo).
#
#   scripts/deps.sh          build + run + test dependencies
#   scripts/deps.sh --run    only what building and running needs
set -euo pipefail

run_pkgs=(
  gcc make cmake pkg-config          # toolchain
  curl                               # scripts/run.sh waits for the server with it
  libmicrohttpd-dev                  # HTTP server (suspendable connections)
  libgnutls28-dev                    # HTTPS certificate and key, re-read on SIGHUP (lib/http/tls.c)
  libcurl4-openssl-dev               # HTTP client (multi interface)
  libjansson-dev                     # JSON
  libsqlite3-dev                     # embedded storage
  libpq-dev                          # the postgresql storage backend (libpq client)
  libarchive-dev                     # zip of a job's artifacts (dlopen'ed by the agent)
  libopenblas-dev                    # GEMM for the compute benchmark (loaded in the child only)
  libgsl-dev                         # t distribution (CDF, quantiles) for result comparisons
  nettle-dev                         # HMAC-SHA256 that signs the server's webhooks
  bubblewrap                         # the job sandbox (lib/isolate/sandbox.c runs bwrap)
)
test_pkgs=(
  libcmocka-dev                      # unit test framework
  clang libclang-rt-14-dev           # libFuzzer and sanitizer runtimes
  clang-format                       # the format stage checks every C file against .clang-format
  valgrind                           # leak checks of the unit tests
  postgresql-15                      # a real server the store tests start (initdb, pg_ctl) for the postgresql backend
  procps psmisc                      # ps/pkill-free process checks in tests
  prometheus                         # promtool checks what GET /metrics answers
  jq                                 # the docs' own examples pipe into it (tests/system/test_doc_examples.c)
  busybox-static                     # tests/isolate builds a small OCI image from its /bin/busybox
  podman runc                        # the container runtime tests/system/test_agent_container.c runs jobs through (runc: crun refuses hybrid cgroups v1)
  openssl                            # tests/system/test_tls.c makes a throwaway CA and certificate
  chromium                           # dashboard end-to-end tests (tests/web, with playwright-core from npm)
  slurmctld slurmd slurm-client munge # a real one-node Slurm tests/system/test_slurm.c starts (pilot agents via sbatch)
)

pkgs=("${run_pkgs[@]}")
if [ "${1:-}" != "--run" ]; then
  pkgs+=("${test_pkgs[@]}")
  # Node.js and npm run the dashboard tests. A machine may already have them
  # from another source (NodeSource's nodejs bundles npm and conflicts with
  # Debian's npm package), so install Debian's only when the commands are
  # missing.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    pkgs+=(nodejs npm)
  fi
fi

# node-llama-cpp (llama.cpp prebuilt for the CPU, from npm) for
# tests/system/test_llm_llama.c, into tests/llama/node_modules; without node
# or the registry that test skips, saying so.
llama_deps() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/llama"
  if [ "${1:-}" != "--run" ] && command -v npm >/dev/null 2>&1 &&
    [ ! -d "$dir/node_modules/node-llama-cpp" ]; then
    # npm 11 refuses `npm ci` when the lock lacks other platforms' optional
    # packages; `npm install --no-save` installs the same locked versions.
    (cd "$dir" && { npm ci --no-audit --no-fund --ignore-scripts ||
      npm install --no-save --no-audit --no-fund --ignore-scripts; }) ||
      echo "deps: node-llama-cpp not installed; tests/system/test_llm_llama.c will skip"
  fi
}

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} packages present"
  llama_deps "$@"
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
llama_deps "$@"
