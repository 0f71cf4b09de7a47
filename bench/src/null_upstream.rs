//! A null upstream for P2: a hyper server that answers every request at once with a short
//! kubo-like `version` body, on its own single-threaded runtime, so the gateway's own cost
//! per request can be seen apart from a real daemon's.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;

const BODY: &[u8] =
    b"{\"Version\":\"0.0.0-null\",\"Commit\":\"\",\"Repo\":\"0\",\"System\":\"null\",\"Golang\":\"none\"}\n";

/// Starts the null upstream on a dedicated thread; returns its address.
pub fn start() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || runtime.block_on(serve(listener)));
    Ok(addr)
}

async fn serve(listener: std::net::TcpListener) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        let service = hyper::service::service_fn(|_req| async {
            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(BODY))))
        });
        tokio::spawn(
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service),
        );
    }
}
