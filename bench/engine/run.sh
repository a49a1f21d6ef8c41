#!/bin/sh
# bench/engine/run.sh - opsbell's escalation-engine benchmark: 100,000 open
# incidents with staggered due times, on SQLite and on PostgreSQL, plus the
# time to answer `oncall` (see bench/README.md). Options: bench/engine/run.sh --help
set -eu
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 bench/engine/run.py "$@"
