#!/bin/sh
# The year-end report at scale: a year written through the store's commit
# path (a city: 300 targets × 50 outages; larger: 4,010 targets × 25
# outages; a province: 10,000 targets × 50 outages, every outage an
# incident), then the time and peak RSS of the release `netkpi report
# --year` writing JSON, CSV, Markdown, XLSX and HTML from it. Run from
# the repository: bench/report.sh
#
# Environment (optional): NETKPI_BENCH_ONLY=province runs the province
# alone; NETKPI_BENCH_DIR=DIR keeps each size's year under DIR and reuses
# it on the next run (writing the province's takes minutes).
set -eu
cd "$(dirname "$0")/.."
exec cargo test --release --locked --test report_bench -- --ignored --nocapture
