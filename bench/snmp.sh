#!/bin/sh
# SNMP benchmark of the real daemon: `netkpi run` polling N devices with the
# `if_mib` profile, against prometheus-snmp-exporter making the same number of
# if_mib walks of the same agents, in the same run, inside a private network
# namespace.
#
#   bench/snmp.sh [N=1000] [DURATION_S=60]
#
# Environment (all optional):
#   INTERVAL_S  netkpi's snmp interval; default max(10, N/50) s, i.e. about 50
#               polls/s, which one snmpd serves with room to spare
#   IFACES      interfaces each agent has (its ifTable rows): lo plus
#               IFACES-1 tap devices; default 24 (a 24-port access switch)
#   AGENTS      snmpd processes, on ports 1161.. (devices spread over them
#               round-robin); default 1 (see the snmpd CPU line: it stays far
#               from one core at the default rate)
#   PARALLEL    concurrent curl clients driving snmp_exporter; default 4
#   SKIP_REFERENCE=1  netkpi only (e.g. for the RSS check with N=10000)
#
# The two runs reported for issue 3:
#   bench/snmp.sh 1000 60                                  # CPU ratio
#   SKIP_REFERENCE=1 INTERVAL_S=60 bench/snmp.sh 10000 90  # RSS, every device polled
# (With INTERVAL_S=600 only ~15 % of the devices are polled within 90 s, so
# RSS is far from its steady state; the report extrapolates from the growth
# per polled device.)
#
# The agents: net-snmp snmpd, private config, foreground, listening on
# udp:0.0.0.0:PORT inside the namespace, so that each device has its own
# address (127.1.x.y, all local in the namespace) and every agent answers for
# all of them. snmpd sees the namespace's interfaces: lo and IFACES-1 taps.
#
# netkpi: release build, N `[[device]]`s "sw-00001".. with
# `snmp = { profiles = ["if_mib"], port = P }`, SNMP only (no icmp), v2c,
# community public, max_repetitions 25 (the default), timeout 2s, retries 1.
# It runs DURATION_S seconds with its ledger in a temporary data_dir, then gets
# SIGTERM. Measured from outside the process, just before SIGTERM:
#   - CPU: utime + stime from /proc/PID/stat (also when /healthz first answers,
#     the startup cost; at WARM = INTERVAL + 5 s for a steady-state figure
#     without the first poll of each device, which also writes its first
#     transition, unknown -> up, to the ledger; and per thread name);
#   - peak RSS: VmHWM from /proc/PID/status;
#   - polls done: netkpi_poll_duration_seconds_count{prober="snmp"}; failed
#     polls by reason: netkpi_poll_errors_total{prober="snmp"}; polls expected
#     = N x (time since start) / INTERVAL (each device's first poll is at a
#     hashed phase in [0, INTERVAL));
#   - varbinds: netkpi does not count them on /metrics, so they are taken
#     from the agents' own SNMP-MIB counters (snmpInPkts, snmpInTotalReqVars:
#     varbinds the agent answered, GETBULK included), read before and after
#     each phase: this is what the poller received and decoded, GETBULK
#     overshoot past the end of a column included. The "useful" varbinds are
#     also shown: for netkpi 12 columns (10 metrics plus the ifName and ifAlias
#     lookups) x the ifTable rows, the rows counted from the device's
#     netkpi_if_oper_up samples on /metrics; for snmp_exporter its own
#     snmp_scrape_pdus_returned.
#   - one /metrics scrape: wall time and the daemon's CPU for it (Prometheus
#     scraping netkpi is separate from polling; snmp_exporter does both in one
#     request, so the per-walk figure is also shown with 1/N of a scrape added).
# Then, after netkpi has exited, snmp_exporter (bench/snmp_exporter_if_mib.yml:
# the generator's if_mib module written out with numeric OIDs, since Debian
# ships no usable snmp.yml) is started on 127.0.0.1:9116, warmed up with a few
# scrapes, and driven by PARALLEL curl clients through as many
# /snmp?module=if_mib&target=... requests as netkpi made polls, the targets
# cycling through the same N device addresses and ports; its CPU and VmHWM the
# same way. The figures to compare are the ratios (netkpi / snmp_exporter) of
# CPU per walk and per varbind: absolute figures drift between machines.
#
# Needs root (unshare, tap devices), cargo, snmpd, snmpget (package snmp),
# prometheus-snmp-exporter, curl, ss.
set -eu

N=${1:-1000}
DURATION=${2:-60}
IFACES=${IFACES:-24}
AGENTS=${AGENTS:-1}
PARALLEL=${PARALLEL:-4}
INTERVAL=${INTERVAL_S:-$(( N / 50 > 10 ? N / 50 : 10 ))}
BASE_PORT=1161
LISTEN=127.0.0.1:9731
EXPORTER=127.0.0.1:9116

if [ "${NETKPI_BENCH_NETNS:-}" != 1 ]; then
    for v in "N=$N" "DURATION_S=$DURATION" "IFACES=$IFACES" "AGENTS=$AGENTS" "PARALLEL=$PARALLEL" "INTERVAL_S=$INTERVAL"; do
        case ${v#*=} in '' | *[!0-9]*) echo "bench/snmp.sh: ${v%%=*} must be a number" >&2; exit 2 ;; esac
    done
    if [ "$N" -lt 1 ] || [ "$N" -gt 62500 ] || [ "$DURATION" -lt 10 ] || [ "$DURATION" -gt 3600 ] \
        || [ "$IFACES" -lt 1 ] || [ "$IFACES" -gt 500 ] || [ "$AGENTS" -lt 1 ] || [ "$AGENTS" -gt 16 ] \
        || [ "$PARALLEL" -lt 1 ] || [ "$PARALLEL" -gt 64 ] || [ "$INTERVAL" -lt 1 ] || [ "$INTERVAL" -gt 3600 ]; then
        echo "bench/snmp.sh: need 1 <= N <= 62500, 10 <= DURATION_S <= 3600, 1 <= IFACES <= 500, 1 <= AGENTS <= 16, 1 <= PARALLEL <= 64, 1 <= INTERVAL_S <= 3600" >&2
        exit 2
    fi
    for tool in cargo unshare ip ss snmpd snmpget curl getconf; do
        command -v "$tool" >/dev/null || { echo "bench/snmp.sh: $tool is required" >&2; exit 1; }
    done
    if [ "${SKIP_REFERENCE:-}" != 1 ] && ! command -v prometheus-snmp-exporter >/dev/null; then
        echo "bench/snmp.sh: prometheus-snmp-exporter is required (apt-get install prometheus-snmp-exporter), or SKIP_REFERENCE=1" >&2
        exit 1
    fi
    repo=$(cd "$(dirname "$0")/.." && pwd)
    target_dir=${CARGO_TARGET_DIR:-$repo/target}
    (cd "$repo" && CARGO_TARGET_DIR=$target_dir cargo build --quiet --release --locked --bin netkpi)
    exec unshare --net env NETKPI_BENCH_NETNS=1 NETKPI_BIN="$target_dir/release/netkpi" \
        NETKPI_BENCH_DIR="$repo/bench" INTERVAL_S="$INTERVAL" sh "$0" "$@"
fi

ip link set lo up
i=1
while [ $i -lt "$IFACES" ]; do
    ip tuntap add "port$i" mode tap
    i=$((i + 1))
done
TCK=$(getconf CLK_TCK)
work=$(mktemp -d)
pid=
agent_pids=
exporter_pid=
cleanup() {
    for p in $pid $exporter_pid $agent_pids; do
        if [ -e "/proc/$p" ]; then kill -KILL "$p" 2>/dev/null || true; fi
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/lib.sh"
agents_ticks() { s=0; for p in $agent_pids; do s=$((s + $(ticks "/proc/$p"))); done; echo $s; }
# Sum over the agents of snmpInPkts.0 and snmpInTotalReqVars.0 (each reading
# adds one packet and two varbinds per agent to the next: negligible).
agent_counters() {
    k=0
    while [ $k -lt "$AGENTS" ]; do
        snmpget -v2c -c public -Oqv -t 2 -r 1 "127.0.0.1:$((BASE_PORT + k))" 1.3.6.1.2.1.11.1.0 1.3.6.1.2.1.11.13.0 | tr '\n' ' '
        echo
        k=$((k + 1))
    done | awk '{ p += $1; v += $2 } END { printf "%d %d\n", p, v }'
}

# --- agents -----------------------------------------------------------------
k=0
while [ $k -lt "$AGENTS" ]; do
    mkdir -p "$work/snmpd$k"
    printf 'agentAddress udp:0.0.0.0:%d\nrocommunity public\n' $((BASE_PORT + k)) > "$work/snmpd$k/snmpd.conf"
    SNMP_PERSISTENT_DIR="$work/snmpd$k" snmpd -f -C -c "$work/snmpd$k/snmpd.conf" -Lf "$work/snmpd$k/log" &
    agent_pids="$agent_pids $!"
    k=$((k + 1))
done
k=0
while [ $k -lt "$AGENTS" ]; do
    i=0
    until snmpget -v2c -c public -Oqv -t 1 -r 0 "127.0.0.1:$((BASE_PORT + k))" 1.3.6.1.2.1.1.3.0 > /dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 50 ] || { echo "bench/snmp.sh: snmpd on port $((BASE_PORT + k)) does not answer; its log:" >&2; tail -n 5 "$work/snmpd$k/log" >&2; exit 1; }
        sleep 0.1
    done
    k=$((k + 1))
done
rows=$(snmpget -v2c -c public -Oqv "127.0.0.1:$BASE_PORT" 1.3.6.1.2.1.2.1.0)

awk -v n="$N" -v a="$AGENTS" -v p="$BASE_PORT" \
    'BEGIN { for (i = 0; i < n; i++) printf "sw-%05d 127.1.%d.%d %d\n", i + 1, int(i / 250), i % 250 + 1, p + i % a }' > "$work/devices"
{
    printf '[daemon]\nlisten = "%s"\ndata_dir = "%s/data"\n\n' "$LISTEN" "$work"
    printf '[defaults]\nsnmp = { interval = "%ss", timeout = "2s", retries = 1, version = "2c", community = "public", max_repetitions = 25 }\n' "$INTERVAL"
    awk '{ printf "\n[[device]]\nname = \"%s\"\nrole = \"access_egress\"\naddress = \"%s\"\nsnmp = { profiles = [\"if_mib\"], port = %d }\n", $1, $2, $3 }' "$work/devices"
} > "$work/netkpi.toml"
"$NETKPI_BIN" check --config "$work/netkpi.toml" > /dev/null

# --- netkpi -----------------------------------------------------------------
set -- $(agent_counters)
ag_p0=$1 ag_v0=$2
ag_t0=$(agents_ticks)
start_netkpi

# Steady state from WARM on: every device has had its first poll (and its
# first transition written).
WARM=$((INTERVAL + 5))
warm=
if [ "$DURATION" -ge $((WARM + 10)) ]; then
    sleep_until "$WARM"
    warm=$(now)
    warm_rss_kb=$(status_kb "$pid" VmRSS)
    thread_ticks > "$work/threads.warm"
    set -- $(agent_counters)
    warm_ag_p=$1 warm_ag_v=$2
    warm_ticks=$(ticks "/proc/$pid")
    curl -fsS -o "$work/metrics.warm" --max-time 60 "http://$LISTEN/metrics"
    warm_ticks_after=$(ticks "/proc/$pid")
    warm_polls=$(metric 'netkpi_poll_duration_seconds_count{prober="snmp"}' "$work/metrics.warm")
fi

sleep_until "$DURATION"
# Just before SIGTERM: CPU first (the scrape below is not counted in the
# per-poll figure), then threads, agent counters, the scrape, RSS.
end=$(now)
end_ticks=$(ticks "/proc/$pid")
thread_ticks > "$work/threads"
end_rss_kb=$(status_kb "$pid" VmRSS)
ag_t1=$(agents_ticks)
set -- $(agent_counters)
ag_p1=$1 ag_v1=$2
scrape_s=$(curl -fsS -o "$work/metrics.txt" -w '%{time_total}' --max-time 60 "http://$LISTEN/metrics")
scrape_ticks=$(ticks "/proc/$pid")
hwm_kb=$(status_kb "$pid" VmHWM)
nthreads=$(wc -l < "$work/threads")

kill -TERM "$pid"
i=0
while [ -e "/proc/$pid" ] && [ "$(state "$pid")" != Z ] && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
stop=$(now)
[ $i -lt 300 ] || { echo "bench/snmp.sh: netkpi did not stop within 30 s of SIGTERM" >&2; kill -KILL "$pid"; }
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || { echo "bench/snmp.sh: netkpi exited with status $rc; its log:" >&2; tail -n 20 "$work/netkpi.log" >&2; exit 1; }

M=$work/metrics.txt
nk_polls=$(metric 'netkpi_poll_duration_seconds_count{prober="snmp"}' "$M")
nk_dur_sum=$(awk '$1 == "netkpi_poll_duration_seconds_sum{prober=\"snmp\"}" { print $2 }' "$M")
# label(NAME): the value of label NAME on the current line.
labelfn='function label(k) { return match($0, k "=\"[^\"]*\"") ? substr($0, RSTART + length(k) + 2, RLENGTH - length(k) - 3) : "" }'
nk_buckets=$(awk "$labelfn"' /^netkpi_poll_duration_seconds_bucket\{/ && /prober="snmp"/ {
        printf "%s%s:%d", sep, label("le"), $NF; sep = " " }' "$M")
nk_errors=$(awk "$labelfn"' /^netkpi_poll_errors_total\{/ && /prober="snmp"/ && $NF > 0 {
        printf "%s%s=%d", sep, label("reason"), $NF; sep = " " }' "$M")
[ -n "$nk_errors" ] || nk_errors=none
# ifTable rows seen by netkpi: netkpi_if_oper_up samples per device that has any.
nk_rows=$(awk -F'device="' '/^netkpi_if_oper_up\{/ { split($2, d, "\""); s[d[1]]++; n++ } END { k = 0; for (x in s) k++; printf "%.1f %d\n", k ? n / k : 0, k }' "$M")
nk_samples=$(grep -c '^netkpi_if_' "$M" || true)
log_warnings=$(grep -c -E ' (WARN|ERROR) ' "$work/netkpi.log" || true)
scrape_lines=$(wc -l < "$M")
scrape_bytes=$(wc -c < "$M")

# --- snmp_exporter -----------------------------------------------------------
ex_done=0 ex_fail=0 ex_ticks=0 ex_hwm_kb=0 ex_pdus=0 ex_packets=0 ex_wall=0 ex_ag_p=0 ex_ag_v=0 ex_ag_t=0
if [ "${SKIP_REFERENCE:-}" != 1 ] && [ "$nk_polls" -gt 0 ]; then
    prometheus-snmp-exporter --config.file="$NETKPI_BENCH_DIR/snmp_exporter_if_mib.yml" \
        --web.listen-address="$EXPORTER" --log.level=warn 2> "$work/exporter.log" &
    exporter_pid=$!
    i=0
    until curl -fsS -o "$work/exporter.scrape" --max-time 5 "http://$EXPORTER/snmp?target=127.1.0.1:$BASE_PORT&module=if_mib" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "bench/snmp.sh: snmp_exporter does not answer; its log:" >&2; tail -n 5 "$work/exporter.log" >&2; exit 1; }
        sleep 0.1
    done
    # Warm-up (Go runtime, first connections), not counted.
    for j in 1 2 3 4 5 6 7 8 9 10; do
        curl -fsS -o /dev/null --max-time 10 "http://$EXPORTER/snmp?target=127.1.0.$j:$BASE_PORT&module=if_mib"
    done
    ex_pdus=$(metric snmp_scrape_pdus_returned "$work/exporter.scrape")
    ex_packets=$(metric snmp_scrape_packets_sent "$work/exporter.scrape")
    # PARALLEL curl clients, each with a list of as many requests as netkpi
    # made polls, split between them; target k cycles through the devices.
    awk -v w="$nk_polls" -v par="$PARALLEL" -v dir="$work" -v ex="$EXPORTER" '
        { addr[NR - 1] = $2 ":" $3 } END {
            for (k = 0; k < w; k++) {
                f = dir "/curl." (k % par)
                printf "url = \"http://%s/snmp?target=%s&module=if_mib\"\noutput = \"/dev/null\"\n", ex, addr[k % NR] > f
            }
        }' "$work/devices"
    set -- $(agent_counters)
    ex_ag_p0=$1 ex_ag_v0=$2
    ex_ag_t0=$(agents_ticks)
    ex_t0=$(ticks "/proc/$exporter_pid")
    ex_start=$(now)
    curl_pids=
    j=0
    while [ $j -lt "$PARALLEL" ]; do
        if [ -e "$work/curl.$j" ]; then
            curl -sS --max-time 3600 -K "$work/curl.$j" -w '%{http_code}\n' > "$work/codes.$j" 2>> "$work/curl.err" &
            curl_pids="$curl_pids $!"
        fi
        j=$((j + 1))
    done
    # Only the curl clients (bounded by --max-time), not snmpd and the exporter.
    for c in $curl_pids; do wait "$c" || true; done
    ex_end=$(now)
    ex_ticks=$(( $(ticks "/proc/$exporter_pid") - ex_t0 ))
    ex_ag_t=$(( $(agents_ticks) - ex_ag_t0 ))
    set -- $(agent_counters)
    ex_ag_p=$(( $1 - ex_ag_p0 )) ex_ag_v=$(( $2 - ex_ag_v0 ))
    ex_hwm_kb=$(status_kb "$exporter_pid" VmHWM)
    ex_wall=$(awk -v a="$ex_start" -v b="$ex_end" 'BEGIN { print b - a }')
    ex_done=$(cat "$work"/codes.* | grep -c '^200$' || true)
    ex_fail=$(cat "$work"/codes.* | grep -vc '^200$' || true)
    kill -TERM "$exporter_pid"
    wait "$exporter_pid" 2>/dev/null || true
    exporter_pid=
fi

# --- report -----------------------------------------------------------------
awk -v n="$N" -v d="$DURATION" -v interval="$INTERVAL" -v ifaces="$IFACES" -v agents="$AGENTS" -v rows="$rows" \
    -v tck="$TCK" -v t0="$t0" -v ready="$ready" -v end="$end" -v stop="$stop" \
    -v ready_ticks="$ready_ticks" -v end_ticks="$end_ticks" -v scrape_ticks="$scrape_ticks" \
    -v warm="$warm" -v warm_ticks="${warm_ticks:-0}" -v warm_ticks_after="${warm_ticks_after:-0}" -v warm_polls="${warm_polls:-0}" \
    -v warm_ag_v="${warm_ag_v:-0}" -v ag_v1="$ag_v1" \
    -v ready_rss="$ready_rss_kb" -v warm_rss="${warm_rss_kb:-0}" -v end_rss="$end_rss_kb" -v hwm_kb="$hwm_kb" \
    -v nk_polls="$nk_polls" -v nk_dur_sum="${nk_dur_sum:-0}" -v nk_buckets="$nk_buckets" -v nk_errors="$nk_errors" \
    -v nk_rows="$nk_rows" -v nk_samples="$nk_samples" -v nthreads="$nthreads" -v log_warnings="$log_warnings" \
    -v ag_p="$((ag_p1 - ag_p0))" -v ag_v="$((ag_v1 - ag_v0))" -v ag_t="$((ag_t1 - ag_t0))" \
    -v scrape_s="$scrape_s" -v scrape_lines="$scrape_lines" -v scrape_bytes="$scrape_bytes" \
    -v ex_done="$ex_done" -v ex_fail="$ex_fail" -v ex_ticks="$ex_ticks" -v ex_hwm_kb="$ex_hwm_kb" -v ex_pdus="$ex_pdus" \
    -v ex_packets="$ex_packets" -v ex_wall="$ex_wall" -v ex_ag_p="$ex_ag_p" -v ex_ag_v="$ex_ag_v" -v ex_ag_t="$ex_ag_t" \
    -v parallel="$PARALLEL" -v threads_end="$work/threads" -v threads_warm="$work/threads.warm" '
    function by_name(title, with_warm,   line, f, tid, name, t, w, by, nt, out, k) {
        while ((getline line < threads_end) > 0) { split(line, f, " "); name[f[1]] = f[2]; t[f[1]] = f[3] }
        close(threads_end)
        if (with_warm) while ((getline line < threads_warm) > 0) { split(line, f, " "); w[f[1]] = f[3] }
        close(threads_warm)
        for (tid in t) { by[name[tid]] += t[tid] - (with_warm ? w[tid] : 0); nt[name[tid]]++ }
        out = ""
        for (k in by) out = out sprintf(" %s(x%d)=%.2fs", k, nt[k], by[k] / tck)
        printf "netkpi CPU by live thread, %s:%s\n", title, out
    }
    function quantile(q,   i, nb, b, le, c, total) {
        nb = split(nk_buckets, b, " ")
        for (i = 1; i <= nb; i++) { split(b[i], p, ":"); le[i] = p[1]; c[i] = p[2] }
        total = c[nb]
        for (i = 1; i <= nb; i++) if (c[i] >= q * total) return le[i]
        return "+Inf"
    }
    BEGIN {
        split(nk_rows, r, " ")
        useful = 12 * r[1]
        nk_cpu = end_ticks / tck
        run_s = end - t0
        expected = n * (end - t0) / interval
        nk_wire = nk_polls ? ag_v / nk_polls : 0
        nk_pkts = nk_polls ? ag_p / nk_polls : 0
        nk_ms = nk_polls ? nk_cpu / nk_polls * 1000 : 0
        nk_us_vb = nk_polls && ag_v ? nk_cpu / ag_v * 1e6 : 0
        scrape_cpu = (scrape_ticks - end_ticks) / tck
        ex_cpu = ex_ticks / tck
        ex_ms = ex_done ? ex_cpu / ex_done * 1000 : 0
        ex_wire = ex_done ? ex_ag_v / ex_done : 0
        ex_us_vb = ex_ag_v ? ex_cpu / ex_ag_v * 1e6 : 0
        printf "netkpi SNMP benchmark: N=%d devices, %d s, if_mib, v2c, interval %ds, max_repetitions 25; %d snmpd agent(s) with %d ifTable rows (IFACES=%d); private netns, loopback\n", n, d, interval, agents, rows, ifaces
        printf "%-13s %7s %8s %6s %7s %11s %13s %12s %11s %11s\n", "", "walks", "walks/s", "failed", "cpu_s", "cpu_ms/walk", "varbinds/walk", "pdus/walk", "cpu_us/vb", "peak_rss_mb"
        printf "%-13s %7d %8.1f %6d %7.2f %11.3f %13.1f %12.1f %11.3f %11.1f\n", "netkpi", nk_polls, nk_polls / run_s, 0, nk_cpu, nk_ms, nk_wire, nk_pkts, nk_us_vb, hwm_kb / 1024
        if (ex_done + ex_fail > 0)
            printf "%-13s %7d %8.1f %6d %7.2f %11.3f %13.1f %12.1f %11.3f %11.1f\n", "snmp_exporter", ex_done, ex_done / ex_wall, ex_fail, ex_cpu, ex_ms, ex_wire, ex_done ? ex_ag_p / ex_done : 0, ex_us_vb, ex_hwm_kb / 1024
        printf "  (varbinds/walk and pdus/walk: the agents'"'"' snmpInTotalReqVars and snmpInPkts deltas per walk: what the poller received, GETBULK overshoot included)\n"
        if (ex_ms > 0) {
            printf "ratio netkpi/snmp_exporter: CPU per walk %.2f (goal <= 0.33), CPU per varbind %.2f\n", nk_ms / ex_ms, ex_us_vb ? nk_us_vb / ex_us_vb : 0
            printf "  with 1/N of a /metrics scrape added to each netkpi poll (snmp_exporter renders its text per walk): %.3f ms per walk, ratio %.2f\n", nk_ms + scrape_cpu / n * 1000, (nk_ms + scrape_cpu / n * 1000) / ex_ms
            printf "  useful varbinds per walk: netkpi %.0f (12 columns x %.1f rows: 10 metrics + ifName, ifAlias), snmp_exporter %d (snmp_scrape_pdus_returned: ifTable, ifXTable, sysUpTime); CPU per useful varbind ratio %.2f\n", useful, r[1], ex_pdus, (useful && ex_pdus) ? (nk_ms / useful) / (ex_ms / ex_pdus) : 0
        }
        if (warm != "" && nk_polls > warm_polls) {
            sc = (end_ticks - warm_ticks_after) / tck; sp = nk_polls - warm_polls
            sv = ag_v1 - warm_ag_v
            printf "  netkpi steady state, %.0f s to %.0f s (first polls and their ledger writes behind): %d walks, %.2f s CPU, %.3f ms per walk, %.3f us per varbind", warm - t0, end - t0, sp, sc, sc / sp * 1000, (sv > 0 ? sc / sv * 1e6 : 0)
            if (ex_ms > 0) printf "; ratio to snmp_exporter per walk %.2f, per varbind %.2f", sc / sp * 1000 / ex_ms, (sv > 0 && ex_us_vb) ? sc / sv * 1e6 / ex_us_vb : 0
            printf "\n"
        }
        printf "netkpi polls: %d done in %.1f s since start, %.0f expected (N x t / interval): %.0f%%; failed by reason: %s\n", nk_polls, run_s, expected, expected ? 100 * nk_polls / expected : 0, nk_errors
        printf "netkpi poll duration: mean %.1f ms, p50 <= %s s, p99 <= %s s (histogram buckets); %d devices with if_mib samples, %d netkpi_if_* samples\n", nk_polls ? nk_dur_sum / nk_polls * 1000 : 0, quantile(0.5), quantile(0.99), r[2], nk_samples
        printf "snmpd (per agent): %.2f s CPU during netkpi (%.0f%% of one core)", ag_t / tck / agents, 100 * ag_t / tck / run_s / agents
        if (ex_wall > 0) printf ", %.2f s during snmp_exporter (%.0f%% of one core over %.1f s)", ex_ag_t / tck / agents, 100 * ex_ag_t / tck / ex_wall / agents, ex_wall
        printf "\n"
        printf "netkpi startup: healthy after %.2f s, %.2f s CPU; %d threads; stopped %.2f s after SIGTERM; %d warnings/errors logged\n", ready - t0, ready_ticks / tck, nthreads, stop - end, log_warnings
        printf "netkpi RSS: %.1f MB when healthy", ready_rss / 1024
        if (warm != "") printf ", %.1f MB at %.0f s", warm_rss / 1024, warm - t0
        printf ", %.1f MB at %.0f s, peak (VmHWM) %.1f MB after the scrape\n", end_rss / 1024, end - t0, hwm_kb / 1024
        if (r[2] > 0) {
            per_dev = (end_rss - ready_rss) / r[2]
            printf "netkpi RSS growth per polled device: %.1f KB (%.0f B per netkpi_if_* sample held); all N=%d devices polled would be about %.0f MB before a scrape (goal <= 150 MB at 10,000 devices)\n", per_dev, nk_samples ? (end_rss - ready_rss) * 1024 / nk_samples : 0, n, (ready_rss + per_dev * n) / 1024
        }
        printf "netkpi /metrics scrape at N=%d: %.3f s wall, %.2f s daemon CPU, %d lines, %.2f MB\n", n, scrape_s, scrape_cpu, scrape_lines, scrape_bytes / 1e6
        by_name("whole run", 0)
        if (warm != "") by_name("steady state", 1)
        if (ex_done + ex_fail > 0) printf "snmp_exporter: %d requests from %d curl clients in %.1f s, %d failed; %.2f s CPU\n", ex_done + ex_fail, parallel, ex_wall, ex_fail, ex_cpu
    }'
