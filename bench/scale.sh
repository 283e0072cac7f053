#!/usr/bin/env bash
# Scale model of distributed mode (docs/distributed.md): one real
# redis-server, many instances following its invalidation feed with XREAD
# BLOCK (real redisBackends in one process), a steady invalidation rate.
# Reports propagation p50/p99, Redis CPU, network out, per-command cost and
# memory per 1,000 tag records, per point.
#
#   bash bench/scale.sh                                  # 50x5000,25x5000,50x2500, 10 s each
#   SCALE_POINTS=100x1000 SCALE_SECONDS=5 bash bench/scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v redis-server >/dev/null || { echo "redis-server is required (apt-get install -y redis-server)" >&2; exit 1; }
report=${SCALE_REPORT:-$(mktemp)}
# Fifty instances share one heap here; each real one has its own, so the
# collector is given the room fifty heaps would have.
GOGC=${GOGC:-400} CADDYBFF_SCALE_MODEL=1 SCALE_REPORT="$report" go test -count=1 -timeout 20m -run '^TestFeedScaleModel$' ./cache/redis/ >/dev/null
cat "$report"
