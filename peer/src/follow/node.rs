//! The follower's composition root: [`Follower::start`] builds its components once, in
//! dependency order, each from what it uses.
//!
//! 1. the cluster network (`net`): identity, secret, listen addresses; requests other peers
//!    send it are refused (a follower serves nobody);
//! 2. the store (`follow::store`) and the trusted peers (`follow::Sources`);
//! 3. the block exchange over the trusted peers, and this follower's IPFS daemon: the
//!    embedded node (fetching what it lacks through the exchange) or the configured one;
//! 4. the tracker over the store's pins and feed (pins with no allocations, replication -1,
//!    are pinned here; others are `remote`);
//! 5. the stream (`follow::stream`), pulling from the trusted peers into the store;
//! 6. the read-only view (`follow::Local`), its REST API and its gateway.
//!
//! # Invariants
//! - No Raft: a follower has no log, no vote, no membership; it never writes.
//! - The configuration was validated by `ServiceConfig::load` before anything binds.

use std::path::Path;
use std::sync::Arc;

use cairn_gateway::Server;
use cairn_gateway::upstream::Target;
use tokio::sync::{mpsc, watch};

use super::local::Local;
use super::store::FollowStore;
use super::stream::{self, Progress, Sources, StreamInputs};
use crate::config::{DaemonAccess, ServiceConfig};
use crate::exchange::{CopyInto, Exchange};
use crate::identity::Identity;
use crate::ipfs::embedded::Embedded;
use crate::ipfs::{IpfsClient, Timeouts};
use crate::listing::Listings;
use crate::net::{Inbound, Net};
use crate::peer::StartError;
use crate::rpc::Response;
use crate::tracker::{Tracker, TrackerConfig, TrackerInputs};

/// The file a snapshot is downloaded to before it is installed.
pub const DOWNLOAD: &str = "snapshot.download";

/// A started follower: its view, its two bound (not yet serving) APIs and its IPFS daemon.
pub struct Follower {
    /// What it shows (progress, pins, statuses).
    pub local: Local,
    /// The REST API, bound.
    pub rest: Server,
    /// The gateway, bound.
    pub gateway: Server,
    /// Its IPFS daemon.
    pub ipfs: Target,
    /// The embedded node, when no external daemon is configured.
    pub embedded: Option<Embedded>,
}

impl Follower {
    /// Builds and starts every component of the follower in `dir` (see the module doc).
    /// `stop` ends the embedded node when it turns true.
    pub async fn start(
        dir: &Path,
        config: &ServiceConfig,
        identity: &Identity,
        stop: watch::Receiver<bool>,
    ) -> Result<Self, StartError> {
        let rest_config = crate::peer::rest_server_config(config)?;
        let upstream = config.ipfshttp.upstream().map_err(StartError::Config)?;
        let net = start_net(config, identity).await?;
        let store = FollowStore::open(&dir.join("state.redb")).map_err(StartError::State)?;
        let sources = Sources::new(&config.cluster.trusted_peers, &config.cluster.peer_addresses);
        let peer_id = identity.peer_id.to_base58();
        let rpc = crate::rpc::Client::new(net.clone());
        let exchange = Exchange::new(rpc.clone(), Arc::new(sources.clone()), peer_id.clone());
        let (ipfs, embedded) = match upstream {
            Some(target) => (target, None),
            None => crate::peer::start_embedded(dir, config, identity, &exchange, stop).await?,
        };
        let access = match embedded {
            Some(_) => DaemonAccess::default(),
            None => config.ipfshttp.access().map_err(StartError::Config)?,
        };
        let daemon = IpfsClient::with_access(ipfs.clone(), &access)
            .map_err(|e| StartError::Config(format!("ipfs_connector.ipfshttp TLS: {e}")))?
            .with_timeouts(Timeouts::from_config(&config.ipfshttp));
        let copier = embedded.is_none().then_some(exchange);
        let tracker = start_tracker(config, &store, &peer_id, &daemon, copier);
        let progress = stream::spawn(StreamInputs {
            me: peer_id.clone(),
            rpc,
            store: store.clone(),
            sources: sources.clone(),
            download: dir.join(DOWNLOAD),
            request_timeout: config.raft.network_timeout.get(),
        });
        let local = local_view(config, &net, &store, tracker, progress, sources, daemon);
        let (rest, gateway) = bind_apis(config, &rest_config, &local, &ipfs, &access).await?;
        Ok(Self {
            local,
            rest,
            gateway,
            ipfs,
            embedded,
        })
    }
}

/// The cluster network; whatever other peers ask of a follower is refused.
async fn start_net(config: &ServiceConfig, identity: &Identity) -> Result<Net, StartError> {
    let settings = crate::peer::net_settings(config, identity)?;
    let (net, incoming) = Net::start(settings).await.map_err(StartError::Network)?;
    tokio::spawn(refuse_all(incoming.requests));
    tokio::spawn(refuse_all(incoming.raft));
    tokio::spawn(async move {
        let mut gossip = incoming.gossip;
        while gossip.recv().await.is_some() {}
    });
    Ok(net)
}

/// Answers every request with a refusal: a follower serves no peer.
async fn refuse_all(mut inbound: mpsc::Receiver<Inbound>) {
    let refusal = Response::Refused("this peer is a follower: it serves no cluster requests".into());
    let Ok(answer) = crate::rpc::encode(&refusal) else {
        return;
    };
    while let Some(request) = inbound.recv().await {
        let _ = request.reply.send(answer.clone());
    }
}

fn start_tracker(
    config: &ServiceConfig,
    store: &FollowStore,
    peer_id: &str,
    daemon: &IpfsClient,
    copier: Option<Exchange>,
) -> Tracker {
    let inputs = TrackerInputs {
        pins: store.pins(),
        changes: store.feed(),
        peer_id: peer_id.to_owned(),
        ipfs: Arc::new(daemon.clone()),
        content: copier.map(|exchange| {
            let daemon = daemon.clone();
            Arc::new(CopyInto { exchange, daemon }) as Arc<dyn crate::tracker::ContentCopier>
        }),
        journal: crate::eventlog::Journal::new(peer_id, &config.cluster.peername),
    };
    Tracker::spawn(inputs, TrackerConfig::from_config(config))
}

fn local_view(
    config: &ServiceConfig,
    net: &Net,
    store: &FollowStore,
    tracker: Tracker,
    progress: watch::Receiver<Progress>,
    sources: Sources,
    ipfs: IpfsClient,
) -> Local {
    Local {
        peer_id: net.peer_id.to_base58(),
        peername: config.cluster.peername.clone(),
        pins: store.pins(),
        listings: Listings::new(store.pins()),
        tracker,
        progress,
        sources,
        ipfs,
        addresses: net.addrs.iter().map(ToString::to_string).collect(),
    }
}

/// Binds the read-only REST API and the gateway (in front of `ipfs`, its pin changes refused).
async fn bind_apis(
    config: &ServiceConfig,
    rest_config: &cairn_gateway::config::ProxyConfig,
    local: &Local,
    ipfs: &Target,
    access: &DaemonAccess,
) -> Result<(Server, Server), StartError> {
    let security = Arc::new(crate::rest::security::Security::new(&config.restapi));
    let rest = Server::bind_with(rest_config, super::rest::stack(local.clone(), security))
        .await
        .map_err(StartError::Rest)?;
    let mut gateway_config = config.ipfsproxy.clone();
    gateway_config.node = ipfs.clone();
    access.onto(&mut gateway_config);
    let intercepting: Arc<dyn cairn_gateway::intercept::Cluster> = Arc::new(local.clone());
    let stack = cairn_gateway::stack::build_observed(&gateway_config, Some(intercepting), None)
        .map_err(|e| StartError::Gateway(cairn_gateway::server::ServerError::Tls(e)))?;
    let gateway = Server::bind_with(&gateway_config, stack)
        .await
        .map_err(StartError::Gateway)?;
    Ok((rest, gateway))
}
