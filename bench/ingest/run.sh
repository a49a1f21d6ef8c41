#!/bin/sh
# bench/ingest/run.sh - opsbell's ingestion benchmark against Prometheus
# Alertmanager 0.25 (see bench/README.md). Options: bench/ingest/run.sh --help
set -eu
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 bench/ingest/run.py "$@"
