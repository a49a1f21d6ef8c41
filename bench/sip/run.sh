#!/bin/sh
# bench/sip/run.sh - how many concurrent SIP calls one opsbell node sustains:
# N headless baresip callees (5, 10, 20, 40, 80), one incident paging all of
# them at once; calls established, 2xx → CALL_ESTABLISHED, RTP received,
# outcomes, CPU and RSS; stops at the first level that loses a call (see
# bench/README.md).
# Options: bench/sip/run.sh --help
set -eu
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 bench/sip/run.py "$@"
