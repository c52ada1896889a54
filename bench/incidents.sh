#!/bin/sh
# Incidents at scale: 10,000 targets (5,000 access devices and their lines)
# and 100,000 incidents over a year in the store, the release daemon in a
# private network namespace; prints the median time of an incident list
# page, the status page, one incident, and an acknowledgement's round trip
# (answered once its write is durable), against the goals. Run as root
# (namespaces), from the repository: bench/incidents.sh
set -eu
cd "$(dirname "$0")/.."
exec cargo test --release --locked --test incidents_bench -- --ignored --nocapture
