//! `GET /pins`'s query ([`ListQuery`]): `cid`, `name` with `match`, `status`, `before`,
//! `after`, `limit`, `meta`, read as the spec defines them, and the test one pin request passes.
//!
//! # Invariants
//! - A value the spec does not allow is refused ([`FilterError`], 400), never ignored: at most
//!   [`MAX_CIDS`] CIDs, a `limit` from 1 to [`MAX_LIMIT`], a known `match` and statuses, RFC
//!   3339 times (`Z` or an offset), a JSON object of strings as `meta`.
//! - Without `status`, only `pinned` requests match (the spec's default); without `limit`,
//!   [`DEFAULT_LIMIT`] are returned. Unknown parameters are ignored.
//! - `before` and `after` are strict, so a client pages by passing the oldest `created` of a
//!   page as the next `before`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use cid::Cid;

use super::types::{MAX_NAME, Status};
use crate::api::GoTime;

/// The most CIDs one `cid` filter may list.
pub const MAX_CIDS: usize = 10;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 1000;
/// The `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 10;

/// How `name` is compared with a pin's name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Match {
    /// Equal (the default).
    #[default]
    Exact,
    /// Equal ignoring case.
    Iexact,
    /// Contained.
    Partial,
    /// Contained ignoring case.
    Ipartial,
}

/// `GET /pins`'s filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    /// Only these CIDs (empty: any).
    pub cids: Vec<Cid>,
    /// Only pins with this name.
    pub name: Option<String>,
    /// How `name` compares.
    pub matching: Match,
    /// Only these statuses.
    pub statuses: BTreeSet<Status>,
    /// Only requests created strictly before this time.
    pub before: Option<SystemTime>,
    /// Only requests created strictly after this time.
    pub after: Option<SystemTime>,
    /// The most results on the page.
    pub limit: usize,
    /// Only pins whose metadata holds each of these entries.
    pub meta: BTreeMap<String, String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            cids: Vec::new(),
            name: None,
            matching: Match::Exact,
            statuses: BTreeSet::from([Status::Pinned]),
            before: None,
            after: None,
            limit: DEFAULT_LIMIT,
            meta: BTreeMap::new(),
        }
    }
}

/// Why a `GET /pins` query was refused (400).
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// More than [`MAX_CIDS`] CIDs.
    #[error("cid lists {0} CIDs; at most {MAX_CIDS} are allowed")]
    TooManyCids(usize),
    /// A CID that does not parse.
    #[error("cid {text:?} is not a CID")]
    BadCid {
        /// The entry as sent.
        text: String,
        /// Why it does not parse.
        #[source]
        source: cid::Error,
    },
    /// A `name` longer than [`MAX_NAME`] characters.
    #[error("name has {0} characters; at most {MAX_NAME} are allowed")]
    NameTooLong(usize),
    /// An unknown `match`.
    #[error("match {0:?} is none of exact, iexact, partial, ipartial")]
    BadMatch(String),
    /// An unknown status.
    #[error("status {0:?} is none of queued, pinning, pinned, failed")]
    BadStatus(String),
    /// A time that is not RFC 3339.
    #[error("{key} {text:?} is not an RFC 3339 time (2024-01-02T03:04:05Z)")]
    BadTime {
        /// `before` or `after`.
        key: &'static str,
        /// The value as sent.
        text: String,
    },
    /// A `limit` that is not a number from 1 to [`MAX_LIMIT`].
    #[error("limit {0:?} is not a number from 1 to {MAX_LIMIT}")]
    BadLimit(String),
    /// A `meta` that is not a JSON object of strings.
    #[error("meta is not a JSON object of strings")]
    BadMeta(#[source] serde_json::Error),
}

impl ListQuery {
    /// Reads a query string (`form_urlencoded`); repeated `cid` and `status` add up.
    pub fn parse(query: &str) -> Result<Self, FilterError> {
        let mut out = Self::default();
        let mut statuses = BTreeSet::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            match key.as_ref() {
                "cid" => out.cids.extend(cids(value)?),
                "name" if !value.is_empty() => out.name = Some(name(value)?),
                "match" => out.matching = matching(value)?,
                "status" => statuses.extend(status_list(value)?),
                "before" => out.before = time("before", value)?,
                "after" => out.after = time("after", value)?,
                "limit" => out.limit = limit(value)?,
                "meta" if !value.is_empty() => {
                    out.meta = serde_json::from_str(value).map_err(FilterError::BadMeta)?;
                }
                _ => {}
            }
        }
        dedup(&mut out.cids);
        if out.cids.len() > MAX_CIDS {
            return Err(FilterError::TooManyCids(out.cids.len()));
        }
        if !statuses.is_empty() {
            out.statuses = statuses;
        }
        Ok(out)
    }

    /// Whether a request with this name, metadata and creation time passes the filters other
    /// than `cid` and `status`.
    pub fn admits(&self, name: &str, meta: &BTreeMap<String, String>, created: GoTime) -> bool {
        let created = created.get();
        self.name
            .as_deref()
            .is_none_or(|wanted| self.matching.matches(wanted, name))
            && self.meta.iter().all(|(k, v)| meta.get(k) == Some(v))
            && self
                .before
                .is_none_or(|before| created.is_some_and(|c| c < before))
            && self.after.is_none_or(|after| created.is_some_and(|c| c > after))
    }
}

impl Match {
    /// Whether `name` matches `wanted` this way.
    pub fn matches(self, wanted: &str, name: &str) -> bool {
        match self {
            Match::Exact => name == wanted,
            Match::Iexact => name.to_lowercase() == wanted.to_lowercase(),
            Match::Partial => name.contains(wanted),
            Match::Ipartial => name.to_lowercase().contains(&wanted.to_lowercase()),
        }
    }
}

fn cids(value: &str) -> Result<Vec<Cid>, FilterError> {
    let entries: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if entries.len() > MAX_CIDS {
        return Err(FilterError::TooManyCids(entries.len()));
    }
    entries
        .into_iter()
        .map(|text| {
            text.parse().map_err(|source| FilterError::BadCid {
                text: text.to_owned(),
                source,
            })
        })
        .collect()
}

fn dedup(cids: &mut Vec<Cid>) {
    let mut seen = BTreeSet::new();
    cids.retain(|cid| seen.insert(*cid));
}

fn name(value: &str) -> Result<String, FilterError> {
    match value.chars().count() {
        n if n > MAX_NAME => Err(FilterError::NameTooLong(n)),
        _ => Ok(value.to_owned()),
    }
}

fn matching(value: &str) -> Result<Match, FilterError> {
    match value {
        "" | "exact" => Ok(Match::Exact),
        "iexact" => Ok(Match::Iexact),
        "partial" => Ok(Match::Partial),
        "ipartial" => Ok(Match::Ipartial),
        other => Err(FilterError::BadMatch(other.to_owned())),
    }
}

fn status_list(value: &str) -> Result<Vec<Status>, FilterError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|word| Status::parse(word).ok_or_else(|| FilterError::BadStatus(word.to_owned())))
        .collect()
}

fn limit(value: &str) -> Result<usize, FilterError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| FilterError::BadLimit(value.to_owned()))
}

fn time(key: &'static str, value: &str) -> Result<Option<SystemTime>, FilterError> {
    if value.is_empty() {
        return Ok(None);
    }
    parse_rfc3339(value)
        .map(Some)
        .ok_or_else(|| FilterError::BadTime {
            key,
            text: value.to_owned(),
        })
}

/// RFC 3339 with `Z` or a `±HH:MM` offset (a `+` that arrived as a space in an unencoded
/// query counts as `+`); fractions of a second allowed.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let (local, offset) = split_offset(text)?;
    let utc = humantime::parse_rfc3339_weak(&format!("{local}Z")).ok()?;
    match offset {
        Offset::East(d) => utc.checked_sub(d),
        Offset::West(d) => utc.checked_add(d),
    }
}

enum Offset {
    East(Duration),
    West(Duration),
}

/// The date and time before the zone, and the zone as an offset from UTC.
fn split_offset(text: &str) -> Option<(&str, Offset)> {
    if let Some(local) = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        return Some((local, Offset::East(Duration::ZERO)));
    }
    let at = text.len().checked_sub(6)?;
    let (local, zone) = (text.get(..at)?, text.get(at..)?);
    let (sign, hhmm) = zone.split_at(1);
    let (hours, minutes) = hhmm.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let (hours, minutes): (u64, u64) = (hours.parse().ok()?, minutes.parse().ok()?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    let shift = Duration::from_secs(hours * 3600 + minutes * 60);
    match sign {
        "+" | " " => Some((local, Offset::East(shift))),
        "-" => Some((local, Offset::West(shift))),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
