#!/usr/bin/env bash
# Run every unit test binary of one build directory: scripts/run-unit.sh build/dev
set -u
dir=${1:-build/dev}
rc=0
for t in "$dir"/tests/unit/test_* "$dir"/tests/store/test_*; do
  [[ -x "$t" && ! "$t" == *.d ]] || continue
  "$t" || rc=1
done
exit $rc
