use std::time::{Duration, UNIX_EPOCH};

use super::*;

const A: &str = "QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u";
const B: &str = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

fn parse(query: &str) -> Result<ListQuery, String> {
    ListQuery::parse(query).map_err(|e| e.to_string())
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn go(secs: u64) -> GoTime {
    GoTime::parse(&humantime::format_rfc3339(at(secs)).to_string()).unwrap()
}

#[test]
fn an_empty_query_asks_for_ten_pinned_requests() {
    let query = parse("").unwrap();
    assert_eq!(query, ListQuery::default());
    assert_eq!(query.statuses, BTreeSet::from([Status::Pinned]));
    assert_eq!(query.limit, DEFAULT_LIMIT);
    assert_eq!(parse("unknown=1&status=").unwrap(), ListQuery::default());
}

#[test]
fn every_parameter_reads_as_the_spec_defines_it() {
    let meta = form_urlencoded::byte_serialize(br#"{"app":"x","k":"v"}"#).collect::<String>();
    let query = parse(&format!(
        "cid={A},{B}&name=My%20Pin&match=ipartial&status=queued,failed&before=2024-01-02T00:00:00Z\
         &after=2024-01-01T00:00:00.5Z&limit=1000&meta={meta}"
    ))
    .unwrap();
    assert_eq!(query.cids, vec![A.parse().unwrap(), B.parse().unwrap()]);
    assert_eq!(query.name.as_deref(), Some("My Pin"));
    assert_eq!(query.matching, Match::Ipartial);
    assert_eq!(query.statuses, BTreeSet::from([Status::Queued, Status::Failed]));
    assert_eq!(query.before, Some(at(1_704_153_600)));
    assert_eq!(query.after, Some(at(1_704_067_200) + Duration::from_millis(500)));
    assert_eq!(query.limit, MAX_LIMIT);
    assert_eq!(query.meta.len(), 2);
}

#[test]
fn repeated_lists_add_up_and_repeated_cids_count_once() {
    let query = parse(&format!("cid={A}&cid={B},{A}&status=queued&status=pinning")).unwrap();
    assert_eq!(query.cids.len(), 2);
    assert_eq!(query.statuses, BTreeSet::from([Status::Queued, Status::Pinning]));
}

#[test]
fn values_outside_the_spec_are_refused() {
    let eleven = [A; 11].join(",");
    for (query, says) in [
        ("limit=0", "limit \"0\""),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cid=nope", "cid \"nope\""),
        (eleven.as_str(), "at most 10"),
        ("status=pin_error", "status \"pin_error\""),
        ("status=pinned,bogus", "bogus"),
        ("match=fuzzy", "match \"fuzzy\""),
        ("before=yesterday", "before \"yesterday\""),
        ("after=2024-01-01", "after"),
        ("meta=%5B1%5D", "meta"),
        ("meta=%7B%22k%22%3A1%7D", "meta"),
    ] {
        let query = match query.starts_with('Q') {
            true => format!("cid={query}"),
            false => query.to_owned(),
        };
        let err = parse(&query).unwrap_err();
        assert!(err.contains(says), "{query}: {err}");
    }
    let long = "x".repeat(MAX_NAME + 1);
    assert!(parse(&format!("name={long}")).unwrap_err().contains("255"));
}

#[test]
fn names_match_in_each_mode() {
    let cases = [
        (Match::Exact, "Photo", "Photo", true),
        (Match::Exact, "photo", "Photo", false),
        (Match::Iexact, "PHOTO", "Photo", true),
        (Match::Iexact, "Phot", "Photo", false),
        (Match::Partial, "hot", "Photo", true),
        (Match::Partial, "HOT", "Photo", false),
        (Match::Ipartial, "HOT", "Photo", true),
        (Match::Ipartial, "cold", "Photo", false),
    ];
    for (mode, wanted, name, expected) in cases {
        assert_eq!(mode.matches(wanted, name), expected, "{mode:?} {wanted} {name}");
    }
}

#[test]
fn admits_checks_name_meta_and_strict_times() {
    let meta: BTreeMap<String, String> = [("app".into(), "x".into()), ("k".into(), "v".into())].into();
    let query = ListQuery {
        name: Some("pic".into()),
        matching: Match::Partial,
        meta: [("app".into(), "x".into())].into(),
        after: Some(at(100)),
        before: Some(at(200)),
        ..ListQuery::default()
    };
    assert!(query.admits("my pic", &meta, go(150)));
    assert!(!query.admits("my pix", &meta, go(150)), "name");
    assert!(!query.admits("my pic", &BTreeMap::new(), go(150)), "meta");
    assert!(!query.admits("my pic", &meta, go(100)), "after is strict");
    assert!(!query.admits("my pic", &meta, go(200)), "before is strict");
    assert!(
        !query.admits("my pic", &meta, GoTime::ZERO),
        "no time, no match with a time filter"
    );
    assert!(ListQuery::default().admits("", &BTreeMap::new(), GoTime::ZERO));
}

#[test]
fn rfc3339_times_with_offsets_are_read_in_utc() {
    let utc = parse_rfc3339("2024-01-02T03:04:05Z").unwrap();
    assert_eq!(parse_rfc3339("2024-01-02T05:04:05+02:00"), Some(utc));
    assert_eq!(
        parse_rfc3339("2024-01-02T05:04:05 02:00"),
        Some(utc),
        "an unencoded +"
    );
    assert_eq!(parse_rfc3339("2024-01-01T22:04:05-05:00"), Some(utc));
    assert_eq!(
        parse_rfc3339("2024-01-02T03:04:05.25z"),
        Some(utc + Duration::from_millis(250))
    );
    for bad in [
        "2024-01-02T03:04:05",
        "2024-01-02T03:04:05+2:00",
        "2024-01-02T03:04:05+24:00",
        "",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}
