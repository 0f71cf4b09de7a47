//! `POST /pins/{to}?pin-update={from}`: ipfs-cluster's pin update. The new pin takes the
//! options of the existing one (its name, replication, allocations asked for, metadata),
//! with the `name` and expiry of the query when given, and records `pin_update = from`; the
//! existing pin stays (unpin it separately). Without `pin-update`, or with `from == to`, the
//! query's options are the pin's, as for any pin.

use cid::Cid;

use crate::api::PinOptions;
use crate::cluster::{Cluster, ClusterError};

/// The options `POST /pins/{to}?{query}` pins with.
pub(super) fn options(cluster: &Cluster, to: &Cid, query: &str) -> Result<PinOptions, ClusterError> {
    let asked = PinOptions::from_query(query)?;
    let Some(from) = asked.pin_update.filter(|from| from != to) else {
        return Ok(asked);
    };
    let existing = cluster.pins().get(&from)?.ok_or(ClusterError::NotPinned)?;
    Ok(updated(existing.options, asked, query, from))
}

/// `existing` with what the query sets of an update.
fn updated(existing: PinOptions, asked: PinOptions, query: &str, from: Cid) -> PinOptions {
    let given = |key: &str| form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == key);
    let mut options = existing;
    if !asked.name.is_empty() {
        options.name = asked.name;
    }
    if given("expire-in") || given("expire-at") {
        options.expire_at = asked.expire_at;
    }
    options.pin_update = Some(from);
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_keeps_the_old_options_but_name_and_expiry() {
        let from = crate::api::parse_cid("QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB").expect("cid");
        let existing =
            PinOptions::from_query("name=old&replication-min=2&replication-max=3&meta-k=v").expect("old");
        let asked = PinOptions::from_query(&format!("pin-update={from}&name=new")).expect("asked");
        let options = updated(existing.clone(), asked, "name=new", from);
        assert_eq!(options.name, "new");
        assert_eq!(
            (options.replication_factor_min, options.replication_factor_max),
            (2, 3)
        );
        assert_eq!(options.metadata.get("k").map(String::as_str), Some("v"));
        assert_eq!(options.pin_update, Some(from));
        assert_eq!(options.expire_at, existing.expire_at);
        let unnamed = updated(existing, PinOptions::default(), "", from);
        assert_eq!(unnamed.name, "old");
    }
}
