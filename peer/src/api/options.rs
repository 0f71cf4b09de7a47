//! `PinOptions` from query parameters, as ipfs-cluster's `PinOptions.FromQuery` reads them:
//! `name`, `mode`, `replication`, `replication-min`, `replication-max`, `shard-size`,
//! `user-allocations`, `expire-at`, `expire-in`, `meta-<k>`, `pin-update`, `origins`. The REST
//! API reads its query with [`PinOptions::from_query`]; the gateway hands the pairs of an
//! intercepted kubo request to [`PinOptions::from_pairs`]: one reading for both.

use super::{GoTime, PinError, PinMode, PinOptions, parse_cid};

fn bad(key: &str, reason: impl std::fmt::Display) -> PinError {
    PinError::BadOption {
        key: key.to_owned(),
        reason: reason.to_string(),
    }
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, PinError>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e| bad(key, e))
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

impl PinOptions {
    /// Reads a query string into options; unknown parameters are ignored, as ipfs-cluster
    /// does.
    pub fn from_query(query: &str) -> Result<Self, PinError> {
        Self::from_pairs(form_urlencoded::parse(query.as_bytes()))
    }

    /// Reads decoded `(key, value)` pairs into options, in order (a later pair of the same
    /// key wins); unknown keys are ignored.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, PinError> {
        let mut options = Self::default();
        for (key, value) in pairs {
            apply(&mut options, key.as_ref(), value.as_ref())?;
        }
        Ok(options)
    }
}

fn apply(options: &mut PinOptions, key: &str, value: &str) -> Result<(), PinError> {
    match key {
        "name" => options.name = value.to_owned(),
        "mode" => options.mode = mode(value)?,
        "replication" => {
            let n = number(key, value)?;
            (options.replication_factor_min, options.replication_factor_max) = (n, n);
        }
        "replication-min" => options.replication_factor_min = number(key, value)?,
        "replication-max" => options.replication_factor_max = number(key, value)?,
        "shard-size" => options.shard_size = number(key, value)?,
        "user-allocations" => options.user_allocations = Some(list(value)),
        "expire-at" => options.expire_at = GoTime::parse(value).map_err(|e| bad(key, e))?,
        "expire-in" => options.expire_at = expire_in(value)?,
        "pin-update" => options.pin_update = Some(parse_cid(value)?),
        "origins" => options.origins = list(value),
        meta if meta.starts_with("meta-") => {
            options
                .metadata
                .insert(meta["meta-".len()..].to_owned(), value.to_owned());
        }
        _ => {}
    }
    Ok(())
}

fn mode(value: &str) -> Result<PinMode, PinError> {
    match value {
        "" | "recursive" => Ok(PinMode::Recursive),
        "direct" => Ok(PinMode::Direct),
        other => Err(bad("mode", format!("{other:?} is neither recursive nor direct"))),
    }
}

fn expire_in(value: &str) -> Result<GoTime, PinError> {
    let d = cairn_gateway::duration::parse(value).map_err(|e| bad("expire-in", e))?;
    if d < std::time::Duration::from_secs(1) {
        return Err(bad("expire-in", "must be at least 1s"));
    }
    Ok(GoTime::after(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_query(query: &str) -> Result<PinOptions, PinError> {
        PinOptions::from_query(query)
    }

    #[test]
    fn reads_ipfs_cluster_query_parameters() {
        let o = from_query("name=a%20b&mode=direct&replication-min=2&replication-max=3&meta-k=v&user-allocations=p1,p2&unknown=1").unwrap();
        assert_eq!(o.name, "a b");
        assert_eq!(o.mode, PinMode::Direct);
        assert_eq!((o.replication_factor_min, o.replication_factor_max), (2, 3));
        assert_eq!(o.metadata.get("k").map(String::as_str), Some("v"));
        assert_eq!(o.user_allocations, Some(vec!["p1".into(), "p2".into()]));
        assert_eq!(from_query("replication=4").unwrap().replication_factor_max, 4);
    }

    #[test]
    fn pairs_read_like_the_query_that_carries_them() {
        let pairs = [
            ("name", "a b"),
            ("replication-min", "2"),
            ("meta-k", "v"),
            ("name", "c"),
        ];
        let from_pairs = PinOptions::from_pairs(pairs).unwrap();
        assert_eq!(
            from_pairs,
            from_query("name=a%20b&replication-min=2&meta-k=v&name=c").unwrap()
        );
        assert_eq!(from_pairs.name, "c");
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (query, key) in [
            ("replication-min=x", "replication-min"),
            ("mode=deep", "mode"),
            ("expire-in=10ms", "expire-in"),
        ] {
            let err = from_query(query).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
