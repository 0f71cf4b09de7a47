//! cairn-node: the embedded IPFS node (arrives with the embedded-node issue).
