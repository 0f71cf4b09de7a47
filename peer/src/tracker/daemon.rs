//! The daemon the tracker pins on, as the tracker sees it: three calls. The connector
//! ([`IpfsClient`]) implements it for a running peer; the unit tests use a daemon in memory.

use std::collections::HashMap;
use std::time::Duration;

use cid::Cid;
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::ipfs::{IpfsClient, IpfsError, PinKind, PinLabel};

/// What the tracker asks of this peer's IPFS daemon.
pub trait Daemon: Send + Sync {
    /// Pins `cid` (`pin/add?progress=true`) with its name and metadata, failing after
    /// `timeout` without progress.
    fn pin_add<'a>(
        &'a self,
        cid: &'a Cid,
        kind: PinKind,
        label: &'a PinLabel,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<(), IpfsError>>;
    /// Unpins `cid`; a CID that is not pinned counts as unpinned.
    fn pin_rm<'a>(&'a self, cid: &'a Cid) -> BoxFuture<'a, Result<(), IpfsError>>;
    /// Every recursive and direct pin.
    fn pins(&self) -> BoxFuture<'_, Result<HashMap<Cid, PinKind>, IpfsError>>;
}

impl Daemon for IpfsClient {
    fn pin_add<'a>(
        &'a self,
        cid: &'a Cid,
        kind: PinKind,
        label: &'a PinLabel,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<(), IpfsError>> {
        IpfsClient::pin_add(self, cid, kind, label, timeout).boxed()
    }

    fn pin_rm<'a>(&'a self, cid: &'a Cid) -> BoxFuture<'a, Result<(), IpfsError>> {
        IpfsClient::pin_rm(self, cid).boxed()
    }

    fn pins(&self) -> BoxFuture<'_, Result<HashMap<Cid, PinKind>, IpfsError>> {
        IpfsClient::pins(self).boxed()
    }
}
