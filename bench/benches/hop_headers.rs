//! Micro-benchmarks of per-request gateway work: hop-by-hop header removal and
//! `X-Forwarded-For`, and Go duration parsing (config load).

use cairn_gateway::{duration, hop};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue};

fn typical_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("host", "127.0.0.1:9095"),
        ("user-agent", "kubo-rpc-client/7.1.0"),
        ("content-type", "multipart/form-data; boundary=x"),
        ("connection", "keep-alive"),
        ("keep-alive", "timeout=5"),
        ("te", "trailers"),
        ("accept", "*/*"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
}

fn bench(c: &mut Criterion) {
    let headers = typical_headers();
    c.bench_function("hop::strip + x-forwarded-for (7 headers)", |b| {
        b.iter(|| {
            let mut h = headers.clone();
            hop::strip(&mut h);
            hop::append_forwarded_for(&mut h, [127, 0, 0, 1].into());
            h
        })
    });
    c.bench_function("duration::parse(\"1h2m3.5s\")", |b| {
        b.iter(|| duration::parse(std::hint::black_box("1h2m3.5s")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
