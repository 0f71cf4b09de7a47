//! Reading a kubo RPC request: kubo's reading of the query (`cairn_kubo::args`), with its
//! errors in the node's type.

use cairn_kubo::args::ArgError;

use crate::error::NodeError;

pub(crate) use cairn_kubo::args::Query;

impl From<ArgError> for NodeError {
    fn from(err: ArgError) -> Self {
        match err {
            ArgError::Convert { .. } => Self::OptionParse(err.to_string()),
            ArgError::Required(name) => Self::MissingArgument(name),
        }
    }
}
