#!/bin/sh
# ICMP prober benchmark: netkpi's IcmpPinger against fping, same targets,
# same number of echoes, same run, inside a private network namespace.
#
#   bench/icmp.sh [TARGETS=1000] [DURATION_S=60]
#
# Targets are N loopback addresses from 127.1.0.1 on (every 127/8 address
# answers on Linux). netkpi: release build of src/bin/icmp-bench.rs, one task
# per target starting at a random offset, a round of 3 echoes 1 s apart every
# 10 s, timeout 1 s. fping: the same number of echoes per target spread over
# the same time (-C rounds*3, -p 10000/3 ms). The two run one after the
# other so neither sees the other's replies on its raw socket. CPU is
# user+system from /usr/bin/time; needs root, unshare, fping, time.
set -eu

N=${1:-1000}
DURATION=${2:-60}
INTERVAL=10
COUNT=3
SPACING_MS=1000
TIMEOUT_MS=1000

if [ "${NETKPI_BENCH_NETNS:-}" != 1 ]; then
    repo=$(cd "$(dirname "$0")/.." && pwd)
    target_dir=${CARGO_TARGET_DIR:-$repo/target}
    (cd "$repo" && CARGO_TARGET_DIR=$target_dir cargo build --quiet --release --bin icmp-bench)
    for tool in unshare fping /usr/bin/time; do
        command -v "$tool" >/dev/null || { echo "bench/icmp.sh: $tool is required" >&2; exit 1; }
    done
    exec unshare --net env NETKPI_BENCH_NETNS=1 BENCH_BIN="$target_dir/release/icmp-bench" sh "$0" "$@"
fi

ip link set lo up
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "127.1.%d.%d\n", int(i / 250), i % 250 + 1 }' > "$work/targets"

# Each target starts at an offset in [0, INTERVAL) and runs a round while
# start + k * INTERVAL < DURATION: ceil(DURATION / INTERVAL) rounds.
ROUNDS=$(( (DURATION + INTERVAL - 1) / INTERVAL ))
ECHOES=$(( ROUNDS * COUNT ))
PERIOD_MS=$(( INTERVAL * 1000 / COUNT ))
# fping sends one echo to every target per period, -i apart: fit a pass in
# half a period.
GAP_MS=$(awk -v p="$PERIOD_MS" -v n="$N" 'BEGIN { g = p / n / 2; if (g > 10) g = 10; printf "%.3f", g }')

echo "targets=$N duration=${DURATION}s interval=${INTERVAL}s echoes/round=$COUNT echoes/target=$ECHOES"

/usr/bin/time -f "%U %S %M" -o "$work/netkpi.time" \
    "$BENCH_BIN" "$work/targets" "$DURATION" "$INTERVAL" "$COUNT" "$SPACING_MS" "$TIMEOUT_MS" > "$work/netkpi.out"
/usr/bin/time -f "%U %S %M" -o "$work/fping.time" \
    fping -q -C "$ECHOES" -p "$PERIOD_MS" -i "$GAP_MS" -t "$TIMEOUT_MS" -f "$work/targets" 2> "$work/fping.out" || true

echo "netkpi: $(cat "$work/netkpi.out")"
awk -v echoes="$ECHOES" '
    FNR == NR { nk_u = $1; nk_s = $2; nk_rss = $3; next }
    FILENAME ~ /netkpi.out$/ {
        for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "echoes_sent") nk_sent = kv[2]; if (kv[1] == "lost") nk_lost = kv[2] }
        next
    }
    FILENAME ~ /fping.time$/ { fp_u = $1; fp_s = $2; fp_rss = $3; next }
    $2 == ":" { fp_sent += echoes; for (i = 3; i <= NF; i++) if ($i == "-") fp_lost++ }
    END {
        nk_cpu = nk_u + nk_s; fp_cpu = fp_u + fp_s
        nk_per = nk_sent ? nk_cpu / nk_sent * 1000 : 0
        fp_per = fp_sent ? fp_cpu / fp_sent * 1000 : 0
        printf "%-7s %12s %12s %10s %18s %12s\n", "", "echoes_sent", "replies_lost", "cpu_s", "cpu_s_per_1k_echo", "peak_rss_mb"
        printf "%-7s %12d %12d %10.2f %18.4f %12.1f\n", "netkpi", nk_sent, nk_lost, nk_cpu, nk_per, nk_rss / 1024
        printf "%-7s %12d %12d %10.2f %18.4f %12.1f\n", "fping", fp_sent, fp_lost, fp_cpu, fp_per, fp_rss / 1024
        if (fp_per > 0) printf "cpu per echo, netkpi/fping: %.2f\n", nk_per / fp_per
    }
' "$work/netkpi.time" "$work/netkpi.out" "$work/fping.time" "$work/fping.out"
