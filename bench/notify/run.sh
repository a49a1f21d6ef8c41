#!/bin/sh
# bench/notify/run.sh - opsbell's notification-latency benchmark: 1,000 alerts
# at 200/s, each paging one user through the log provider and through the
# webhook provider to a local receiver, on SQLite and on PostgreSQL; latency
# from the alert's 2xx to the provider call (see bench/README.md).
# Options: bench/notify/run.sh --help
set -eu
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 bench/notify/run.py "$@"
