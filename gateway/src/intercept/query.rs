//! The query of an intercepted request: kubo's reading of it (`cairn_kubo::args`), and the
//! CID arguments the cluster pins.

use cairn_kubo::args::ArgError;
use cid::Cid;

use super::error::InterceptError;

pub use cairn_kubo::args::Query;

impl From<ArgError> for InterceptError {
    fn from(err: ArgError) -> Self {
        match err {
            ArgError::Convert { .. } => Self::BadOption(err.to_string()),
            ArgError::Required(_) => Self::Command(err.to_string()),
        }
    }
}

/// A CID argument: `<cid>` or `/ipfs/<cid>`; paths inside a DAG are not resolved here.
pub fn cid_arg(arg: &str) -> Result<Cid, InterceptError> {
    let bare = arg.strip_prefix("/ipfs/").unwrap_or(arg).trim_end_matches('/');
    if bare.contains('/') {
        return Err(InterceptError::Command(format!(
            "invalid path {arg:?}: the cluster pins CIDs; resolve the path first (ipfs resolve)"
        )));
    }
    Cid::try_from(bare).map_err(|e| InterceptError::Command(format!("invalid path {arg:?}: {e}")))
}

/// kubo's check of a pin name option (`name`, `pin-name`): at most 255 bytes.
pub fn pin_name(query: &Query, names: &[&str]) -> Result<(), InterceptError> {
    cairn_kubo::pin_name::check(query.string(names).unwrap_or(""))
        .map_err(|e| InterceptError::Command(e.to_string()))
}

/// kubo's error for a missing positional argument.
pub fn required(name: &'static str) -> InterceptError {
    ArgError::Required(name).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubo_argument_errors_keep_their_status() {
        let uri = "/api/v0/pin/add?pin=yes".parse().expect("uri");
        let err = InterceptError::from(
            Query::new(&uri, Vec::new())
                .bool(&["pin"], false)
                .expect_err("yes"),
        );
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        assert_eq!(
            required("ipfs-path").to_string(),
            "argument \"ipfs-path\" is required"
        );
        assert_eq!(
            required("ipfs-path").status(),
            http::StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
