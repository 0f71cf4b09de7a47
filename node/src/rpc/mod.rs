//! The kubo RPC server of the node: `/api/v0/<command>` over HTTP/1.1.
//!
//! # Where it sits
//! [`crate::Node::bind`] builds a [`Server`]; each request is checked the way kubo checks it
//! (POST only, Origin/Referer/User-Agent CSRF rules), routed by command name, and answered by
//! one command module (`add`, `pins`, `blocks`, `car`, `repo`, `misc`) in kubo's shapes via
//! `reply`.
//!
//! # Not here
//! Block storage and DAG logic (crate root modules); the cluster's interception (gateway).

mod add;
mod blocks;
mod car;
mod guard;
mod misc;
mod pins;
pub(crate) mod reply;
mod repo;
pub(crate) mod request;

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::RwLock;

use crate::source::Blocks;
use crate::{NodeIdentity, RepoInfo};
use reply::Body;
use request::Query;

/// Commands the node serves; a longer name wins over a shorter one (`refs/local` over `refs`).
const COMMANDS: &[&str] = &[
    "add",
    "block/get",
    "block/put",
    "block/rm",
    "block/stat",
    "cat",
    "dag/export",
    "dag/get",
    "dag/import",
    "id",
    "pin/add",
    "pin/ls",
    "pin/rm",
    "pin/update",
    "refs",
    "refs/local",
    "repo/gc",
    "repo/stat",
    "resolve",
    "stats/repo",
    "swarm/addrs/local",
    "swarm/connect",
    "swarm/peers",
    "version",
];

/// What every request handler can reach.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) blocks: Blocks,
    /// Held shared by add and pin, exclusively by gc (kubo's GC lock).
    pub(crate) gc: RwLock<()>,
    pub(crate) identity: NodeIdentity,
    pub(crate) origins: guard::Origins,
    pub(crate) repo: RepoInfo,
}

/// A bound, not yet serving, node RPC listener.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    ctx: Arc<Ctx>,
}

impl Server {
    pub(crate) async fn bind(
        addr: SocketAddr,
        blocks: Blocks,
        identity: NodeIdentity,
        extra_origins: Vec<String>,
        repo: RepoInfo,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let port = listener.local_addr()?.port();
        let ctx = Ctx {
            blocks,
            gc: RwLock::new(()),
            identity,
            origins: guard::Origins::new(port, extra_origins),
            repo,
        };
        Ok(Self {
            listener,
            ctx: Arc::new(ctx),
        })
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes; open connections end with the process.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => self.spawn_connection(stream),
                    Err(e) => tracing::warn!(error = %e, "node rpc accept failed"),
                },
            }
        }
    }

    fn spawn_connection(&self, stream: tokio::net::TcpStream) {
        let _ = stream.set_nodelay(true);
        let ctx = self.ctx.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let ctx = ctx.clone();
                let trailers = reply::accepts_trailers(req.headers());
                async move {
                    let response = handle(ctx, req).await;
                    Ok::<_, std::convert::Infallible>(reply::for_client(response, trailers))
                }
            });
            let conn =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "node rpc connection ended");
            }
        });
    }
}

async fn handle(ctx: Arc<Ctx>, req: Request<Incoming>) -> Response<Body> {
    let Some((command, path_args)) = route(req.uri().path()) else {
        return reply::plain(StatusCode::NOT_FOUND, "404 page not found\n");
    };
    if let Some(refused) = guard::check(&ctx.origins, &req) {
        return refused;
    }
    let query = Query::new(req.uri(), path_args);
    dispatch(ctx, command, query, req).await
}

async fn dispatch(ctx: Arc<Ctx>, command: &str, query: Query, req: Request<Incoming>) -> Response<Body> {
    match command {
        "add" => add::add(ctx, query, req).await,
        "block/put" => blocks::put(ctx, query, req).await,
        "block/get" => blocks::get(ctx, query).await,
        "block/stat" => blocks::stat(ctx, query).await,
        "block/rm" => blocks::rm(ctx, query).await,
        "cat" => misc::cat(ctx, query).await,
        "dag/import" => car::import(ctx, query, req).await,
        "dag/export" => car::export(ctx, query).await,
        "pin/add" => pins::add(ctx, query).await,
        "pin/rm" => pins::rm(ctx, query).await,
        "pin/ls" => pins::ls(ctx, query).await,
        "pin/update" => pins::update(ctx, query).await,
        // kubo's alias.
        "repo/stat" | "stats/repo" => repo::stat(ctx, query).await,
        "repo/gc" => repo::gc(ctx, query).await,
        "refs" => repo::refs(ctx, query).await,
        "refs/local" => repo::refs_local(ctx).await,
        _ => misc::dispatch(ctx, command, query).await,
    }
}

/// Splits `/api/v0/<command>[/<arg>…]` into the command and any path arguments.
fn route(path: &str) -> Option<(&'static str, Vec<String>)> {
    let rest = path.strip_prefix("/api/v0/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    for take in [3, 2, 1] {
        if segments.len() < take {
            continue;
        }
        let name = segments[..take].join("/");
        if let Some(command) = COMMANDS.iter().find(|c| **c == name) {
            let args = segments[take..]
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| (*s).to_owned());
            return Some((command, args.collect()));
        }
    }
    None
}
