//! Go-style duration strings, the form ipfs-cluster writes in `service.json`.
//!
//! Parses what Go's `time.ParseDuration` accepts for non-negative values (`"0"`, `"300ms"`,
//! `"1m30s"`, `"1.5h"`, units `ns us µs ms s m h`) and formats like Go's `Duration.String`
//! (`"1m0s"`, `"5s"`, `"0s"`, `"250ms"`), so a config written back reads the same.
//!
//! # Not here
//! Negative durations: no Cairn setting accepts one, so a leading `-` is an error.

use std::time::Duration;

/// Why a duration string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct ParseError {
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

const UNITS: &[(&str, f64)] = &[
    ("ns", 1e-9),
    ("us", 1e-6),
    ("µs", 1e-6),
    ("μs", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
];

/// Parses a Go duration string such as `"1m30s"` or `"0"`.
pub fn parse(input: &str) -> Result<Duration, ParseError> {
    let fail = |reason| ParseError {
        input: input.to_owned(),
        reason,
    };
    let text = input.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(fail("empty"));
    }
    if text.starts_with('-') {
        return Err(fail("negative durations are not allowed"));
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    let mut secs = 0.0_f64;
    while !rest.is_empty() {
        let (value, after) = split_number(rest).ok_or_else(|| fail("expected a number"))?;
        let (unit, after) = split_unit(after).ok_or_else(|| fail("missing or unknown unit"))?;
        secs += value * unit;
        rest = after;
    }
    Duration::try_from_secs_f64(secs).map_err(|_| fail("out of range"))
}

fn split_number(text: &str) -> Option<(f64, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let number = &text[..end];
    if number.is_empty() || number == "." {
        return None;
    }
    Some((number.parse().ok()?, &text[end..]))
}

fn split_unit(text: &str) -> Option<(f64, &str)> {
    let end = text
        .find(|c: char| c.is_ascii_digit() || c == '.')
        .unwrap_or(text.len());
    let unit = &text[..end];
    let factor = UNITS.iter().find(|(name, _)| *name == unit)?.1;
    Some((factor, &text[end..]))
}

/// Formats like Go's `time.Duration.String`: `"1h2m3s"`, `"1m0s"`, `"1.5s"`, `"300ms"`, `"0s"`.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        return format_small(nanos);
    }
    let total_secs = d.as_secs();
    let (hours, minutes) = (total_secs / 3600, (total_secs % 3600) / 60);
    let seconds = trim_fraction(total_secs % 60, d.subsec_nanos(), 9);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

fn format_small(nanos: u128) -> String {
    let nanos = nanos as u64;
    match nanos {
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", trim_fraction(n / 1_000, (n % 1_000) as u32, 3)),
        n => format!("{}ms", trim_fraction(n / 1_000_000, (n % 1_000_000) as u32, 6)),
    }
}

/// `whole` plus `frac` (with `digits` decimal places), trailing zeros removed.
fn trim_fraction(whole: u64, frac: u32, digits: usize) -> String {
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:0digits$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_forms() {
        assert_eq!(parse("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse("1m0s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse("1h2m3s").unwrap(), Duration::from_secs(3723));
        assert_eq!(parse("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse("10us").unwrap(), Duration::from_micros(10));
    }

    #[test]
    fn refuses_what_go_refuses_and_negatives() {
        for bad in ["", "5", "5x", "s", "-1s", "1.2.3s", "1m x"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(Duration::from_secs(60)), "1m0s");
        assert_eq!(format(Duration::from_secs(5)), "5s");
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format(Duration::from_millis(300)), "300ms");
        assert_eq!(format(Duration::from_secs(300)), "5m0s");
    }

    #[test]
    fn format_then_parse_is_identity() {
        for ms in [0, 1, 999, 1000, 1500, 60_000, 61_500, 3_600_000, 86_400_000] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse(&format(d)).unwrap(), d);
        }
    }
}
