#!/usr/bin/env bash
# The test command: installs what the tests need on Debian 12 (idempotent:
# only what is missing), then runs the whole suite. As root: the tests
# create private network namespaces with nftables rules inside them and
# start their own snmpd and snmpsim agents there.
#
#   sudo tests/run.sh            # everything
#   sudo tests/run.sh ledger     # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "tests/run.sh: must run as root (network namespaces, raw ICMP, nftables)" >&2
  exit 1
fi

need=()
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
# tests/store_stall_e2e.rs freezes an ext4 filesystem on a loop device.
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v promtool >/dev/null || need+=(prometheus)
# tests/tls_e2e.rs asks the daemon over HTTPS with basic auth through curl.
command -v curl >/dev/null || need+=(curl)
# tests/alerting_e2e.rs runs a real Alertmanager; prometheus_rules.rs checks
# its config with amtool.
{ command -v prometheus-alertmanager && command -v amtool; } >/dev/null ||
  need+=(prometheus-alertmanager)
command -v fping >/dev/null || need+=(fping)
# tests/verify_e2e.rs edits a ledger behind netkpi's back with the sqlite3 shell.
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v snmpd >/dev/null || need+=(snmpd)
command -v snmptrap >/dev/null || need+=(snmp)
# tests/status_page_e2e.rs loads the status page in headless Chromium.
command -v chromium >/dev/null || need+=(chromium)
# tests/report_render.rs prints the HTML report to PDF, renders its first page
# (pdftoppm), reads its text (pdftotext) and page count (pdfinfo); the Chinese
# report needs a CJK font to print its headings.
command -v pdftoppm >/dev/null || need+=(poppler-utils)
dpkg -s fonts-wqy-zenhei >/dev/null 2>&1 || need+=(fonts-wqy-zenhei)
# tests/deploy_files.rs checks the unit with systemd-analyze.
command -v systemd-analyze >/dev/null || need+=(systemd)
# snmpsim (tests/snmp_e2e.rs) runs from a venv of Debian's own python3: it
# drops privileges to nobody and must then still import its modules (a
# Python under /root would not be readable); python3-gdbm is its dbm backend.
LAB_VENV=/opt/netkpi-lab
dpkg -s python3-venv >/dev/null 2>&1 || need+=(python3-venv)
dpkg -s python3-gdbm >/dev/null 2>&1 || need+=(python3-gdbm)
# tests/package_e2e.rs builds the Debian package (cargo-deb runs
# dpkg-shlibdeps and dpkg-architecture from dpkg-dev), installs it and reads
# its man page with man (man-db); setpriv and start-stop-daemon come with
# util-linux and dpkg.
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
command -v man >/dev/null || need+=(man-db)
if [ ${#need[@]} -gt 0 ]; then
  echo "--- installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The venv holds exactly tests/lab-requirements.txt (every package, the
# transitive ones too): one that differs, from an older run.sh or changed by
# hand, is made again. One that matches is left alone, so a re-run needs no
# network.
LAB_PINS=tests/lab-requirements.txt
pinned() { grep -E '^[A-Za-z0-9]' "$LAB_PINS" | tr 'A-Z_' 'a-z-' | sort; }
installed() { "$LAB_VENV/bin/python" -m pip freeze 2>/dev/null | tr 'A-Z_' 'a-z-' | sort; }
if [ ! -x "$LAB_VENV/bin/snmpsim-command-responder" ] ||
  [ "$(installed)" != "$(pinned)" ]; then
  if [ -e "$LAB_VENV" ]; then
    echo "--- $LAB_VENV differs from $LAB_PINS; making it again:"
    diff <(installed) <(pinned) | grep '^[<>]' | sed 's/^</  has/; s/^>/  wants/' || true
    rm -rf "$LAB_VENV"
  fi
  echo "--- creating the snmpsim venv in $LAB_VENV"
  /usr/bin/python3 -m venv "$LAB_VENV"
  "$LAB_VENV/bin/pip" install -q --no-deps -r "$LAB_PINS"
  if ! broken=$("$LAB_VENV/bin/python" -m pip check); then
    echo "tests/run.sh: $LAB_PINS misses a dependency:" >&2
    echo "$broken" >&2
    exit 1
  fi
  if [ "$(installed)" != "$(pinned)" ]; then
    echo "tests/run.sh: $LAB_VENV still differs from $LAB_PINS:" >&2
    diff <(installed) <(pinned) >&2 || true
    exit 1
  fi
fi

# cargo-deb builds the package in tests/package_e2e.rs, at the version the
# packaging was written against. Building it takes a few minutes, once: it is
# skipped when that version is installed.
CARGO_DEB_VERSION=3.8.0
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  echo "--- installing cargo-deb $CARGO_DEB_VERSION"
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi

# NETKPI_BLESS rewrites the golden files instead of failing on a difference
# (src/probes/snmp/profile/golden.rs); set by accident it would turn a
# changed profile output into a pass.
unset NETKPI_BLESS
echo "--- cargo test"
cargo test --locked "$@"
