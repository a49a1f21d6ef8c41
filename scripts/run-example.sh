#!/usr/bin/env bash
# `make run`: serve the example configuration on the embedded SQLite store.
set -euo pipefail
bin=${1:-build/dev/opsbell}
config=examples/opsbell.yaml
"$bin" check-config -q -c "$config"
url=http://127.0.0.1:8080
cat <<MSG
opsbell is starting at $url  (configuration: $config, store: examples/data/opsbell.db)
  health:   curl $url/healthz
  metrics:  curl $url/metrics
  a token:  $bin token create --name me --scope admin -c $config
Stop it with Ctrl-C; reload the configuration with: kill -HUP <pid>
MSG
exec "$bin" serve -c "$config"
