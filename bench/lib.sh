# Shared by bench/icmp.sh and bench/snmp.sh (sourced, POSIX sh): reading a
# process's CPU and memory from /proc, values from a /metrics scrape, and
# starting netkpi and waiting until it is healthy. Callers set $work,
# $LISTEN and $NETKPI_BIN; start_netkpi sets $t0, $pid, $ready, $ready_ticks
# and $ready_rss_kb.

now() { date +%s.%N; }
# utime + stime of a process or thread, in clock ticks (fields 14 and 15;
# the command name in parentheses may contain spaces, so cut after it).
ticks() { sed 's/^.*) //' "$1/stat" | awk '{ print $12 + $13 }'; }
state() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $1 }'; }
# A field of /proc/PID/status in kB: status_kb PID VmRSS
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# A sample's value from a scrape: metric NAME{LABELS} FILE. A sample that is
# not there fails (status 1, naming it; under `set -e` the caller stops),
# never reads as 0: a renamed metric must not make a flattering ratio.
metric() {
    awk -v m="$1" '$1 == m { v = $2; n++ } END { if (!n) exit 1; printf "%d\n", v }' "$2" || {
        echo "$0: no sample $1 in $2 (metric renamed, or not exported?)" >&2
        return 1
    }
}
# Sleeps until T seconds after netkpi was started.
sleep_until() {
    sleep "$(awk -v t0="$t0" -v t="$1" -v now="$(now)" 'BEGIN { s = t0 + t - now; printf "%.3f", (s > 0 ? s : 0) }')"
}
# Every live thread of netkpi: "TID NAME TICKS CONTEXT_SWITCHES" (voluntary,
# i.e. sleeps and wakeups, plus involuntary).
thread_ticks() {
    for t in /proc/"$pid"/task/*; do
        printf '%s %s %s %s\n' "${t##*/}" "$(tr ' ' _ < "$t/comm")" "$(ticks "$t")" \
            "$(awk '/ctxt_switches:/ { n += $2 } END { print n + 0 }' "$t/status")"
    done
}

# Starts `netkpi run` on $work/netkpi.toml (log in $work/netkpi.log) and
# waits up to 30 s for /healthz; exits the script with the log if it fails.
start_netkpi() {
    t0=$(now)
    "$NETKPI_BIN" run --config "$work/netkpi.toml" 2> "$work/netkpi.log" &
    pid=$!
    ready=
    i=0
    while [ $i -lt 600 ]; do
        if [ "$(state "$pid")" = Z ] || [ ! -e "/proc/$pid" ]; then break; fi
        if curl -fsS -o /dev/null --max-time 1 "http://$LISTEN/healthz" 2>/dev/null; then
            ready=$(now)
            ready_ticks=$(ticks "/proc/$pid")
            ready_rss_kb=$(status_kb "$pid" VmRSS)
            return
        fi
        sleep 0.05
        i=$((i + 1))
    done
    echo "$0: netkpi did not become healthy within 30 s; its log:" >&2
    tail -n 20 "$work/netkpi.log" >&2
    exit 1
}
