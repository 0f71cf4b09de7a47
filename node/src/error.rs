//! The node's one error type and its kubo wording.
//!
//! Every message here is the text kubo prints for the same failure, so a client (or a parent
//! cluster's connector matching on `not pinned`) cannot tell cairn-node from kubo. Turning an
//! error into an HTTP answer happens in `rpc::reply`, not here.

use cairn_kubo::car::CarError;
use cid::Cid;

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A block is neither stored locally nor obtainable from the [`crate::BlockSource`].
    #[error("block was not found locally (offline): ipld: could not find {0}")]
    NotFound(Cid),
    /// Bytes claimed to be a block do not hash to its CID.
    #[error("block {0} does not match its CID (hash mismatch)")]
    HashMismatch(Cid),
    /// A CID or path argument does not parse.
    #[error("invalid path {arg:?}: {reason}")]
    InvalidPath {
        /// The argument as given.
        arg: String,
        /// Why it does not parse.
        reason: String,
    },
    /// `pin/rm` of something that is not pinned.
    #[error("not pinned or pinned indirectly")]
    NotPinned,
    /// `pin/ls?arg=` of something that is not pinned.
    #[error("path '{0}' is not pinned")]
    PathNotPinned(String),
    /// A required positional argument is missing.
    #[error("argument \"{0}\" is required")]
    MissingArgument(&'static str),
    /// A request option does not parse (kubo answers these 400, in plain text).
    #[error("{0}")]
    OptionParse(String),
    /// A request option parses but cannot be used (kubo answers these 500).
    #[error("{0}")]
    BadOption(String),
    /// Anything else the client asked for that cannot be done (kubo answers 500).
    #[error("{0}")]
    Unsupported(String),
    /// The block database failed.
    #[error("blockstore: {0}")]
    Store(String),
    /// A CAR could not be imported (`dag/import`; kubo answers 500). Boxed: it carries CIDs.
    #[error(transparent)]
    Import(Box<ImportError>),
}

impl From<ImportError> for NodeError {
    fn from(err: ImportError) -> Self {
        Self::Import(Box::new(err))
    }
}

impl NodeError {
    /// Whether kubo classes this as the client's fault (400) rather than the node's (500).
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::OptionParse(_))
    }
}

/// Converts any redb (or other storage) error into [`NodeError::Store`].
pub(crate) fn store<E: std::fmt::Display>(err: E) -> NodeError {
    NodeError::Store(err.to_string())
}

/// Why an import failed, in kubo's words.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The CAR's header could not be read (kubo passes go-car's error on as it is).
    #[error("{0}")]
    Header(#[source] CarError),
    /// A section could not be read, after the block `previous` (if any).
    #[error("import failed{}: {source}", after(.previous))]
    Section {
        /// The last block read whole.
        previous: Option<Cid>,
        /// Why.
        #[source]
        source: CarError,
    },
    /// A block does not hash to its CID.
    #[error("import failed at block \"{0}\": block data does not match its CID (hash mismatch)")]
    Mismatch(Cid),
    /// A block over the size limit (kubo's 1 MiB without `allow-big-block`).
    #[error("import failed at block \"{cid}\": {}", too_big(*.limit))]
    TooBig {
        /// The block.
        cid: Cid,
        /// The limit it exceeds.
        limit: usize,
    },
}

fn after(previous: &Option<Cid>) -> String {
    previous
        .map(|c| format!(" after block \"{c}\""))
        .unwrap_or_default()
}

fn too_big(limit: usize) -> String {
    if limit == KUBO_MAX_BLOCK {
        "produced block is over 1MiB: big blocks can't be exchanged with other peers. consider using UnixFS for automatic chunking of bigger files, or pass --allow-big-block to override".into()
    } else {
        format!("block is over {limit} bytes, the most a CAR section may hold here")
    }
}

/// kubo's block size limit without `allow-big-block`.
pub const KUBO_MAX_BLOCK: usize = 1024 * 1024;
