#!/usr/bin/env bash
# Installs everything the tests need and runs all of them. CI runs exactly this (.ci/run).
#   - js-ipfs 0.66.1 (the real upstream daemon) from compat-tests/js's committed lock file
#   - kubo-rpc-client 7.1.0 (npm) and ipfshttpclient 0.7.0 (PyPI), the real clients
#   - promtool (Debian's prometheus), which checks the /metrics exposition
#   - tmux and graphviz's dot (Debian's), for the CLI's progress bar and `health graph`
#   - rustfmt, clippy -D warnings, the dependency-direction check, then every test
# A missing tool stops here with a message; tests never skip for a missing daemon or client.
set -euo pipefail
# A clean checkout gains nothing from incremental state, and it doubles the target dir.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "scripts/test.sh: '$1' is required: $2" >&2; exit 1; }; }
need cargo "install Rust (rustup)"
need node "install Node.js 20 or newer"
need npm "install npm"
need python3 "install Python 3.11 or newer with venv"

step() { printf '\n== %s\n' "$*"; }

step "js-ipfs 0.66.1 (compat-tests/js, pinned lock file)"
if [ ! -f compat-tests/js/node_modules/ipfs/src/cli.js ]; then
  (cd compat-tests/js && npm install --no-audit --no-fund --loglevel=error)
fi

step "kubo-rpc-client 7.1.0 (compat-tests/js/clients)"
if [ ! -d compat-tests/js/clients/node_modules/kubo-rpc-client ]; then
  (cd compat-tests/js/clients && npm ci --no-audit --no-fund --loglevel=error)
fi

step "ipfshttpclient 0.7.0 (compat-tests/py/.venv)"
if ! compat-tests/py/.venv/bin/python -c 'import ipfshttpclient' >/dev/null 2>&1; then
  python3 -m venv compat-tests/py/.venv
  compat-tests/py/.venv/bin/pip install -q --disable-pip-version-check -r compat-tests/py/requirements.txt
fi

step "chromium (Debian's, for the browser CSRF test)"
if [ ! -x /usr/bin/chromium ]; then
  command -v apt-get >/dev/null 2>&1 \
    || { echo "scripts/test.sh: /usr/bin/chromium is missing and apt-get is not available: install Debian's chromium" >&2; exit 1; }
  apt-get install -y --no-install-recommends chromium \
    || { echo "scripts/test.sh: 'apt-get install -y --no-install-recommends chromium' failed: install Debian's chromium (/usr/bin/chromium)" >&2; exit 1; }
fi

step "promtool (Debian's prometheus, for the metrics test)"
if ! command -v promtool >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 \
    || { echo "scripts/test.sh: promtool is missing and apt-get is not available: install Debian's prometheus (promtool)" >&2; exit 1; }
  apt-get install -y --no-install-recommends prometheus \
    || { echo "scripts/test.sh: 'apt-get install -y --no-install-recommends prometheus' failed: install Debian's prometheus (promtool)" >&2; exit 1; }
fi

step "tmux and graphviz (Debian's, for the CLI's terminal and health graph tests)"
for pkg in tmux:tmux graphviz:dot; do
  if ! command -v "${pkg#*:}" >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 \
      || { echo "scripts/test.sh: ${pkg#*:} is missing and apt-get is not available: install Debian's ${pkg%%:*}" >&2; exit 1; }
    apt-get install -y --no-install-recommends "${pkg%%:*}" \
      || { echo "scripts/test.sh: 'apt-get install -y --no-install-recommends ${pkg%%:*}' failed: install Debian's ${pkg%%:*} (${pkg#*:})" >&2; exit 1; }
  fi
done

step "rustfmt and clippy"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "dependency direction: cairn-gateway and cairn-node depend on no workspace crate but cairn-kubo, which depends on none"
cargo metadata --format-version=1 --no-deps --locked | python3 -c '
import json, sys
meta = json.load(sys.stdin)
allowed = {"cairn-gateway": {"cairn-kubo"}, "cairn-node": {"cairn-kubo"}, "cairn-kubo": set()}
bad = [f"{p['"'"'name'"'"']} -> {d['"'"'name'"'"']}" for p in meta["packages"] if p["name"] in allowed
       for d in p["dependencies"] if d.get("path") and d["name"] not in allowed[p["name"]]]
sys.exit(f"forbidden workspace dependencies: {bad}" if bad else 0)'

# `cargo test --workspace` builds the cairn binary too (cairn-peer has integration tests), with
# the tests' features: a separate `cargo build -p cairn-peer` resolved other features and built
# many dependencies twice.
step "build everything, then run every test"
cargo test --workspace --locked --no-run
LOG=$(mktemp); trap 'rm -f "$LOG"' EXIT
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$LOG"
STATUS=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo's last line is a doctest run with 0 tests).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "\ncairn: %d passed, %d failed\n", p, f }' "$LOG"
exit "$STATUS"
