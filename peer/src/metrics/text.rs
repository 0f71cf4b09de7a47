//! The two text formats `/metrics` speaks: OpenMetrics 1.0 (what prometheus-client writes,
//! and what Prometheus asks for first) and the Prometheus text format 0.0.4 (what `curl`,
//! `promtool check metrics` and older scrapers read), derived from it.
//!
//! # The differences handled
//! - A counter family is named without `_total` in OpenMetrics (`# TYPE x counter`, samples
//!   `x_total`) and with it in 0.0.4 (`# TYPE x_total counter`).
//! - `# UNIT` and the closing `# EOF` exist only in OpenMetrics.
//!
//! The exposition has no other OpenMetrics-only construct (no info, stateset or
//! gaugehistogram families, no exemplars, no `_created` samples), so these are all.

/// The content type of an OpenMetrics exposition.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of a Prometheus text exposition.
pub const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The format a scraper asked for in `Accept`: OpenMetrics when it names it, else 0.0.4.
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("application/openmetrics-text"))
}

/// `openmetrics` as a Prometheus 0.0.4 exposition.
pub fn to_prometheus(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len() + 256);
    let mut help: Option<&str> = None;
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if line.starts_with("# HELP ") {
            flush(&mut out, help.take());
            help = Some(line);
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some(name) = rest.strip_suffix(" counter")
        {
            if let Some(help) = help.take() {
                let text = help.strip_prefix("# HELP ").and_then(|h| h.strip_prefix(name));
                out.push_str(&format!("# HELP {name}_total{}\n", text.unwrap_or_default()));
            }
            out.push_str(&format!("# TYPE {name}_total counter\n"));
            continue;
        }
        flush(&mut out, help.take());
        out.push_str(line);
        out.push('\n');
    }
    flush(&mut out, help);
    out
}

fn flush(out: &mut String, line: Option<&str>) {
    if let Some(line) = line {
        out.push_str(line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_take_their_total_suffix_and_openmetrics_only_lines_go() {
        let openmetrics = "# HELP a_requests Requests.\n# TYPE a_requests counter\n\
                           a_requests_total{code=\"200\"} 3\n\
                           # HELP b_seconds Time.\n# TYPE b_seconds gauge\n# UNIT b_seconds seconds\n\
                           b_seconds 1.5\n# EOF\n";
        assert_eq!(
            to_prometheus(openmetrics),
            "# HELP a_requests_total Requests.\n# TYPE a_requests_total counter\n\
             a_requests_total{code=\"200\"} 3\n\
             # HELP b_seconds Time.\n# TYPE b_seconds gauge\nb_seconds 1.5\n"
        );
    }

    #[test]
    fn histograms_and_gauges_pass_unchanged() {
        let text = "# HELP h Sizes.\n# TYPE h histogram\nh_sum 3.0\nh_count 2\nh_bucket{le=\"1.0\"} 1\n\
                    h_bucket{le=\"+Inf\"} 2\n";
        assert_eq!(to_prometheus(&format!("{text}# EOF\n")), text);
    }

    #[test]
    fn openmetrics_is_served_only_to_scrapers_that_ask() {
        let prometheus = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        assert!(wants_openmetrics(Some(prometheus)));
        assert!(!wants_openmetrics(Some("*/*")));
        assert!(!wants_openmetrics(None));
    }
}
