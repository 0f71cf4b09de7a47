#!/usr/bin/env bash
# The main job: a one-peer Cairn cluster on this machine.
#   REST API on 127.0.0.1:9094, IPFS-API gateway on 127.0.0.1:9095, cluster swarm on 127.0.0.1:9096,
#   in front of an offline js-ipfs 0.66.1 daemon on 127.0.0.1:5001 (until the embedded node lands).
# Config and data in .cairn/ (created by `cairn init` on first run). Ctrl-C stops everything.
# Point any IPFS client at /ip4/127.0.0.1/tcp/9095, and `cairn pin ls` at the REST API.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
API_PORT=${JSIPFS_API_PORT:-5001}
export CAIRN_PATH=${CAIRN_PATH:-$PWD/.cairn}
if [ ! -f compat-tests/js/node_modules/ipfs/src/cli.js ]; then
  (cd compat-tests/js && npm install --no-audit --no-fund --loglevel=error)
fi
cargo build --release --locked -p cairn-peer
CLI=$PWD/compat-tests/js/node_modules/ipfs/src/cli.js
export IPFS_PATH=$PWD/.realpeers/jsipfs/repo
if [ ! -f "$IPFS_PATH/config" ]; then
  mkdir -p "$IPFS_PATH"
  node "$CLI" init --profile test --emptyRepo >/dev/null
fi
node -e '
const fs = require("fs"), p = process.argv[1], c = JSON.parse(fs.readFileSync(p));
c.Addresses.API = "/ip4/127.0.0.1/tcp/" + process.argv[2];
c.Addresses.Gateway = []; c.Addresses.RPC = ""; c.Addresses.Swarm = [];
fs.writeFileSync(p, JSON.stringify(c, null, 2));' "$IPFS_PATH/config" "$API_PORT"
node "$CLI" daemon --offline --enable-preload=false > .realpeers/jsipfs/daemon.log 2>&1 &
DAEMON=$!
trap 'kill $DAEMON 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do grep -q 'Daemon is ready' .realpeers/jsipfs/daemon.log && break; sleep 0.2; done
grep -q 'Daemon is ready' .realpeers/jsipfs/daemon.log || { cat .realpeers/jsipfs/daemon.log; exit 1; }
echo "js-ipfs ready on /ip4/127.0.0.1/tcp/$API_PORT"
[ -f "$CAIRN_PATH/service.json" ] || target/release/cairn init --peername "$(hostname)"
export CLUSTER_LISTENMULTIADDRESS=${CLUSTER_LISTENMULTIADDRESS:-/ip4/127.0.0.1/tcp/9096}
export CLUSTER_IPFSPROXY_NODEMULTIADDRESS=/ip4/127.0.0.1/tcp/$API_PORT
export CLUSTER_IPFSHTTP_NODEMULTIADDRESS=/ip4/127.0.0.1/tcp/$API_PORT
target/release/cairn daemon
