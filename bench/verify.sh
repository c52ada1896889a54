#!/bin/sh
# The hash chain at scale: 1,000,000 records (transitions, incident events,
# declared windows) written through the store's commit path, then the time
# of the release `netkpi verify` over them, and of the migration that
# chains as many rows in a store from before the chain. Run from the
# repository: bench/verify.sh
set -eu
cd "$(dirname "$0")/.."
exec cargo test --release --locked --test verify_bench -- --ignored --nocapture
