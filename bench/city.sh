#!/bin/sh
# The example city (config/city: one TOML file, two CSV inventories, two
# fragments; 171 devices, 150 lines) as netkpi reads and serves it:
#   - `netkpi check` wall time and peak RSS, the median of 5 runs, and the
#     same for a generated province: PROVINCE devices and as many lines in
#     two CSV files (every device pinged by a template);
#   - the daemon running the city for DURATION_S seconds inside a private
#     network namespace, its addresses moved to loopback (192.0.2.N ->
#     127.0.2.N, 198.51.100.N -> 127.0.100.N: the shipped ones are
#     documentation addresses, never probed), then the size of /metrics and
#     of the API's lists sent plain and with `Accept-Encoding: gzip`.
#
#   bench/city.sh [DURATION_S=20] [PROVINCE=20000]
#
# NETKPI_BIN picks the binary (default: a release build of this tree).
# Needs root (unshare, raw ICMP sockets), curl, /usr/bin/time.
set -eu

DURATION=${1:-20}
PROVINCE=${2:-20000}
LISTEN=127.0.0.1:9731

# Median wall time and its peak RSS of 5 runs of `netkpi check` on $1.
check_median() {
    for i in 1 2 3 4 5; do
        /usr/bin/time -f '%e %M' -o "$work/time.$i" "$NETKPI_BIN" check --config "$1" >/dev/null
    done
    cat "$work"/time.* | sort -n | sed -n 3p |
        awk '{ printf "check: median %.3f s wall, %d KB peak RSS\n", $1, $2 }'
}

if [ "${NETKPI_BENCH_NETNS:-}" != 1 ]; then
    for n in "$DURATION" "$PROVINCE"; do
        case $n in '' | *[!0-9]*) echo "bench/city.sh: DURATION_S and PROVINCE must be numbers" >&2; exit 2 ;; esac
    done
    if [ "$DURATION" -lt 5 ] || [ "$DURATION" -gt 600 ] || [ "$PROVINCE" -lt 1 ] || [ "$PROVINCE" -gt 250000 ]; then
        echo "bench/city.sh: need 5 <= DURATION_S <= 600 and 1 <= PROVINCE <= 250000" >&2
        exit 2
    fi
    for tool in unshare ip curl /usr/bin/time; do
        command -v "$tool" >/dev/null || { echo "bench/city.sh: $tool is required" >&2; exit 1; }
    done
    repo=$(cd "$(dirname "$0")/.." && pwd)
    if [ -z "${NETKPI_BIN:-}" ]; then
        (cd "$repo" && cargo build --quiet --release --locked --bin netkpi)
        NETKPI_BIN=${CARGO_TARGET_DIR:-$repo/target}/release/netkpi
    fi
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    echo "binary: $NETKPI_BIN"
    echo "--- netkpi check --config config/city/netkpi.toml (5 runs)"
    (cd "$repo" && "$NETKPI_BIN" check --config config/city/netkpi.toml)
    (cd "$repo" && check_median config/city/netkpi.toml)

    echo "--- a province: $PROVINCE devices and $PROVINCE lines from CSV (5 runs)"
    mkdir "$work/province"
    awk -v n="$PROVINCE" -v dir="$work/province" 'BEGIN {
        devices = dir "/devices.csv"; lines = dir "/lines.csv"
        print "name,role,address,site,parent" > devices
        print "core-r1,router,10.0.0.1,core," > devices
        print "id,unit,carrier,bandwidth,device" > lines
        for (i = 0; i < n; i++) {
            printf "acc-%06d,access_egress,10.%d.%d.%d,site-%d,core-r1\n", i, 1 + int(i / 62500), int(i / 250) % 250, i % 250 + 1, int(i / 100) > devices
            printf "L-%06d,Unit %d,Carrier %c,100M,acc-%06d\n", i, i, 65 + i % 3, i > lines
        }
    }'
    printf '[[inventory]]\nfile = "devices.csv"\nkind = "device"\ntemplate = { icmp = {} }\n\n[[inventory]]\nfile = "lines.csv"\nkind = "line"\n' > "$work/province/netkpi.toml"
    "$NETKPI_BIN" check --config "$work/province/netkpi.toml" | tail -n 1
    check_median "$work/province/netkpi.toml"

    cp -a "$repo/config/city" "$work/city"
    cp -a "$repo/config/secrets" "$work/secrets"
    sed -i 's/192\.0\.2\./127.0.2./; s/198\.51\.100\./127.0.100./' "$work/city/devices.csv"
    NETKPI_BENCH_NETNS=1 NETKPI_BIN=$NETKPI_BIN work=$work \
        unshare --net sh "$0" "$DURATION"
    exit
fi

# Inside the namespace.
ip link set lo up
"$NETKPI_BIN" run --config "$work/city/netkpi.toml" 2> "$work/netkpi.log" &
pid=$!
i=0
until curl -fsS -o /dev/null --max-time 1 "http://$LISTEN/healthz" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 300 ] || [ ! -e "/proc/$pid" ]; then
        echo "bench/city.sh: netkpi did not become healthy; its log:" >&2
        tail -n 20 "$work/netkpi.log" >&2
        exit 1
    fi
    sleep 0.1
done
sleep "$DURATION"
echo "--- after ${DURATION} s: bytes sent plain and gzip-compressed"
for path in /metrics /api/v1/devices /api/v1/lines /api/v1/availability; do
    plain=$(curl -fsS "http://$LISTEN$path" | wc -c)
    gzip=$(curl -fsS -H 'Accept-Encoding: gzip' "http://$LISTEN$path" | wc -c)
    awk -v p="$path" -v a="$plain" -v b="$gzip" \
        'BEGIN { printf "%-22s plain %7d  gzip %6d  ratio %.1f\n", p, a, b, a / b }'
done
kill "$pid"
wait "$pid" || true
