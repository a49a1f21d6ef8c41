#!/bin/sh
# bench/keys/run.sh - AuthorizedKeysCommand latency: the whole
# `opsbell keys authorized-keys USER` process with 10,000 users and 30,000
# keys in the cache, 1,000 runs with random users (see bench/README.md).
# Options: bench/keys/run.sh --help
set -eu
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 bench/keys/run.py "$@"
