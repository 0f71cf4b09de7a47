//! Property tests of what a peer accepts from others and from REST clients: bytes that a peer
//! holding the secret sends as an RPC (any bytes at all) never panic the decoder, and whatever
//! decodes is served or refused without a panic; REST pin options from any query string
//! either parse or give ipfs-cluster's error.
//!
//! CI runs 512 inputs per property; `CAIRN_FUZZ_CASES=N` runs N (the documented long runs:
//! `CAIRN_FUZZ_CASES=1000000 cargo test --release -p cairn-peer props`).

use proptest::prelude::*;

use super::{Request, Response};

/// Inputs per property: `CAIRN_FUZZ_CASES`, else 512.
fn cases() -> u32 {
    std::env::var("CAIRN_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases()) })]

    /// Garbage on the wire is a decode error, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic_the_rpc_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = cbor4ii::serde::from_slice::<Request>(&bytes);
        let _ = cbor4ii::serde::from_slice::<Response>(&bytes);
    }

    /// A valid request with bytes flipped decodes to something or fails, never panics.
    #[test]
    fn damaged_requests_never_panic_the_rpc_decoder(
        seed in any::<u64>(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let cid = crate::api::parse_cid("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy").ok();
        let requests = vec![
            Request::Block(seed.to_be_bytes().to_vec()),
            Request::Cluster(super::ClusterRequest::Statuses { after: Some(format!("{seed}")), limit: 5000 }),
            Request::Cluster(super::ClusterRequest::Leader(super::LeaderRequest::ReadIndex)),
            Request::Cluster(super::ClusterRequest::Leader(super::LeaderRequest::Write(match cid {
                Some(cid) => crate::state::PinOp::Unpin(cid),
                None => crate::state::PinOp::Batch(vec![]),
            }))),
        ];
        for request in requests {
            let mut bytes = cbor4ii::serde::to_vec(Vec::new(), &request).unwrap_or_default();
            prop_assert!(cbor4ii::serde::from_slice::<Request>(&bytes).is_ok(), "round trip of {:?}", request);
            for (at, xor) in &flips {
                if !bytes.is_empty() {
                    let i = at % bytes.len();
                    bytes[i] ^= xor;
                }
            }
            let _ = cbor4ii::serde::from_slice::<Request>(&bytes);
        }
    }

    /// Any query string gives pin options or an error that says what is wrong, the same way
    /// every time.
    #[test]
    fn any_rest_query_parses_or_is_refused(query in "[a-z_=&%0-9.\\-]{0,200}") {
        let first = crate::api::PinOptions::from_query(&query).map_err(|e| e.to_string());
        let again = crate::api::PinOptions::from_query(&query).map_err(|e| e.to_string());
        prop_assert_eq!(first.is_ok(), again.is_ok());
        if let (Err(a), Err(b)) = (&first, &again) {
            prop_assert!(!a.is_empty());
            prop_assert_eq!(a, b);
        }
    }

    /// Pin names and metadata of any size are bounded or refused with the limit named.
    #[test]
    fn pins_of_any_size_are_bounded(name_len in 0usize..70_000, meta in 0usize..40) {
        let mut options = crate::api::PinOptions { name: "x".repeat(name_len), ..Default::default() };
        for n in 0..meta {
            options.metadata.insert(format!("k{n}"), "v".repeat(1000));
        }
        let cid = crate::api::parse_cid("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy");
        prop_assume!(cid.is_ok());
        let pin = crate::api::Pin::new(cid.unwrap_or_else(|_| unreachable!()), options);
        let bound = pin.encoded_bound();
        let json = serde_json::to_vec(&pin).map(|v| v.len()).unwrap_or(0);
        prop_assert!(bound >= json, "bound {} below the JSON size {}", bound, json);
        match pin.validated(crate::api::Replication::default(), None) {
            Ok(_) => prop_assert!(bound <= crate::api::MAX_PIN_BYTES),
            Err(e) => prop_assert!(e.to_string().contains("the limit is 32768 bytes"), "{}", e),
        }
    }
}
