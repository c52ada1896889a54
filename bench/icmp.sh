#!/bin/sh
# ICMP benchmark of the real daemon: `netkpi run` pinging N devices, against
# fping pinging the same targets with the same number of echoes, in the same
# run, inside a private network namespace.
#
#   bench/icmp.sh [N=1000] [DURATION_S=60]        (e.g. N=2000, N=10000)
#   SKIP_REFERENCE=1 INTERVAL_S=60 bench/icmp.sh 100000 130   (100,000 targets)
#   NETKPI_BIN=/path/to/netkpi bench/icmp.sh 2000    (another build, e.g. a
#                                                     before figure; no cargo)
#   SCRAPE_EVERY_S=15 ...  a concurrent scraper reads /metrics every 15 s
#                       through the run, as Prometheus would: its cost is in
#                       netkpi's CPU figures (compare with a run without)
#   INVENTORY=csv ...   the devices come from a CSV inventory (devices.csv,
#                       one row each) instead of one [[device]] table each:
#                       how a config of 100,000 devices is written, and
#                       reading it costs far less memory than 100,000 tables
#
# Devices are N loopback addresses from 127.1.0.1 on (every 127/8 address
# answers on Linux), role access_egress, `icmp = {}` with interval
# INTERVAL_S (default 10 s), timeout 1s, count 3. netkpi runs DURATION_S seconds with its
# ledger in a temporary data_dir and listens on 127.0.0.1:9731 (inside the
# namespace), then gets SIGTERM. Everything is measured from outside the
# process, just before SIGTERM so that shutdown is not counted:
#   - CPU: utime + stime from /proc/PID/stat (also at the moment /healthz first
#     answers, reported as the startup cost, and per thread name);
#   - peak RSS: VmHWM from /proc/PID/status;
#   - echoes sent, replies received, packets ignored: the daemon's /metrics;
#     replies lost = the echoes that timed out (a reply later than the
#     timeout counts as lost, and shows as ignored "late"); sent - received
#     - lost is what was in flight as the scrape read the counters (a build
#     without the timed-out counter: lost = sent - received, in flight
#     included);
#   - kernel drops on the daemon's raw sockets: /proc/net/raw{,6};
#   - one /metrics scrape: wall time (curl) and the daemon's CPU for it.
# Then, after netkpi has exited (so that neither sees the other's replies on
# its raw socket), fping pings the same targets as its users run it, in its
# cheapest sensible mode: burst (-i 0: one pass over all targets as fast as
# it can), the same number of echoes per target (-C) at the same per-target
# pace (-p = interval / count), the same timeout (-t); CPU and peak RSS from
# /usr/bin/time. Spacing fping's sends out (-i) would make it pay a wakeup
# per echo and flatter netkpi. The figure to compare is the ratio of CPU per
# echo: absolute figures drift between machines and runs.
#
# Needs root (unshare, raw sockets), cargo (unless NETKPI_BIN is given),
# fping, curl, /usr/bin/time.
set -eu

N=${1:-1000}
DURATION=${2:-60}
INTERVAL=${INTERVAL_S:-10}
COUNT=3
TIMEOUT_MS=1000
LISTEN=127.0.0.1:9731

if [ "${NETKPI_BENCH_NETNS:-}" != 1 ]; then
    case $N in '' | *[!0-9]*) echo "bench/icmp.sh: N must be a number" >&2; exit 2 ;; esac
    case $DURATION in '' | *[!0-9]*) echo "bench/icmp.sh: DURATION_S must be a number" >&2; exit 2 ;; esac
    case $INTERVAL in '' | *[!0-9]*) echo "bench/icmp.sh: INTERVAL_S must be a number" >&2; exit 2 ;; esac
    case ${SCRAPE_EVERY_S:-0} in '' | *[!0-9]*) echo "bench/icmp.sh: SCRAPE_EVERY_S must be a number" >&2; exit 2 ;; esac
    if [ "$N" -lt 1 ] || [ "$N" -gt 250000 ] || [ "$INTERVAL" -lt 2 ] || [ "$INTERVAL" -gt 600 ] \
        || [ "$DURATION" -lt "$INTERVAL" ] || [ "$DURATION" -gt 3600 ]; then
        echo "bench/icmp.sh: need 1 <= N <= 250000, 2 <= INTERVAL_S <= 600 and INTERVAL_S <= DURATION_S <= 3600" >&2
        exit 2
    fi
    for tool in unshare ip fping curl getconf /usr/bin/time; do
        command -v "$tool" >/dev/null || { echo "bench/icmp.sh: $tool is required" >&2; exit 1; }
    done
    if [ -z "${NETKPI_BIN:-}" ]; then
        repo=$(cd "$(dirname "$0")/.." && pwd)
        target_dir=${CARGO_TARGET_DIR:-$repo/target}
        (cd "$repo" && CARGO_TARGET_DIR=$target_dir cargo build --quiet --release --locked --bin netkpi)
        NETKPI_BIN=$target_dir/release/netkpi
    fi
    exec unshare --net env NETKPI_BENCH_NETNS=1 NETKPI_BIN="$NETKPI_BIN" sh "$0" "$@"
fi

ip link set lo up
SCRAPE_EVERY=${SCRAPE_EVERY_S:-0}
TCK=$(getconf CLK_TCK)
work=$(mktemp -d)
pid=
scraper=
stop_scraper() {
    if [ -n "$scraper" ]; then kill "$scraper" 2>/dev/null || true; wait "$scraper" 2>/dev/null || true; scraper=; fi
}
cleanup() {
    stop_scraper
    if [ -n "$pid" ] && [ -e "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/lib.sh"
scrape() { curl -fsS -o "$1" -w '%{time_total}' --max-time 30 "http://$LISTEN/metrics"; }

# 62,500 addresses per second octet: 127.1.0.1 ... 127.1.249.250, 127.2.0.1 ...
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "127.%d.%d.%d\n", 1 + int(i / 62500), int(i / 250) % 250, i % 250 + 1 }' > "$work/targets"
{
    printf '[daemon]\nlisten = "%s"\ndata_dir = "%s/data"\n\n' "$LISTEN" "$work"
    printf '[defaults]\nicmp = { interval = "%ss", timeout = "%sms", count = %s }\n' "$INTERVAL" "$TIMEOUT_MS" "$COUNT"
    if [ "${INVENTORY:-}" = csv ]; then
        printf '\n[[inventory]]\nfile = "devices.csv"\nkind = "device"\ntemplate = { icmp = {} }\n'
    else
        awk '{ printf "\n[[device]]\nname = \"acc-%05d\"\nrole = \"access_egress\"\naddress = \"%s\"\nicmp = {}\n", NR, $1 }' "$work/targets"
    fi
} > "$work/netkpi.toml"
if [ "${INVENTORY:-}" = csv ]; then
    { echo "name,role,address"; awk '{ printf "acc-%05d,access_egress,%s\n", NR, $1 }' "$work/targets"; } > "$work/devices.csv"
fi
"$NETKPI_BIN" check --config "$work/netkpi.toml" > /dev/null

# --- netkpi -----------------------------------------------------------------
start_netkpi
: > "$work/scrapes"
if [ "$SCRAPE_EVERY" -gt 0 ]; then
    # Bounded: at most one scrape per SCRAPE_EVERY_S seconds, for the run.
    (
        while :; do
            curl -fsS -o /dev/null --max-time 30 "http://$LISTEN/metrics" && echo ok >> "$work/scrapes"
            sleep "$SCRAPE_EVERY"
        done
    ) &
    scraper=$!
fi

# Steady state: from WARM seconds on, when every device has had its first
# round (phase < INTERVAL, a round lasts < 4 s) and its first transition
# (unknown -> up, one ledger write per device) is behind it.
WARM=$((INTERVAL + 5))
warm=
if [ "$DURATION" -ge $((WARM + INTERVAL)) ]; then
    sleep_until "$WARM"
    warm=$(now)
    warm_rss_kb=$(status_kb "$pid" VmRSS)
    thread_ticks > "$work/threads.warm"
    warm_ticks=$(ticks "/proc/$pid")
    scrape "$work/metrics.warm" > /dev/null
    warm_ticks_after=$(ticks "/proc/$pid")
    warm_sent=$(metric netkpi_icmp_echoes_sent_total "$work/metrics.warm")
fi

sleep_until "$DURATION"
stop_scraper
scrapes=$(wc -l < "$work/scrapes")
# Just before SIGTERM: CPU first (so that the scrape below is not counted in
# the per-echo figure), then per-thread CPU, kernel drops, the scrape, RSS.
end=$(now)
end_ticks=$(ticks "/proc/$pid")
thread_ticks > "$work/threads"
end_rss_kb=$(status_kb "$pid" VmRSS)
raw_drops=$(cat /proc/net/raw /proc/net/raw6 2>/dev/null | awk '$1 ~ /^[0-9]+:$/ { d += $NF } END { print d + 0 }')
scrape_s=$(scrape "$work/metrics.txt")
scrape_ticks=$(ticks "/proc/$pid")
hwm_kb=$(status_kb "$pid" VmHWM)
threads=$(wc -l < "$work/threads")

kill -TERM "$pid"
i=0
while [ -e "/proc/$pid" ] && [ "$(state "$pid")" != Z ] && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
stop=$(now)
[ $i -lt 300 ] || { echo "bench/icmp.sh: netkpi did not stop within 30 s of SIGTERM" >&2; kill -KILL "$pid"; }
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || { echo "bench/icmp.sh: netkpi exited with status $rc; its log:" >&2; tail -n 20 "$work/netkpi.log" >&2; exit 1; }

nk_sent=$(metric netkpi_icmp_echoes_sent_total "$work/metrics.txt")
nk_recv=$(metric netkpi_icmp_replies_received_total "$work/metrics.txt")
if grep -q '^netkpi_icmp_echoes_timed_out_total ' "$work/metrics.txt"; then
    nk_lost=$(metric netkpi_icmp_echoes_timed_out_total "$work/metrics.txt")
else
    nk_lost=$((nk_sent - nk_recv))
fi
ignored=$(awk -F'[{}" ]+' '/^netkpi_icmp_packets_ignored_total\{/ { for (i = 1; i < NF; i++) if ($i == "reason=") r = $(i + 1); printf "%s%s=%d", sep, r, $NF; sep = " " }' "$work/metrics.txt")
timeouts=$(awk '/^netkpi_poll_errors_total\{/ && /prober="icmp"/ && /reason="timeout"/ { v = $NF } END { printf "%d", v }' "$work/metrics.txt")
scrape_lines=$(wc -l < "$work/metrics.txt")
scrape_bytes=$(wc -c < "$work/metrics.txt")

# --- fping ------------------------------------------------------------------
# SKIP_REFERENCE=1 runs netkpi alone: fping cannot take more than 65,535
# targets at once (its sequence numbers run out), so the 100,000-target mode
# has no reference.
if [ "${SKIP_REFERENCE:-}" = 1 ]; then
    ECHOES=0 PERIOD_MS=0 fp_sent=0 fp_lost=0
    echo "0 0 0" > "$work/fping.time"
    fp_start=$(now) fp_end=$fp_start
else
    # As many echoes per target as netkpi sent on average (each device starts at
    # a phase in [0, INTERVAL), so its last round may not have finished).
    ECHOES=$(awk -v s="$nk_sent" -v n="$N" 'BEGIN { e = int(s / n + 0.5); print (e > 0 ? e : 1) }')
    # Burst mode, as fping's users run it: every PERIOD_MS one pass over all
    # targets with no gap between them (-i 0), so each target gets an echo every
    # interval / count, as from netkpi.
    PERIOD_MS=$(( INTERVAL * 1000 / COUNT ))
    fp_start=$(now)
    /usr/bin/time -f "%U %S %M" -o "$work/fping.time" \
        fping -q -C "$ECHOES" -i 0 -p "$PERIOD_MS" -t "$TIMEOUT_MS" -f "$work/targets" 2> "$work/fping.out" || true
    fp_end=$(now)
    fp_sent=$(awk -v e="$ECHOES" '$2 == ":" { s += e } END { print s + 0 }' "$work/fping.out")
    fp_lost=$(awk '$2 == ":" { for (i = 3; i <= NF; i++) if ($i == "-") l++ } END { print l + 0 }' "$work/fping.out")
    [ "$fp_sent" -gt 0 ] || { echo "bench/icmp.sh: fping printed no results:" >&2; tail -n 5 "$work/fping.out" >&2; exit 1; }
fi

# --- report -----------------------------------------------------------------
log_warnings=$(grep -c -E ' (WARN|ERROR) ' "$work/netkpi.log" || true)
awk -v n="$N" -v d="$DURATION" -v interval="$INTERVAL" -v count="$COUNT" -v timeout="$TIMEOUT_MS" \
    -v tck="$TCK" -v t0="$t0" -v ready="$ready" -v end="$end" -v stop="$stop" \
    -v ready_ticks="$ready_ticks" -v end_ticks="$end_ticks" -v scrape_ticks="$scrape_ticks" \
    -v warm="$warm" -v warm_ticks="${warm_ticks:-0}" -v warm_ticks_after="${warm_ticks_after:-0}" -v warm_sent="${warm_sent:-0}" \
    -v ready_rss="$ready_rss_kb" -v warm_rss="${warm_rss_kb:-0}" -v end_rss="$end_rss_kb" -v hwm_kb="$hwm_kb" \
    -v nk_sent="$nk_sent" -v nk_recv="$nk_recv" -v nk_lost="$nk_lost" -v nthreads="$threads" -v log_warnings="$log_warnings" \
    -v ignored="$ignored" -v timeouts="$timeouts" -v raw_drops="$raw_drops" \
    -v scrape_every="$SCRAPE_EVERY" -v scrapes="$scrapes" -v scrape_s="$scrape_s" -v scrape_lines="$scrape_lines" -v scrape_bytes="$scrape_bytes" \
    -v fp_echoes="$ECHOES" -v fp_period="$PERIOD_MS" -v fp_sent="$fp_sent" -v fp_lost="$fp_lost" -v fp_wall="$(awk -v a="$fp_start" -v b="$fp_end" 'BEGIN { print b - a }')" \
    -v fp_time="$(cat "$work/fping.time")" -v threads_end="$work/threads" -v threads_warm="$work/threads.warm" '
    function by_name(title, with_warm, echoes,   line, f, tid, name, t, c, w, wc, by, nt, cs, out) {
        while ((getline line < threads_end) > 0) {
            split(line, f, " "); tid = f[1]; name[tid] = f[2]; t[tid] = f[3]; c[tid] = f[4]
        }
        close(threads_end)
        if (with_warm) while ((getline line < threads_warm) > 0) { split(line, f, " "); w[f[1]] = f[3]; wc[f[1]] = f[4] }
        close(threads_warm)
        for (tid in t) {
            by[name[tid]] += t[tid] - (with_warm ? w[tid] : 0); nt[name[tid]]++
            cs += c[tid] - (with_warm ? wc[tid] : 0)
        }
        out = ""
        for (tid in by) out = out sprintf(" %s(x%d)=%.2fs", tid, nt[tid], by[tid] / tck)
        printf "netkpi CPU by live thread, %s:%s; context switches %d (%.2f per echo)\n", title, out, cs, echoes ? cs / echoes : 0
    }
    BEGIN {
        split(fp_time, ft, " ")
        nk_cpu = end_ticks / tck; st_cpu = ready_ticks / tck; fp_cpu = ft[1] + ft[2]
        nk_per = nk_sent ? nk_cpu / nk_sent * 1000 : 0
        fp_per = fp_sent ? fp_cpu / fp_sent * 1000 : 0
        if (fp_sent > 0) printf "fping reference: fping -q -C %d -i 0 -p %d -t %d (burst mode)\n", fp_echoes, fp_period, timeout
        printf "netkpi ICMP benchmark: N=%d devices, %d s, interval %ds, count %d, timeout %dms, private netns, loopback\n", n, d, interval, count, timeout
        if (scrape_every > 0) printf "concurrent scrape of /metrics every %d s: %d scrapes during the run, their CPU counted in netkpi'"'"'s figures\n", scrape_every, scrapes
        else print "no concurrent scrape (SCRAPE_EVERY_S=15 adds one)"
        printf "%-7s %11s %13s %12s %7s %17s %11s\n", "", "echoes_sent", "echoes/target", "replies_lost", "cpu_s", "cpu_s_per_1k_echo", "peak_rss_mb"
        printf "%-7s %11d %13.1f %12d %7.2f %17.4f %11.1f\n", "netkpi", nk_sent, nk_sent / n, nk_lost, nk_cpu, nk_per, hwm_kb / 1024
        if (fp_sent > 0) printf "%-7s %11d %13.1f %12d %7.2f %17.4f %11.1f\n", "fping", fp_sent, fp_sent / n, fp_lost, fp_cpu, fp_per, ft[3] / 1024
        if (fp_per > 0) printf "cpu per echo, netkpi/fping: %.2f (whole run up to SIGTERM, startup included)\n", nk_per / fp_per
        if (warm != "" && nk_sent > warm_sent && fp_per > 0) {
            sc = (end_ticks - warm_ticks_after) / tck; se = nk_sent - warm_sent
            printf "  steady state, %.0f s to %.0f s (first round and its ledger writes behind): %d echoes, %.2f s CPU, %.4f s per 1k echoes, netkpi/fping %.2f\n", warm - t0, end - t0, se, sc, sc / se * 1000, sc / se * 1000 / fp_per
        }
        printf "netkpi startup: healthy after %.2f s, %.2f s CPU; stopped %.2f s after SIGTERM; %d warnings/errors logged\n", ready - t0, st_cpu, stop - end, log_warnings
        printf "netkpi RSS: %.1f MB when healthy", ready_rss / 1024
        if (warm != "") printf ", %.1f MB at %.0f s", warm_rss / 1024, warm - t0
        printf ", %.1f MB at %.0f s before the scrape, peak (VmHWM) %.1f MB after it\n", end_rss / 1024, end - t0, hwm_kb / 1024
        printf "netkpi /metrics scrape at N=%d: %.3f s wall, %.2f s daemon CPU, %d lines, %.2f MB\n", n, scrape_s, (scrape_ticks - end_ticks) / tck, scrape_lines, scrape_bytes / 1e6
        printf "netkpi echoes in flight as the counters were read: %d (sent - received - lost)\n", nk_sent - nk_recv - nk_lost
        printf "netkpi ignored packets: %s; failed rounds (timeout): %d; kernel drops on its raw sockets: %d\n", ignored, timeouts, raw_drops
        by_name("whole run", 0, nk_sent)
        if (warm != "") by_name("steady state", 1, nk_sent - warm_sent)
        if (fp_sent > 0) printf "fping: %.1f s wall, %.2f s user, %.2f s system\n", fp_wall, ft[1], ft[2]
    }'
