#!/usr/bin/env bash
# `make check`: build, then run every test and end with "N passed, N failed".
#
# Stages: developer build (-Werror); unit tests; the store conformance suite
# on SQLite and on a throwaway PostgreSQL; ASan+UBSan build running the unit
# tests and the SQLite conformance suite; libFuzzer targets, briefly; the
# end-to-end tests (pytest) against the real binary.
set -u
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
PYTHON=/usr/bin/python3
work=$(mktemp -d /tmp/opsbell-check.XXXXXX)
chmod 755 "$work"
passed=0
failed=0
skipped=0
pg_dir=""

cleanup() {
  if [[ -n "$pg_dir" ]]; then
    scripts/pg-test.sh stop "$pg_dir" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

note() { printf '\n==> %s\n' "$*"; }

# Count one stage that is a single pass/fail check.
count_one() {
  local name=$1 status=$2
  if [[ $status -eq 0 ]]; then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    failed=$((failed + 1))
    echo "FAILED: $name"
  fi
}

# Run one cmocka binary and add its counts. A crash without a summary counts
# as one failure.
run_cmocka() {
  local bin=$1
  shift
  local out status p f s
  out=$(env "$@" "$bin" 2>&1)
  status=$?
  printf '%s\n' "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p' | tail -n 1)
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s).*/\1/p' | tail -n 1)
  s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s).*/\1/p' | tail -n 1)
  p=${p:-0}
  f=${f:-0}
  skipped=$((skipped + ${s:-0}))
  if [[ $status -ne 0 && $f -eq 0 ]]; then
    f=1
    echo "FAILED: $bin exited with status $status"
  fi
  passed=$((passed + p))
  failed=$((failed + f))
}

run_unit_dir() {
  local dir=$1
  shift
  local t
  for t in "$dir"/tests/unit/test_*; do
    [[ -x "$t" && "$t" != *.d ]] || continue
    run_cmocka "$t" "$@"
  done
}

summary() {
  if [[ $skipped -gt 0 ]]; then
    echo "$passed passed, $failed failed, $skipped skipped"
  else
    echo "$passed passed, $failed failed"
  fi
  [[ $failed -eq 0 ]]
  exit $?
}

note "developer build (-Wall -Wextra -Werror)"
make --no-print-directory -j"$JOBS" BUILD=dev all
status=$?
count_one "developer build" $status
if [[ $status -ne 0 ]]; then
  summary
fi

note "style and static checks (clang-format, cppcheck)"
make --no-print-directory format-check >/dev/null 2>"$work/format.log"
status=$?
[[ $status -eq 0 ]] || head -n 20 "$work/format.log"
count_one "clang-format" $status
make --no-print-directory lint
count_one "cppcheck" $?

note "unit tests"
run_unit_dir build/dev OPSBELL_TEST_TMP="$work"

# Every tests/store/test_* binary is a conformance suite run on both drivers.
run_store_suites() {
  local dir=$1
  shift
  local t
  for t in "$dir"/tests/store/test_*; do
    [[ -x "$t" && "$t" != *.d ]] || continue
    run_cmocka "$t" "$@"
  done
}

note "store conformance: sqlite"
run_store_suites build/dev OPSBELL_TEST_TMP="$work"

note "store conformance: postgresql"
pg_dir="$work/pg"
pg_url=$(scripts/pg-test.sh start "$pg_dir" | tail -n 1)
if [[ "$pg_url" == postgres://* ]]; then
  run_store_suites build/dev OPSBELL_TEST_STORE_URL="$pg_url"
else
  count_one "start a PostgreSQL server for the conformance suite" 1
  pg_url=""
fi

note "sanitizer build (ASan + UBSan)"
make --no-print-directory -j"$JOBS" BUILD=asan all
status=$?
count_one "sanitizer build" $status
if [[ $status -eq 0 ]]; then
  note "unit tests under ASan + UBSan"
  run_unit_dir build/asan OPSBELL_TEST_TMP="$work" ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_store_suites build/asan OPSBELL_TEST_TMP="$work" \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi

note "fuzz targets (libFuzzer, ${FUZZ_SECONDS}s each)"
make --no-print-directory -j"$JOBS" fuzz
status=$?
count_one "fuzz build" $status
if [[ $status -eq 0 ]]; then
  for f in build/fuzz/fuzz_*; do
    [[ -x "$f" && "$f" != *.d && "$f" != *.o ]] || continue
    name=$(basename "$f")
    corpus="$work/corpus-$name"
    mkdir -p "$corpus"
    if [[ -d "fuzz/corpus/$name" ]]; then
      cp -r "fuzz/corpus/$name/." "$corpus/"
    fi
    "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$work/$name-" "$corpus" >"$work/$name.log" 2>&1
    status=$?
    tail -n 3 "$work/$name.log"
    if [[ $status -ne 0 ]]; then
      grep -m 20 -E 'ERROR|SUMMARY|==[0-9]+==' "$work/$name.log" || true
    fi
    count_one "fuzz $name" $status
  done
fi

note "end-to-end tests (pytest)"
junit="$work/e2e.xml"
OPSBELL_BIN="$PWD/build/dev/opsbell" OPSBELL_TEST_PG_URL="$pg_url" \
  "$PYTHON" -m pytest -q -p no:cacheprovider --junitxml="$junit" tests/e2e
status=$?
if [[ -f "$junit" ]]; then
  read -r e_tests e_fail e_err e_skip < <("$PYTHON" - "$junit" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = e = s = 0
for su in suites:
    t += int(su.get("tests", 0)); f += int(su.get("failures", 0))
    e += int(su.get("errors", 0)); s += int(su.get("skipped", 0))
print(t, f, e, s)
PY
)
  passed=$((passed + e_tests - e_fail - e_err - e_skip))
  failed=$((failed + e_fail + e_err))
  skipped=$((skipped + e_skip))
  if [[ $status -ne 0 && $((e_fail + e_err)) -eq 0 ]]; then
    count_one "pytest run" "$status"
  fi
else
  count_one "pytest run" 1
fi

echo
summary
