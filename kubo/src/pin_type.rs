//! The `type` option of kubo's `pin/ls`, and the words of pin kinds.

/// Which pins `pin/ls` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinType {
    /// Every kind (kubo's default).
    All,
    /// Direct pins.
    Direct,
    /// Blocks below recursive pins.
    Indirect,
    /// Recursive pins.
    Recursive,
}

/// An unknown `type`, in kubo's words (a 500 in kubo).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid type '{0}', must be one of {{direct, indirect, recursive, all}}")]
pub struct UnknownPinType(pub String);

impl PinType {
    /// Parses kubo's `type` option.
    pub fn parse(word: &str) -> Result<Self, UnknownPinType> {
        Ok(match word {
            "all" => Self::All,
            "direct" => Self::Direct,
            "indirect" => Self::Indirect,
            "recursive" => Self::Recursive,
            other => return Err(UnknownPinType(other.to_owned())),
        })
    }

    /// Whether a pin that is recursive (or direct, when false) is shown.
    pub fn shows_pin(self, recursive: bool) -> bool {
        match self {
            Self::All => true,
            Self::Direct => !recursive,
            Self::Recursive => recursive,
            Self::Indirect => false,
        }
    }

    /// Whether blocks below recursive pins are shown.
    pub fn shows_indirect(self) -> bool {
        matches!(self, Self::All | Self::Indirect)
    }
}

/// The word kubo shows for a pin (`Type` in `pin/ls`).
pub fn kind_word(recursive: bool) -> &'static str {
    if recursive { "recursive" } else { "direct" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_and_filter_as_in_kubo() {
        assert_eq!(PinType::parse("recursive"), Ok(PinType::Recursive));
        assert_eq!(
            PinType::parse("Recursive").map_err(|e| e.to_string()),
            Err("invalid type 'Recursive', must be one of {direct, indirect, recursive, all}".into())
        );
        assert!(PinType::Direct.shows_pin(false) && !PinType::Direct.shows_pin(true));
        assert!(PinType::All.shows_pin(true) && PinType::All.shows_indirect());
        assert!(!PinType::Indirect.shows_pin(true) && PinType::Indirect.shows_indirect());
        assert_eq!(kind_word(true), "recursive");
    }
}
