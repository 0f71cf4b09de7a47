//! Why an intercepted request failed, before any byte of its answer. `rescue` turns these
//! into kubo's answers (the one place errors become HTTP); after the first byte, errors go
//! into the `X-Stream-Error` trailer instead.

use http::StatusCode;

use super::cluster::ClusterError;

/// An intercepted request's failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InterceptError {
    /// kubo's wording for a command error (500, `Code` 0).
    #[error("{0}")]
    Command(String),
    /// An option that does not parse (kubo answers 400).
    #[error("{0}")]
    BadOption(String),
    /// A path spelled so kubo would clean or decode it first (never forwarded).
    #[error(
        "ambiguous path: an intercepted command must be spelled /api/v0/<command> without encoded characters, '//', '.' or '..'"
    )]
    Ambiguous,
    /// Not POST.
    #[error("{}", cairn_kubo::error::METHOD_NOT_ALLOWED)]
    MethodNotAllowed,
    /// The CSRF rules refused it.
    #[error("{}", cairn_kubo::error::FORBIDDEN)]
    Forbidden,
    /// More positional arguments than `max_args` (400, `Code` 1).
    #[error("too many arguments: {count}, at most {limit} (api.ipfsproxy.max_args)")]
    TooManyArgs {
        /// How many the request gave.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The cluster refused or failed.
    #[error("{0}")]
    Cluster(#[from] ClusterError),
}

impl InterceptError {
    /// The status kubo (or, for an unavailable cluster, Cairn) answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadOption(_) | Self::Ambiguous | Self::TooManyArgs { .. } => StatusCode::BAD_REQUEST,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Cluster(ClusterError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Cluster(ClusterError::TooLarge(_)) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Command(_) | Self::Cluster(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether kubo answers it in plain text rather than its JSON error object.
    pub fn is_plain(&self) -> bool {
        matches!(self, Self::MethodNotAllowed | Self::Forbidden)
    }
}
