#!/bin/sh
# Start-up on years of history: a store holding 10 years of 10,000 targets
# (5,000 access devices and their lines, each down and back 25 times a year,
# one incident each time) written through the store's commit path, then the
# release daemon started on it three times in a private network namespace,
# each time after the same daemon on an empty store: time until /healthz
# answers, CPU until then, peak RSS then and 20 s later. Run as root from the
# repository: bench/startup.sh. NETKPI_BENCH_YEARS and NETKPI_BENCH_TARGETS
# scale it (writing the full store takes several minutes); NETKPI_BENCH_DIR=DIR
# keeps the store there and starts on it again next time without rewriting.
set -eu
cd "$(dirname "$0")/.."
exec cargo test --release --locked --test startup_bench -- --ignored --nocapture
