//! Pin names as kubo reads them: at most 255 bytes (kubo 0.38, `cmdutils.ValidatePinName`)
//! on `pin/add?name=`, `add?pin-name=` and the `pin/ls?name=` filter, and how `pin/ls` shows
//! names (`names=true`, or any `name` filter, which implies it; kubo 0.26/0.29).

/// kubo's `MaxPinNameBytes`.
pub const MAX_PIN_NAME_BYTES: usize = 255;

/// A name over [`MAX_PIN_NAME_BYTES`], in kubo's words (a 500 in kubo).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("pin name is {0} bytes (max {MAX_PIN_NAME_BYTES} bytes)")]
pub struct NameTooLong(pub usize);

/// Refuses a name longer than kubo allows (counted in bytes; empty is fine).
pub fn check(name: &str) -> Result<(), NameTooLong> {
    match name.len() {
        n if n > MAX_PIN_NAME_BYTES => Err(NameTooLong(n)),
        _ => Ok(()),
    }
}

/// `name` cut to the longest prefix of at most [`MAX_PIN_NAME_BYTES`] that ends on a
/// character boundary: what a kubo daemon accepts of a longer name (a cluster pin's name,
/// which ipfs-cluster's REST API does not limit, passed down to the daemon it is pinned on).
pub fn within_limit(name: &str) -> &str {
    let mut end = name.len().min(MAX_PIN_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// How `pin/ls` treats names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameListing {
    /// Show each pin's name (`names=true`, or a filter).
    pub show: bool,
    /// Keep only pins whose name contains this (case-sensitive).
    pub filter: Option<String>,
}

impl NameListing {
    /// From `names` and `name`; a `name` filter implies `names`.
    pub fn new(names: bool, name: Option<&str>) -> Result<Self, NameTooLong> {
        let filter = name.filter(|n| !n.is_empty()).map(str::to_owned);
        if let Some(filter) = &filter {
            check(filter)?;
        }
        Ok(Self {
            show: names || filter.is_some(),
            filter,
        })
    }

    /// Whether a pin named `name` is listed.
    pub fn keeps(&self, name: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| name.contains(f))
    }

    /// The name as the answer shows it: itself, or empty when names are not shown.
    pub fn shown<'a>(&self, name: &'a str) -> &'a str {
        if self.show { name } else { "" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_in_bytes_as_kubo() {
        assert!(check("").is_ok());
        assert!(check(&"a".repeat(255)).is_ok());
        assert_eq!(within_limit(&"a".repeat(300)).len(), 255);
        assert_eq!(within_limit("short"), "short");
        // 'é' is two bytes: 127 of them are 254 bytes, the 128th would cross 255.
        let accents = "é".repeat(200);
        assert_eq!(within_limit(&accents), "é".repeat(127));
        assert!(check(within_limit(&accents)).is_ok());
        assert_eq!(check(&"a".repeat(256)), Err(NameTooLong(256)));
        assert_eq!(
            check(&"é".repeat(128)).unwrap_err().to_string(),
            "pin name is 256 bytes (max 255 bytes)"
        );
    }

    #[test]
    fn a_filter_implies_names_and_matches_substrings() {
        let plain = NameListing::new(false, None).unwrap();
        assert!(plain.keeps("x") && plain.shown("x").is_empty());
        let names = NameListing::new(true, Some("")).unwrap();
        assert_eq!(names.shown("x"), "x");
        let filter = NameListing::new(false, Some("ph")).unwrap();
        assert!(filter.show && filter.keeps("photos") && !filter.keeps("Photos") && !filter.keeps(""));
        assert!(NameListing::new(false, Some(&"a".repeat(300))).is_err());
    }
}
