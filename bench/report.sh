#!/bin/sh
# The year-end report at scale: a year written through the store's commit
# path (a city: 300 targets × 50 outages; larger: 4,010 targets × 25
# outages, every outage an incident), then the time of the release
# `netkpi report --year` writing JSON, CSV and Markdown from it. Run from
# the repository: bench/report.sh
set -eu
cd "$(dirname "$0")/.."
exec cargo test --release --locked --test report_bench -- --ignored --nocapture
