#!/usr/bin/env bash
# Adversarial soak (issue 10): builds Caddy with caddy-bff, then runs
# bench/soak against it for SOAK_SECONDS (default 60) with tag_cache's
# max_size at 32 MiB, and prints RSS before/peak/after and the tag clock's
# bytes. Fails when the peak RSS passes max_size + 64 MiB. Loopback only.
#
#   bash bench/soak.sh
#   SOAK_SECONDS=20 WORKERS=8 bash bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/caddy" ./cmd/caddy
go run ./bench/soak -caddy "$out/caddy" -seconds "${SOAK_SECONDS:-60}" -workers "${WORKERS:-16}"
