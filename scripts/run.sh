#!/usr/bin/env bash
# The main job: a one-peer Cairn cluster on this machine, with nothing else installed.
#   REST API on 127.0.0.1:9094, IPFS-API gateway on 127.0.0.1:9095, cluster swarm on 127.0.0.1:9096,
#   in front of the embedded IPFS node (cairn-node, in-process on a loopback port).
# Config and data in .cairn/ (created by `cairn init` on first run). Ctrl-C stops everything.
# Point any IPFS client at /ip4/127.0.0.1/tcp/9095, and `cairn pin ls` at the REST API.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CAIRN_PATH=${CAIRN_PATH:-$PWD/.cairn}
cargo build --release --locked -p cairn-peer
[ -f "$CAIRN_PATH/service.json" ] || target/release/cairn init --peername "$(hostname)"
export CLUSTER_LISTENMULTIADDRESS=${CLUSTER_LISTENMULTIADDRESS:-/ip4/127.0.0.1/tcp/9096}
target/release/cairn daemon
