#!/usr/bin/env bash
# Builds ruckus and runs every test: the unit and integration tests
# (warnings are errors), the unit tests again under valgrind, the whole suite
# again under AddressSanitizer + UndefinedBehaviorSanitizer, and each libFuzzer
# target for a fixed time from its seed corpus. Installs what it needs first.
#
#   scripts/test.sh                 everything (what CI runs)
#   RK_FUZZ_SECONDS=5 scripts/test.sh   shorter fuzzing
#   RK_STAGES="build test" scripts/test.sh  only some stages
#     (stages: deps format build test web valgrind asan fuzz)
#   The web stage runs the dashboard's browser tests (tests/web) in headless
#   Chromium and validates the OpenAPI documents; `npm ci` installs
#   playwright-core and the validator first when either is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)
stages=${RK_STAGES:-"deps format build test web valgrind asan fuzz"}
fuzz_seconds=${RK_FUZZ_SECONDS:-20}
passed=0
failed=0

has() { [[ " $stages " == *" $1 "* ]]; }
# Each stage's wall time is printed when the next starts (and at the end):
# CI's budget is 45 minutes for all of them.
stage_name=""
stage_t0=$SECONDS
stage_done() {
  if [ -n "$stage_name" ]; then
    printf '(%s: %d s)\n' "$stage_name" $((SECONDS - stage_t0))
  fi
  stage_name=""
}
stage() {
  stage_done
  stage_name="$1"
  stage_t0=$SECONDS
  printf '\n==== %s ====\n' "$*"
}

# Runs ctest in dir and adds its counts to the totals.
run_ctest() {
  local dir=$1; shift
  local log
  log=$(mktemp)
  set +e
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  local line total nfail
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1 || true)
  rm -f "$log"
  if [ -n "$line" ]; then
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    nfail=$(sed -E 's/.*passed, ([0-9]+) tests failed.*/\1/' <<<"$line")
    passed=$((passed + total - nfail))
    failed=$((failed + nfail))
  elif [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
  fi
  return "$rc"
}

# Runs "$1 ARG" for each further ARG, $jobs at once (valgrind and libFuzzer
# use one core each), and waits for all; each run records its own result.
run_each() {
  local fn=$1 running=0 arg
  shift
  for arg in "$@"; do
    "$fn" "$arg" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
      wait -n || true
      running=$((running - 1))
    fi
  done
  wait || true
}

finish() {
  local rc=$?
  # A stage that stopped the script (a failed build, say) counts as a failure
  # even when no test runner had counted one.
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1
  fi
  stage_done
  echo
  echo "ci: $passed passed, $failed failed ($SECONDS s)"
  exit "$rc"
}
trap finish EXIT

if has deps; then
  stage "dependencies"
  bash scripts/deps.sh
fi

if has format; then
  stage "format (clang-format, the committed .clang-format)"
  bad=()
  while IFS= read -r f; do
    bad+=("$f")
  done < <( (git ls-files '*.c' '*.h' 2>/dev/null || find lib server agent cli tests fuzz bench -name '*.[ch]') |
    xargs -P"$jobs" -I{} sh -c 'clang-format --dry-run -Werror "$1" >/dev/null 2>&1 || echo "$1"' _ {})
  if [ ${#bad[@]} -gt 0 ]; then
    echo "not formatted (run: clang-format -i FILE): ${bad[*]}"
    failed=$((failed + 1))
    exit 1
  fi
  echo "format ok"
  passed=$((passed + 1))
fi

if has build; then
  stage "build (gcc, -Werror)"
  cmake -S . -B build -DRK_WERROR=ON >/dev/null
  cmake --build build -j"$jobs"
fi

if has test; then
  stage "tests"
  run_ctest build
fi

if has web; then
  stage "dashboard in headless Chromium"
  if [ ! -d node_modules/playwright-core ] ||
     [ ! -d node_modules/@seriousme/openapi-schema-validator ]; then
    npm ci --no-audit --no-fund
  fi
  mkdir -p build
  set +e
  RK_BIN_DIR="$root/build/bin" node --test --test-reporter=tap tests/web/ 2>&1 | tee build/web-tests.log
  web_rc=${PIPESTATUS[0]}
  set -e
  web_pass=$(grep -E '^# pass [0-9]+' build/web-tests.log | awk '{print $3}' | tail -1)
  web_fail=$(grep -E '^# fail [0-9]+' build/web-tests.log | awk '{print $3}' | tail -1)
  passed=$((passed + ${web_pass:-0}))
  failed=$((failed + ${web_fail:-0}))
  if [ "$web_rc" -ne 0 ] && [ "${web_fail:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
  [ "$web_rc" -eq 0 ]
fi

if has valgrind; then
  stage "unit tests under valgrind"
  vg_fail=0
  vg_count=0
  # Each program writes its log and exit code beside it (run_each).
  vg_one() {
    local t=$1 rc=0
    rm -f "build/$(basename "$t").vg.rc"
    RK_UNDER_VALGRIND=1 RK_BIN_DIR="$root/build/bin" RK_SOURCE_DIR="$root" valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
      --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
      --suppressions="$root/tests/valgrind.supp" "$t" >"build/$(basename "$t").vg.log" 2>&1 || rc=$?
    echo "$rc" >"build/$(basename "$t").vg.rc"
  }
  vg_list=()
  for mod in $(ls lib); do
    for t in build/tests/"${mod}"_test_*; do
      [ -x "$t" ] && vg_list+=("$t")
    done
  done
  run_each vg_one "${vg_list[@]}"
  for t in "${vg_list[@]}"; do
    vg_count=$((vg_count + 1))
    if [ "$(cat "build/$(basename "$t").vg.rc" 2>/dev/null)" = 0 ]; then
      echo "valgrind ok   $(basename "$t")"
      passed=$((passed + 1))
    else
      echo "valgrind FAIL $(basename "$t")"
      cat "build/$(basename "$t").vg.log"
      vg_fail=1
      failed=$((failed + 1))
    fi
  done
  echo "valgrind: $vg_count unit test programs checked"
  [ "$vg_fail" -eq 0 ]
fi

if has asan; then
  stage "ASan + UBSan build and tests"
  cmake -S . -B build-asan -DRK_WERROR=ON -DRK_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build-asan -j"$jobs"
  # Memory and undefined behaviour, not scale: RK_TEST_LIGHT runs the scale
  # cases smaller (rk_test_scale in tests/support: 10,000 jobs where the
  # plain stage has 100,000), and the benchmarks' quick runs (label bench)
  # are the plain stage's only.
  RK_TEST_LIGHT=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest build-asan -LE bench
fi

if has fuzz; then
  stage "libFuzzer targets, ${fuzz_seconds}s each"
  CC=clang cmake -S . -B build-fuzz -DRK_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-fuzz -j"$jobs"
  # Each target writes its log and exit code beside it (run_each).
  fuzz_one() {
    local f=$1 name short work rc=0
    name=$(basename "$f")
    short=${name#fuzz_}
    rm -f "build-fuzz/$name.rc"
    work=$(mktemp -d)
    cp -r "fuzz/corpus/$short/." "$work/" 2>/dev/null || true
    "$f" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="build-fuzz/$name-" "$work" >"build-fuzz/$name.log" 2>&1 || rc=$?
    rm -rf "$work"
    echo "$rc" >"build-fuzz/$name.rc"
  }
  fuzz_list=()
  for f in build-fuzz/fuzz/fuzz_*; do
    [ -x "$f" ] && fuzz_list+=("$f")
  done
  run_each fuzz_one "${fuzz_list[@]}"
  fuzz_fail=0
  for f in "${fuzz_list[@]}"; do
    name=$(basename "$f")
    if [ "$(cat "build-fuzz/$name.rc" 2>/dev/null)" = 0 ]; then
      echo "fuzz ok   $name ($(grep -oE 'Done [0-9]+ runs' "build-fuzz/$name.log" | tail -1))"
      passed=$((passed + 1))
    else
      echo "fuzz FAIL $name"
      tail -50 "build-fuzz/$name.log"
      failed=$((failed + 1))
      fuzz_fail=1
    fi
  done
  [ "$fuzz_fail" -eq 0 ]
fi
