//! The swarm's owner: turns [`Command`]s into requests, completes them with answers, and hands
//! inbound requests to the peer.

use std::collections::HashMap;

use futures::StreamExt;
use libp2p::core::{muxing::StreamMuxerBox, transport::Transport, upgrade::Version};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, gossipsub, identify, noise, pnet, tcp, yamux};
use tokio::sync::{mpsc, oneshot};

use bytes::Bytes;

use super::{
    Answer, Command, Gossip, Inbound, Lane, MAX_MESSAGE, METRICS_TOPIC, NetError, PROTOCOL, Settings,
};

type Rpc = request_response::cbor::Behaviour<Bytes, Answer>;
type Pending = oneshot::Sender<Result<Bytes, NetError>>;
type Answered = (u64, Answer);

/// The composed behaviour: Raft's RPC protocol, the cluster's, identify, and gossipsub for
/// metrics. Raft has its own protocol so that its streams and queue never wait behind slow
/// cluster requests (status fan-out, block transfers).
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    raft: Rpc,
    rpc: Rpc,
    identify: identify::Behaviour,
    gossip: gossipsub::Behaviour,
}

/// Owns the swarm; see the module docs.
pub(crate) struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    inbound: mpsc::Sender<Inbound>,
    raft_inbound: mpsc::Sender<Inbound>,
    gossip: mpsc::Sender<Gossip>,
    topic: gossipsub::IdentTopic,
    pending: HashMap<(Lane, OutboundRequestId), Pending>,
    channels: HashMap<u64, (Lane, ResponseChannel<Answer>)>,
    next_channel: u64,
    answered_tx: mpsc::Sender<Answered>,
    answered_rx: mpsc::Receiver<Answered>,
}

fn build_swarm(settings: &Settings) -> Result<Swarm<Behaviour>, String> {
    let psk = pnet::PreSharedKey::new(settings.secret);
    let timeout = settings.request_timeout;
    let swarm = libp2p::SwarmBuilder::with_existing_identity(settings.keypair.clone())
        .with_tokio()
        .with_other_transport(
            move |key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
                let noise = noise::Config::new(key)?;
                Ok(tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
                    .and_then(move |socket, _| pnet::PnetConfig::new(psk).handshake(socket))
                    .upgrade(Version::V1Lazy)
                    .authenticate(noise)
                    .multiplex(yamux::Config::default())
                    .timeout(timeout)
                    .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer))))
            },
        )
        .map_err(|e| e.to_string())?
        .with_behaviour(|key| {
            let raft = rpc_behaviour(super::RAFT_PROTOCOL, timeout);
            let rpc = rpc_behaviour(PROTOCOL, timeout);
            let identify =
                identify::Behaviour::new(identify::Config::new("/cairn/0.1.0".into(), key.public()));
            let gossip = gossip_behaviour(key)?;
            Ok(Behaviour {
                raft,
                rpc,
                identify,
                gossip,
            })
        })
        .map_err(|e| e.to_string())?
        .with_swarm_config(|c| c.with_idle_connection_timeout(std::time::Duration::from_secs(60)))
        .build();
    Ok(swarm)
}

/// One request-response protocol with the message limit and `timeout`.
fn rpc_behaviour(protocol: &'static str, timeout: std::time::Duration) -> Rpc {
    let codec = request_response::cbor::codec::Codec::default()
        .set_request_size_maximum(MAX_MESSAGE)
        .set_response_size_maximum(MAX_MESSAGE);
    let config = request_response::Config::default()
        .with_request_timeout(timeout)
        .with_max_concurrent_streams(super::MAX_STREAMS);
    request_response::Behaviour::with_codec(
        codec,
        [(StreamProtocol::new(protocol), ProtocolSupport::Full)],
        config,
    )
}

/// Signed messages (a metric's `peer` is the signer's), flooded to every subscribed peer so
/// that small clusters (fewer peers than a gossip mesh wants) still hear every metric.
fn gossip_behaviour(
    key: &libp2p::identity::Keypair,
) -> Result<gossipsub::Behaviour, Box<dyn std::error::Error + Send + Sync>> {
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .flood_publish(true)
        .build()?;
    let behaviour = gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), config)?;
    Ok(behaviour)
}

impl EventLoop {
    /// Builds the swarm and waits until every listen address is bound.
    pub(super) async fn new(
        settings: &Settings,
        commands: mpsc::Receiver<Command>,
        inbound: mpsc::Sender<Inbound>,
        raft_inbound: mpsc::Sender<Inbound>,
        gossip: mpsc::Sender<Gossip>,
    ) -> Result<(Self, Vec<Multiaddr>), String> {
        let mut swarm = build_swarm(settings)?;
        let topic = gossipsub::IdentTopic::new(METRICS_TOPIC);
        swarm
            .behaviour_mut()
            .gossip
            .subscribe(&topic)
            .map_err(|e| format!("cannot subscribe to {METRICS_TOPIC}: {e}"))?;
        for addr in &settings.listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        }
        let addrs = wait_for_listeners(&mut swarm, settings.listen.len()).await?;
        let (answered_tx, answered_rx) = mpsc::channel(super::INBOUND_QUEUE);
        let event_loop = Self {
            swarm,
            commands,
            inbound,
            raft_inbound,
            gossip,
            topic,
            pending: HashMap::new(),
            channels: HashMap::new(),
            next_channel: 0,
            answered_tx,
            answered_rx,
        };
        Ok((event_loop, addrs))
    }

    /// Runs until every [`super::Net`] handle is dropped.
    pub(crate) async fn run(mut self) {
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_event(event),
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => return,
                },
                Some((key, response)) = self.answered_rx.recv() => self.send_answer(key, response),
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Request {
                peer,
                addrs,
                lane,
                request,
                reply,
            } => {
                let id = self.lane(lane).send_request_with_addresses(&peer, request, addrs);
                self.pending.insert((lane, id), reply);
            }
            Command::Publish(data) => self.publish(data),
            Command::Connect(peer, addrs) => self.connect(peer, addrs),
        }
    }

    fn lane(&mut self, lane: Lane) -> &mut Rpc {
        match lane {
            Lane::Raft => &mut self.swarm.behaviour_mut().raft,
            Lane::Cluster => &mut self.swarm.behaviour_mut().rpc,
        }
    }

    fn publish(&mut self, data: Vec<u8>) {
        let topic = self.topic.clone();
        if let Err(e) = self.swarm.behaviour_mut().gossip.publish(topic, data) {
            // Alone, or before any peer subscribed: nobody to tell.
            tracing::debug!(error = %e, "metric not published");
        }
    }

    fn connect(&mut self, peer: PeerId, addrs: Vec<Multiaddr>) {
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, error = %e, "not dialled");
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        if let gossipsub::Event::Message { message, .. } = event {
            let Some(source) = message.source else { return };
            if self
                .gossip
                .try_send(Gossip {
                    source,
                    data: message.data,
                })
                .is_err()
            {
                tracing::debug!(%source, "metric dropped: the monitor is behind");
            }
        }
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Raft(event)) => self.on_rpc(Lane::Raft, event),
            SwarmEvent::Behaviour(BehaviourEvent::Rpc(event)) => self.on_rpc(Lane::Cluster, event),
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(event)) => self.on_gossip(event),
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(peer = ?peer_id, %error, "dial failed");
            }
            _ => {}
        }
    }

    fn on_rpc(&mut self, lane: Lane, event: request_response::Event<Bytes, Answer>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message: Message::Request { request, channel, .. },
                ..
            } => {
                self.on_request(lane, peer, request, channel);
            }
            Event::Message {
                peer,
                message: Message::Response { request_id, response },
                ..
            } => {
                let answer = match response {
                    Answer::Reply(bytes) => Ok(bytes),
                    Answer::Refused(reason) => Err(NetError::Refused { peer, reason }),
                };
                self.complete((lane, request_id), answer);
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                let failure = match error {
                    request_response::OutboundFailure::Timeout => NetError::Timeout { peer },
                    other => NetError::Unreachable {
                        peer,
                        reason: other.to_string(),
                    },
                };
                self.complete((lane, request_id), Err(failure));
            }
            Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound request failed")
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn complete(&mut self, id: (Lane, OutboundRequestId), result: Result<Bytes, NetError>) {
        if let Some(reply) = self.pending.remove(&id) {
            let _ = reply.send(result);
        }
    }

    /// Hands the request to the peer and arranges for its answer to come back here.
    fn on_request(&mut self, lane: Lane, peer: PeerId, request: Bytes, channel: ResponseChannel<Answer>) {
        let key = self.next_channel;
        self.next_channel += 1;
        let (reply, answer) = oneshot::channel();
        let queue = match lane {
            Lane::Raft => &self.raft_inbound,
            Lane::Cluster => &self.inbound,
        };
        if queue.try_send(Inbound { peer, request, reply }).is_err() {
            let _ = self
                .lane(lane)
                .send_response(channel, Answer::Refused("peer busy".into()));
            return;
        }
        self.channels.insert(key, (lane, channel));
        let answered = self.answered_tx.clone();
        tokio::spawn(async move {
            let response = match answer.await {
                Ok(bytes) => Answer::Reply(bytes),
                Err(_) => Answer::Refused("request dropped".into()),
            };
            let _ = answered.send((key, response)).await;
        });
    }

    fn send_answer(&mut self, key: u64, response: Answer) {
        if let Some((lane, channel)) = self.channels.remove(&key) {
            let _ = self.lane(lane).send_response(channel, response);
        }
    }
}

async fn wait_for_listeners(swarm: &mut Swarm<Behaviour>, count: usize) -> Result<Vec<Multiaddr>, String> {
    let mut addrs = Vec::new();
    let mut ready = 0;
    while ready < count {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => {
                addrs.push(address);
                ready = addrs.len().min(count);
            }
            SwarmEvent::ListenerError { error, .. }
            | SwarmEvent::ListenerClosed {
                reason: Err(error), ..
            } => {
                return Err(format!("cluster listener failed: {error}"));
            }
            _ => {}
        }
    }
    Ok(addrs)
}
