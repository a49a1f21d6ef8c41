#!/bin/sh
# bench/nft/run.sh - opsbell's nftables benchmark: 1,000 allowlist entries
# applied in one nftables transaction (`opsbell enforce nft apply`) against
# 1,000 `nft add element` invocations, in a fresh network namespace (root).
# Options: bench/nft/run.sh --help
set -eu
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 bench/nft/run.py "$@"
