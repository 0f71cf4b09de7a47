//! The composition root: [`Peer::start`] builds a cluster peer's components once, in
//! dependency order, each from what it uses, and binds its APIs.
//!
//! The order, and who gets what:
//! 1. the cluster network (`net`): identity, secret, listen addresses;
//! 2. the stores and Raft (`consensus`): the log, the state machine over the pinset;
//! 3. the block exchange (`exchange`): the network, the member list, this peer's id;
//! 4. this peer's IPFS daemon: the embedded node (with the exchange as its source of missing
//!    blocks) or the configured daemon, and its client (`ipfs`);
//! 5. the tracker (`tracker`): the pinset, the feed of applied changes, this peer's id, the
//!    daemon's client, (for an external daemon) the exchange to copy content, and the journal
//!    of its transitions (`eventlog`);
//! 6. the monitor's store (`monitor`), fed by gossip; the pinset's listings (`listing`); the
//!    status component (`status`): the members, the tracker, the other peers, the daemon as a
//!    child cluster, the pinset; placement (`allocator::placement`): the members, their
//!    metrics, the pinset; the pin event stream (`events`): the journal, the members, the peer
//!    RPC, the daemon as a child cluster;
//! 7. the cluster's pin and membership operations (`cluster`) over Raft and those handles; it
//!    then serves the other peers and initialises or joins the cluster;
//! 8. the monitor's loops (`monitor::run`): informers, ping, and the checker, with the cluster
//!    as its failover; the REST API (`rest`); the gateway (cairn-gateway) over the cluster;
//!    the pinning service API (`pinsvc`) when `api.pinsvcapi` is configured.
//! 9. with `observations.metrics.enable_stats`, `/metrics` (`metrics`) over narrow handles:
//!    Raft's metrics, the log store's counters, the batcher's proposal sizes, the tracker, the
//!    pinset, the monitor, the daemon's client, and the gateway's counters.
//!
//! # Invariants
//! - Nothing is set after start: no component waits for another to be attached later.
//! - The configuration was validated by `ServiceConfig::load` before anything binds.

use std::path::Path;
use std::sync::Arc;

use cairn_gateway::Server;
use cairn_gateway::config::ProxyConfig;
use cairn_gateway::server::ServerError;
use cairn_gateway::upstream::Target;
use libp2p::Multiaddr;
use tokio::sync::watch;

use crate::allocator::placement::{Placement, PlacementInputs};
use crate::cluster::{Cluster, ClusterError, Parts};
use cairn_gateway::config::ListenAddr;

use crate::config::{DaemonAccess, ServiceConfig};
use crate::consensus::log_store::LogStore;
use crate::consensus::recorded::Recorded;
use crate::consensus::state_machine::StateMachine;
use crate::consensus::{Members, Raft, StorageError, node_id};
use crate::exchange::{CopyInto, Exchange, LocalBlocks};
use crate::identity::Identity;
use crate::ipfs::embedded::{self, Embedded, EmbeddedError};
use crate::ipfs::{IpfsClient, Timeouts};
use crate::listing::Listings;
use crate::monitor::{LoopInputs, Monitor};
use crate::net::{Incoming, Net, Settings};
use crate::rpc::Network;
use crate::state::{self, StateError};
use crate::status::{StatusInputs, Statuses};
use crate::tracker::{Tracker, TrackerConfig, TrackerInputs};

/// Why a peer did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration value is unusable (the message names the key).
    #[error("config error: {0}")]
    Config(String),
    /// The cluster network could not start.
    #[error("starting the cluster network: {0}")]
    Network(String),
    /// The pinset database could not be opened.
    #[error("opening the pinset")]
    State(#[source] StateError),
    /// The Raft log or the state machine could not be opened.
    #[error("opening the consensus stores")]
    Stores(#[source] Box<StorageError>),
    /// Raft did not start.
    #[error("starting Raft: {0}")]
    Raft(String),
    /// The embedded IPFS node did not start.
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    /// The peer could not initialise or join the cluster.
    #[error("starting the cluster peer")]
    Cluster(#[source] ClusterError),
    /// The REST API could not bind.
    #[error("binding the REST API")]
    Rest(#[source] ServerError),
    /// The gateway could not bind.
    #[error("binding the gateway")]
    Gateway(#[source] ServerError),
    /// The metrics endpoint could not bind.
    #[error("binding the metrics endpoint")]
    Metrics(#[source] ServerError),
    /// The pinning service API could not bind.
    #[error("binding the pinning service API")]
    PinSvc(#[source] ServerError),
}

/// A started peer: its cluster, its two bound (not yet serving) APIs and its IPFS daemon.
pub struct Peer {
    /// The cluster's operations.
    pub cluster: Cluster,
    /// The REST API, bound.
    pub rest: Server,
    /// The gateway, bound.
    pub gateway: Server,
    /// `/metrics`, bound, when `observations.metrics.enable_stats` is true.
    pub metrics: Option<Server>,
    /// The pinning service API, bound, when `api.pinsvcapi` is configured.
    pub pinsvc: Option<Server>,
    /// The IPFS daemon the peer pins on and the gateway forwards to.
    pub ipfs: Target,
    /// The embedded node, when no external daemon is configured.
    pub embedded: Option<Embedded>,
}

/// The network and Raft over the stores: what every other component is built on.
struct Core {
    net: Net,
    raft: Raft,
    machine_pins: state::PinStore,
    feed: state::Feed,
    log_stats: Arc<crate::consensus::log_store::LogStats>,
    recorded: Recorded,
    peer_id: String,
    follow: crate::pinlog::Source,
}

impl Peer {
    /// Builds and starts every component of the peer in `dir` (see the module doc for the
    /// order), joining through `bootstrap` when it has no state yet. `stop` ends the embedded
    /// node when it turns true.
    pub async fn start(
        dir: &Path,
        config: &ServiceConfig,
        identity: &Identity,
        bootstrap: &[Multiaddr],
        stop: watch::Receiver<bool>,
    ) -> Result<Self, StartError> {
        // Every value that can be refused is read before anything binds.
        let rest_config = rest_server_config(config)?;
        let metrics_config =
            crate::metrics::serve::server_config(&config.metrics).map_err(StartError::Config)?;
        let gateway_stats = metrics_config
            .as_ref()
            .map(|_| Arc::new(cairn_gateway::stats::GatewayStats::new()));
        let pinsvc_config = (config.pinsvcapi.as_ref())
            .map(crate::pinsvc::server_config)
            .transpose()
            .map_err(StartError::Config)?;
        let upstream = config.ipfshttp.upstream().map_err(StartError::Config)?;
        let (core, incoming) = start_core(dir, config, identity).await?;
        let exchange = Exchange::new(
            crate::rpc::Client::new(core.net.clone()),
            Arc::new(Members::of(&core.raft)),
            core.peer_id.clone(),
        );
        let (ipfs, embedded) = match upstream {
            Some(target) => (target, None),
            None => start_embedded(dir, config, identity, &exchange, stop).await?,
        };
        let access = match embedded {
            Some(_) => DaemonAccess::default(),
            None => config.ipfshttp.access().map_err(StartError::Config)?,
        };
        let daemon = IpfsClient::with_access(ipfs.clone(), &access)
            .map_err(|e| StartError::Config(format!("ipfs_connector.ipfshttp TLS: {}", chain(&e))))?
            .with_timeouts(Timeouts::from_config(&config.ipfshttp));
        let journal = crate::eventlog::Journal::new(&core.peer_id, &config.cluster.peername);
        let copier = embedded.is_none().then_some(exchange);
        let tracker = start_tracker(config, &core, &daemon, copier, journal.clone());
        let blocks = match &embedded {
            Some(node) => LocalBlocks::Embedded(node.blocks.clone()),
            None => LocalBlocks::Daemon(Box::new(daemon.clone())),
        };
        let monitor = Monitor::new();
        let listings = Listings::new(core.machine_pins.clone());
        let parts = Parts {
            statuses: start_statuses(config, &core, &tracker, &daemon, &monitor, &listings),
            placement: placement_of(config, &core, &monitor),
            net: core.net.clone(),
            raft: core.raft.clone(),
            pins: core.machine_pins.clone(),
            log_stats: core.log_stats.clone(),
            recorded: core.recorded.clone(),
            peer_id: core.peer_id.clone(),
            ipfs: daemon.clone(),
            monitor: monitor.clone(),
            listings,
            follow: core.follow.clone(),
            events: crate::events::Events::start(crate::events::EventsInputs {
                journal,
                members: Arc::new(Members::of(&core.raft)),
                rpc: crate::rpc::Client::new(core.net.clone()),
                daemon: daemon.clone(),
                network_timeout: config.raft.network_timeout.get(),
            }),
        };
        crate::monitor::run::receive(monitor.clone(), incoming.gossip);
        let cluster = Cluster::new(config, parts);
        cluster
            .serve((incoming.requests, incoming.raft), blocks, bootstrap)
            .await
            .map_err(StartError::Cluster)?;
        let observed = crate::metrics::Live {
            peer_id: core.peer_id.clone(),
            raft: core.raft.metrics(),
            recorded: core.recorded.clone(),
            log_stats: core.log_stats.clone(),
            proposals: cluster.proposal_sizes(),
            tracker: tracker.clone(),
            pins: core.machine_pins.clone(),
            monitor: monitor.clone(),
            daemon: daemon.clone(),
            gateway: gateway_stats.clone(),
        };
        let loops = LoopInputs {
            peer_id: core.peer_id.clone(),
            peername: config.cluster.peername.clone(),
            monitor,
            members: Arc::new(Members::of(&core.raft)),
            net: core.net.clone(),
            ipfs: daemon,
            tracker,
            failover: Arc::new(cluster.clone()),
            settings: crate::monitor::informers::Settings::from_config(config),
        };
        crate::monitor::run::start(loops).await;
        let (rest, gateway) =
            bind_apis(config, &rest_config, &cluster, &ipfs, &access, gateway_stats).await?;
        let metrics = bind_metrics(metrics_config.as_ref(), &config.metrics, observed).await?;
        let pinsvc = bind_pinsvc(config, pinsvc_config.as_ref(), &cluster).await?;
        Ok(Self {
            cluster,
            rest,
            gateway,
            metrics,
            pinsvc,
            ipfs,
            embedded,
        })
    }
}

async fn start_core(
    dir: &Path,
    config: &ServiceConfig,
    identity: &Identity,
) -> Result<(Core, Incoming), StartError> {
    let (net, incoming) = Net::start(net_settings(config, identity)?)
        .await
        .map_err(StartError::Network)?;
    let log = LogStore::open(&dir.join("raft-log.redb")).map_err(|e| StartError::Stores(Box::new(e)))?;
    let (log_stats, recorded, follow_log) = (log.stats(), log.recorded(), log.clone());
    let db = state::open(&dir.join("state.redb")).map_err(StartError::State)?;
    let machine = StateMachine::new(db, &dir.join("snapshots"))
        .map_err(|e| StartError::Stores(Box::new(e)))?
        .recording(recorded.clone());
    let (machine_pins, feed) = (machine.pins(), machine.feed());
    let peer_id = identity.peer_id.to_base58();
    let raft_config = crate::cluster::raft_config(config).map_err(StartError::Config)?;
    let raft = Raft::new(
        node_id(&peer_id),
        raft_config,
        Network::new(crate::rpc::Client::new(net.clone())),
        log,
        machine,
    )
    .await
    .map_err(|e| StartError::Raft(e.to_string()))?;
    let follow = crate::pinlog::Source::new(raft.metrics(), follow_log, dir.join("snapshots"));
    let core = Core {
        follow,
        net,
        raft,
        machine_pins,
        feed,
        log_stats,
        recorded,
        peer_id,
    };
    Ok((core, incoming))
}

/// The cluster network's settings: this peer's key, the secret, `cluster.listen_multiaddress`,
/// `consensus.raft.network_timeout` (a follower's network too).
pub(crate) fn net_settings(config: &ServiceConfig, identity: &Identity) -> Result<Settings, StartError> {
    Ok(Settings {
        keypair: identity.keypair.clone(),
        secret: config.secret(),
        listen: crate::cluster::listen_addrs(config).map_err(|e| StartError::Config(e.to_string()))?,
        request_timeout: config.raft.network_timeout.get(),
    })
}

/// The embedded node, fetching what it lacks from the members.
pub(crate) async fn start_embedded(
    dir: &Path,
    config: &ServiceConfig,
    identity: &Identity,
    exchange: &Exchange,
    stop: watch::Receiver<bool>,
) -> Result<(Target, Option<Embedded>), StartError> {
    let repo = dir.join(embedded::NODE_DIR);
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let source: Arc<dyn cairn_node::BlockSource> = Arc::new(exchange.clone());
    let origins = embedded::gateway_origins(&config.ipfsproxy);
    let node_identity = embedded::identity_of(identity);
    let node = embedded::start(&repo, local, node_identity, Some(source), origins, stop).await?;
    Ok((embedded::target_of(node.addr), Some(node)))
}

fn start_tracker(
    config: &ServiceConfig,
    core: &Core,
    daemon: &IpfsClient,
    copier: Option<Exchange>,
    journal: crate::eventlog::Journal,
) -> Tracker {
    let inputs = TrackerInputs {
        pins: core.machine_pins.clone(),
        changes: core.feed.clone(),
        peer_id: core.peer_id.clone(),
        ipfs: Arc::new(daemon.clone()),
        content: copier.map(|exchange| {
            let daemon = daemon.clone();
            Arc::new(CopyInto { exchange, daemon }) as Arc<dyn crate::tracker::ContentCopier>
        }),
        journal,
    };
    Tracker::spawn(inputs, TrackerConfig::from_config(config))
}

/// Placement over the members, their metrics and the pinset.
fn placement_of(config: &ServiceConfig, core: &Core, monitor: &Monitor) -> Placement {
    Placement::new(PlacementInputs {
        peer_id: core.peer_id.clone(),
        members: Arc::new(Members::of(&core.raft)),
        monitor: monitor.clone(),
        allocate_by: config.placement.balanced.allocate_by.clone(),
        pins: core.machine_pins.clone(),
    })
}

/// The status component over this peer's tracker, the members, the other peers and its
/// daemon (a child cluster when it is a Cairn gateway).
fn start_statuses(
    config: &ServiceConfig,
    core: &Core,
    tracker: &Tracker,
    daemon: &IpfsClient,
    monitor: &Monitor,
    listings: &Listings,
) -> Statuses {
    Statuses::new(StatusInputs {
        peer_id: core.peer_id.clone(),
        peername: config.cluster.peername.clone(),
        members: Arc::new(Members::of(&core.raft)),
        local: Arc::new(tracker.clone()),
        remote: Arc::new(crate::rpc::Client::new(core.net.clone())),
        child: Arc::new(daemon.clone()),
        pins: core.machine_pins.clone(),
        listings: listings.clone(),
        monitor: monitor.clone(),
        network_timeout: config.raft.network_timeout.get(),
    })
}

/// Binds the REST API and the gateway (in front of `ipfs`, intercepting into `cluster`).
async fn bind_apis(
    config: &ServiceConfig,
    rest_config: &ProxyConfig,
    cluster: &Cluster,
    ipfs: &Target,
    access: &DaemonAccess,
    stats: Option<Arc<cairn_gateway::stats::GatewayStats>>,
) -> Result<(Server, Server), StartError> {
    let security = Arc::new(crate::rest::security::Security::new(&config.restapi));
    warn_if_open(
        "REST API",
        &rest_config.listen,
        security.authenticates(),
        "api.restapi.basic_auth_credentials",
    );
    let mut gateway_config = config.ipfsproxy.clone();
    gateway_config.node = ipfs.clone();
    access.onto(&mut gateway_config);
    let intercepting: Arc<dyn cairn_gateway::intercept::Cluster> = Arc::new(cluster.clone());
    // REST `/add` adds through the gateway's own add path to the same daemon.
    let adder = crate::rest::add::Adder::new(&gateway_config, intercepting.clone())
        .map_err(|e| StartError::Rest(ServerError::Tls(e)))?;
    let rest = Server::bind_with(rest_config, crate::rest::stack(cluster.clone(), security, adder))
        .await
        .map_err(StartError::Rest)?;
    let stack = cairn_gateway::stack::build_observed(&gateway_config, Some(intercepting), stats)
        .map_err(|e| StartError::Gateway(ServerError::Tls(e)))?;
    let open = gateway_config.authorizations.is_empty();
    warn_if_open(
        "gateway",
        &gateway_config.listen,
        !open,
        "api.ipfsproxy.authorizations",
    );
    let gateway = Server::bind_with(&gateway_config, stack)
        .await
        .map_err(StartError::Gateway)?;
    Ok((rest, gateway))
}

/// Binds the pinning service API over `cluster` when `api.pinsvcapi` is configured.
async fn bind_pinsvc(
    config: &ServiceConfig,
    server_config: Option<&ProxyConfig>,
    cluster: &Cluster,
) -> Result<Option<Server>, StartError> {
    let (Some(section), Some(server_config)) = (&config.pinsvcapi, server_config) else {
        return Ok(None);
    };
    let security = crate::pinsvc::security(section);
    warn_if_open(
        "pinning service API",
        &server_config.listen,
        security.authenticates(),
        "api.pinsvcapi.basic_auth_credentials",
    );
    let stack = crate::pinsvc::stack(cluster.clone(), security, section.max_body_bytes);
    let server = Server::bind_with(server_config, stack)
        .await
        .map_err(StartError::PinSvc)?;
    Ok(Some(server))
}

/// Binds `/metrics` over `source` when `observations.metrics.enable_stats` is true.
async fn bind_metrics(
    server_config: Option<&ProxyConfig>,
    section: &crate::config::MetricsConfig,
    source: crate::metrics::Live,
) -> Result<Option<Server>, StartError> {
    let Some(server_config) = server_config else {
        return Ok(None);
    };
    let exposition = crate::metrics::Exposition::new(source, section.reporting_interval.get());
    let server = crate::metrics::serve::bind(server_config, Arc::new(exposition))
        .await
        .map_err(StartError::Metrics)?;
    Ok(Some(server))
}

/// Says so when an API that changes the pinset is reachable off this host with no auth.
fn warn_if_open(api: &str, listen: &[ListenAddr], authenticates: bool, key: &str) {
    for addr in listen {
        if let ListenAddr::Tcp(sock) = addr
            && !sock.ip().is_loopback()
            && !authenticates
        {
            tracing::warn!(
                "the {api} listens on {sock} with no authentication: anyone who can reach it can change the pinset; set {key}"
            );
        }
    }
}

/// The REST API's server settings (`restapi.http_listen_multiaddress`, TLS files).
pub fn rest_server_config(config: &ServiceConfig) -> Result<ProxyConfig, StartError> {
    let listen = cairn_gateway::config::listen_addr(&config.restapi.http_listen_multiaddress)
        .map_err(StartError::Config)?;
    let file = |path: &str| Some(path).filter(|p| !p.is_empty()).map(std::path::PathBuf::from);
    Ok(ProxyConfig {
        listen: vec![listen],
        ssl_cert_file: file(&config.restapi.ssl_cert_file),
        ssl_key_file: file(&config.restapi.ssl_key_file),
        ..ProxyConfig::default()
    })
}

/// An error and its sources, one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
