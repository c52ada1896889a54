#!/bin/sh
# Soak test of the real daemon: tests/soak_e2e (in release) for DURATION_S
# seconds of faults all at once, inside a private network namespace on the
# full lab (ICMP devices, snmpd, snmpsim recordings, traps): outages toggled
# with nftables, snmpd and snmpsim killed and restarted, bounded trap floods,
# SIGHUP every few seconds alternating two valid configs, /metrics and the
# API scraped in a tight loop, and kill -9 of the daemon at random times,
# each followed by a restart on the same store. Then, with the daemon
# stopped, it checks the ledger's invariants and prints a summary (faults
# made, scrapes, RSS over time with its slope, one row per invariant); it
# exits non-zero naming every violation, and keeps the lab's folder (store,
# configs, every run's log) for a post-mortem.
#
#   bench/soak.sh [DURATION_S=60] [SEED]
#
# The seed is printed; passing it again replays the same schedule of faults.
#
# NETKPI_SOAK_KILL_SPACING="MIN,MAX" sets the seconds between two kill -9s
# (default 12,30 up to 120 s, 40,160 beyond; MIN >= 1), e.g.
#   NETKPI_SOAK_KILL_SPACING=900,1200 bench/soak.sh 3600
# shows RSS over runs of 15-20 minutes; a MIN past DURATION_S kills nothing.
# A replay needs the same spacing as well as the seed.
# Run as root (namespaces, nftables), from anywhere; it shares the machine
# politely under `nice`. CI runs the same test for 60 s in debug
# (`cargo test --test soak_e2e`).
set -eu

DURATION=${1:-60}
SEED=${2:-}
case $DURATION in '' | *[!0-9]*) echo "bench/soak.sh: DURATION_S must be a number" >&2; exit 2 ;; esac
case $SEED in *[!0-9]*) echo "bench/soak.sh: SEED must be a number" >&2; exit 2 ;; esac
if [ "$DURATION" -lt 10 ] || [ "$DURATION" -gt 86400 ]; then
    echo "bench/soak.sh: need 10 <= DURATION_S <= 86400" >&2
    exit 2
fi
cd "$(dirname "$0")/.."
export NETKPI_SOAK_SECONDS="$DURATION"
if [ -n "$SEED" ]; then export NETKPI_SOAK_SEED="$SEED"; fi
exec cargo test --release --locked --test soak_e2e -- --nocapture
