#!/usr/bin/env bash
# Load benchmark: one Caddy process, two loopback sites (plain respond of a
# 1 KiB body, and the same behind tag_cache), driven by wrk in alternating
# rounds so both see the same machine state. Reports requests/s of each, the
# ratio cached/plain, errors, and the RSS before and after a HIT soak.
#
#   bash bench/run.sh                 # 5 rounds of 10 s each, 60 s soak
#   ROUNDS=3 ROUND_SECONDS=5 SOAK_SECONDS=20 bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
ROUND_SECONDS=${ROUND_SECONDS:-10}
SOAK_SECONDS=${SOAK_SECONDS:-60}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}

command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }

out=$(mktemp -d)
trap 'kill "$caddy_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$out"' EXIT
go build -o "$out/caddy" ./cmd/caddy

export BENCH_ADMIN=$((20000 + RANDOM % 10000))
export BENCH_PLAIN=$((BENCH_ADMIN + 1))
export BENCH_CACHED=$((BENCH_ADMIN + 2))
export BENCH_BODY=$(head -c 1024 /dev/zero | tr '\0' 'x')
"$out/caddy" run --config bench/Caddyfile --adapter caddyfile >"$out/caddy.log" 2>&1 &
caddy_pid=$!
for _ in $(seq 50); do
	curl -fsS "http://127.0.0.1:$BENCH_PLAIN/" >/dev/null 2>&1 && break
	sleep 0.1
done
plain="http://127.0.0.1:$BENCH_PLAIN/"
cached="http://127.0.0.1:$BENCH_CACHED/"
curl -fsS -o /dev/null "$cached"
status=$(curl -fsS -D - -o /dev/null "$cached" | tr -d '\r' | grep -i '^cache-status:' || true)
case "$status" in
*"; hit"*) ;;
*) echo "the cached site does not answer HITs: $status" >&2; exit 1 ;;
esac

# wrk_rps <url> <seconds> prints "<requests/s> <errors>"
wrk_rps() {
	local report
	report=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2s" --latency "$1")
	local rps errors
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$report")
	errors=$(awk '/Socket errors:/ {gsub(",",""); print $4+$6+$8+$10} /Non-2xx or 3xx responses:/ {print $5}' <<<"$report" | awk '{s+=$1} END {print s+0}')
	echo "$rps $errors"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$caddy_pid/status"; }

echo "warm-up"
wrk_rps "$plain" 2 >/dev/null
wrk_rps "$cached" 2 >/dev/null

plain_sum=0 cached_sum=0 errors=0
printf '%-6s %14s %14s %8s\n' round plain_rps cached_rps ratio
for round in $(seq "$ROUNDS"); do
	read -r p pe < <(wrk_rps "$plain" "$ROUND_SECONDS")
	read -r c ce < <(wrk_rps "$cached" "$ROUND_SECONDS")
	errors=$((errors + pe + ce))
	plain_sum=$(awk -v a="$plain_sum" -v b="$p" 'BEGIN {print a+b}')
	cached_sum=$(awk -v a="$cached_sum" -v b="$c" 'BEGIN {print a+b}')
	printf '%-6s %14s %14s %8.3f\n' "$round" "$p" "$c" "$(awk -v a="$c" -v b="$p" 'BEGIN {print a/b}')"
done
ratio=$(awk -v a="$cached_sum" -v b="$plain_sum" 'BEGIN {printf "%.3f", a/b}')
echo "mean plain $(awk -v s="$plain_sum" -v n="$ROUNDS" 'BEGIN {printf "%.0f", s/n}') req/s, cached $(awk -v s="$cached_sum" -v n="$ROUNDS" 'BEGIN {printf "%.0f", s/n}') req/s, ratio cached/plain $ratio, errors $errors"

rss_before=$(rss_kib)
read -r soak_rps soak_errors < <(wrk_rps "$cached" "$SOAK_SECONDS")
rss_after=$(rss_kib)
echo "HIT soak ${SOAK_SECONDS}s: $soak_rps req/s, errors $soak_errors, RSS before ${rss_before} KiB, after ${rss_after} KiB"
hits=$(curl -fsS "http://127.0.0.1:$BENCH_ADMIN/tag_cache/stats" | grep -o '"hits":[0-9]*')
echo "tag_cache stats: $hits"
if [ "$errors" -ne 0 ] || [ "$soak_errors" -ne 0 ]; then
	echo "errors during the benchmark" >&2
	exit 1
fi
