//! Interception: the kubo calls the gateway serves itself by routing them into the cluster.
//!
//! # Where it sits
//! Between the rescue/deadline layers and `Forward` (see `stack`): its errors become kubo
//! answers in `rescue`, its bodies are bounded by the deadlines, and whatever it does not
//! serve goes to [`Forward`](crate::forward::Forward) unchanged.
//!
//! # What it serves
//! `pin/add`, `pin/rm`, `pin/ls`, `pin/update`, `add`, `repo/stat`, `repo/gc`, and `block/put` /
//! `dag/put` with `pin=true`, `dag/import` unless `pin-roots=false`, and Cairn's own
//! `cairn/status` (one file per endpoint: parse → apply → answer). The cluster is reached
//! only through the [`Cluster`] trait, which cairn-peer implements.
//!
//! # Invariants
//! - No spelling of an intercepted route reaches the upstream ([`route`]): it is served, or
//!   refused with 400 when it is ambiguous.
//! - Intercepted routes keep kubo's safety: POST only, CSRF checks ([`guard`]).
//! - An answer acknowledges a pin only after the cluster committed it.
//!
//! # Not here
//! Which peers hold the content (allocation, tracker), path resolution inside DAGs.

mod add;
mod block_put;
pub mod cluster;
mod dag_import;
mod error;
mod events;
pub mod guard;
mod headers;
mod lines;
mod pin_ls;
mod pins;
#[cfg(test)]
mod props;
pub mod query;
pub mod reply;
mod repo;
pub mod route;
mod status;
mod tee;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

pub use cluster::{Cluster, ClusterError, GcLine, Landing, PinInfo, PinRequest, RepoStat, StatusLine};
pub use error::InterceptError;
pub use status::MAX_DEPTH;

use crate::{Body, BoxError};
use query::Query;
use route::{Command, Route};

/// The service below interception: the upstream daemon.
pub type Upstream = BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>;

/// A boxed, `Send` future of an upstream answer.
pub type Answer = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send + 'static>>;

/// Sends `req` to the upstream. Boxed on purpose: naming the concrete `Oneshot` future across
/// an `.await` trips rustc's higher-ranked `Send` check on the boxed error type.
pub fn forward(upstream: &Upstream, req: Request<Body>) -> Answer {
    Box::pin(upstream.clone().oneshot(req))
}

/// What every endpoint can reach.
pub struct Ctx {
    cluster: Arc<dyn Cluster>,
    upstream: Upstream,
    allowed_origins: Vec<String>,
    mirror: Arc<headers::Mirror>,
    max_args: usize,
}

/// Layer for [`Intercept`].
#[derive(Clone)]
pub struct InterceptLayer {
    cluster: Arc<dyn Cluster>,
    allowed_origins: Vec<String>,
    mirror: Arc<headers::Mirror>,
    max_args: usize,
}

impl InterceptLayer {
    /// Serves intercepted routes from `cluster` as `config` says (allowed origins, mirrored
    /// upstream headers).
    pub fn new(cluster: Arc<dyn Cluster>, config: &crate::ProxyConfig) -> Self {
        let mirror = headers::Mirror::new(
            &config.extract_headers_path,
            &config.extract_headers_extra,
            config.extract_headers_ttl,
        );
        Self {
            cluster,
            allowed_origins: config.allowed_origins.clone(),
            mirror: Arc::new(mirror),
            max_args: config.max_args,
        }
    }
}

impl<S> tower::Layer<S> for InterceptLayer
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = BoxError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    type Service = Intercept;

    fn layer(&self, inner: S) -> Intercept {
        Intercept {
            ctx: Arc::new(Ctx {
                cluster: self.cluster.clone(),
                upstream: BoxCloneSyncService::new(inner),
                allowed_origins: self.allowed_origins.clone(),
                mirror: self.mirror.clone(),
                max_args: self.max_args,
            }),
        }
    }
}

/// Serves intercepted routes, forwards the rest.
#[derive(Clone)]
pub struct Intercept {
    ctx: Arc<Ctx>,
}

impl tower::Service<Request<Body>> for Intercept {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Answer;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The upstream's readiness is awaited per request (`oneshot`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        Box::pin(handle(self.ctx.clone(), req))
    }
}

async fn handle(ctx: Arc<Ctx>, req: Request<Body>) -> Result<Response<Body>, BoxError> {
    let (command, path_args) = match route::classify(req.uri().path()) {
        Route::Forward => return forward(&ctx.upstream, req).await,
        Route::Ambiguous => return Err(InterceptError::Ambiguous.into()),
        Route::Serve(command, args) => (command, args),
    };
    let query = Query::new(req.uri(), path_args);
    let count = query.args().len();
    if count > ctx.max_args {
        return Err(InterceptError::TooManyArgs {
            count,
            limit: ctx.max_args,
        }
        .into());
    }
    let puts = matches!(command, Command::BlockPut | Command::DagPut);
    if puts && !query.bool(&["pin"], false)? {
        return forward(&ctx.upstream, req).await;
    }
    if command == Command::DagImport && !query.bool(&["pin-roots"], true).map_err(InterceptError::from)? {
        return forward(&ctx.upstream, req).await;
    }
    match guard::check(req.method(), req.headers(), &ctx.allowed_origins)? {
        guard::Verdict::Forward => forward(&ctx.upstream, req).await,
        guard::Verdict::Serve => serve(&ctx, command, query, req).await,
    }
}

async fn serve(
    ctx: &Ctx,
    command: Command,
    query: Query,
    req: Request<Body>,
) -> Result<Response<Body>, BoxError> {
    let path = req.uri().path().to_owned();
    let origin = req
        .headers()
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut answer = answer(ctx, command, query, req).await?;
    if !matches!(
        command,
        Command::Add | Command::BlockPut | Command::DagPut | Command::DagImport
    ) {
        ctx.mirror.apply(&ctx.upstream, &path, origin, &mut answer).await;
    }
    Ok(answer)
}

/// The endpoint's own answer; `add`, the puts and `dag/import` carry the upstream's headers
/// already.
async fn answer(
    ctx: &Ctx,
    command: Command,
    query: Query,
    req: Request<Body>,
) -> Result<Response<Body>, BoxError> {
    let answer = match command {
        Command::Add => return add::serve(ctx, query, req).await,
        Command::BlockPut => return block_put::serve(ctx, query, req, block_put::Kind::Block).await,
        Command::DagPut => return block_put::serve(ctx, query, req, block_put::Kind::Dag).await,
        Command::DagImport => return dag_import::serve(ctx, query, req).await,
        Command::PinAdd => pins::add(ctx, query).await,
        Command::PinRm => pins::rm(ctx, query).await,
        Command::PinUpdate => pins::update(ctx, query).await,
        Command::PinLs => pin_ls::serve(ctx, query).await,
        Command::RepoStat => repo::stat(ctx, query).await,
        Command::RepoGc => repo::gc(ctx, query).await,
        Command::Status => status::serve(ctx, query).await,
        Command::Events => events::serve(ctx, query).await,
    };
    answer.map_err(Into::into)
}

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
