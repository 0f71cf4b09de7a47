//! The connector's pin calls: `pin/add` with the no-progress watchdog, `pin/rm` where "not
//! pinned" counts as done, `pin/ls` of **both** recursive and direct pins (ipfs-cluster asked
//! only for the first filter, quirk 4), `block/put`, `id`.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use serde_json::Value;

use super::{IpfsClient, IpfsError};

/// What a pin is called and carries, passed down to the daemon with it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinLabel {
    /// The pin's name (empty: none).
    pub name: String,
    /// Its metadata (sent only to a Cairn gateway).
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// How the daemon has a CID pinned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinKind {
    /// With everything below it.
    Recursive,
    /// Only the block.
    Direct,
}

impl IpfsClient {
    /// `pin/add?progress=true`: fails when the daemon sends nothing for `pin_timeout` (every
    /// progress line restarts it) or answers without the pin. The pin's name goes along
    /// (kubo 0.26's `name`, cut to kubo's 255 bytes; daemons that do not know it ignore it),
    /// and its metadata too when the daemon is a Cairn gateway (`meta-<key>`), so a child
    /// cluster's pin carries both.
    pub async fn pin_add(
        &self,
        cid: &Cid,
        kind: PinKind,
        label: &PinLabel,
        pin_timeout: Duration,
    ) -> Result<(), IpfsError> {
        let call = format!("pin/add?{}", self.pin_add_query(cid, kind, label));
        let body = self.exchange(&call, None, Bytes::new(), pin_timeout).await?;
        let lines = body.split(|b| *b == b'\n').filter(|l| !l.is_empty());
        let pinned = lines
            .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
            .any(|v| v["Pins"].as_array().is_some_and(|p| !p.is_empty()));
        if pinned {
            Ok(())
        } else {
            Err(self.refused(200, format!("pin/add of {cid} answered without the pin")))
        }
    }

    fn pin_add_query(&self, cid: &Cid, kind: PinKind, label: &PinLabel) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("arg", &cid.to_string());
        let recursive = if kind == PinKind::Recursive {
            "true"
        } else {
            "false"
        };
        query.append_pair("recursive", recursive);
        query.append_pair("progress", "true");
        if !label.name.is_empty() {
            // kubo refuses names over 255 bytes; the cluster pin keeps its whole name.
            query.append_pair("name", cairn_kubo::pin_name::within_limit(&label.name));
        }
        if self.is_cairn() {
            for (key, value) in &label.metadata {
                query.append_pair(&format!("meta-{key}"), value);
            }
        }
        query.finish()
    }

    /// `pin/rm`; a CID the daemon does not have pinned counts as unpinned.
    pub async fn pin_rm(&self, cid: &Cid) -> Result<(), IpfsError> {
        match self
            .exchange(
                &format!("pin/rm?arg={cid}"),
                None,
                Bytes::new(),
                self.timeouts().unpin,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(IpfsError::Refused { message, .. }) if is_not_pinned(&message) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// Every recursive and direct pin of the daemon.
    pub async fn pins(&self) -> Result<HashMap<Cid, PinKind>, IpfsError> {
        let mut all = HashMap::new();
        for kind in [PinKind::Direct, PinKind::Recursive] {
            let word = if kind == PinKind::Recursive {
                "recursive"
            } else {
                "direct"
            };
            let body = self
                .exchange(
                    &format!("pin/ls?type={word}&stream=true"),
                    None,
                    Bytes::new(),
                    self.timeouts().request,
                )
                .await?;
            all.extend(listed_cids(&body).into_iter().map(|cid| (cid, kind)));
        }
        let count = u64::try_from(all.len()).unwrap_or(u64::MAX - 1);
        self.listed.store(count, std::sync::atomic::Ordering::Relaxed);
        Ok(all)
    }

    /// How many pins (recursive and direct) the daemon listed at the last [`Self::pins`]: the
    /// tracker's last comparison. `None` before the first listing.
    pub fn listed_pins(&self) -> Option<u64> {
        let count = self.listed.load(std::sync::atomic::Ordering::Relaxed);
        (count != u64::MAX).then_some(count)
    }

    /// `block/put` of `data` as a raw block (asked for in kubo's and in js-ipfs's words:
    /// js-ipfs defaults to dag-pb); the CID the daemon gives it.
    pub async fn block_put(&self, data: Bytes) -> Result<Cid, IpfsError> {
        let (kind, body) = block_form(data);
        let answer = self
            .exchange(
                "block/put?cid-codec=raw&format=raw",
                Some(&kind),
                body,
                self.timeouts().request,
            )
            .await?;
        let value: Value = serde_json::from_slice(answer.split(|b| *b == b'\n').next().unwrap_or_default())
            .unwrap_or_default();
        value["Key"]
            .as_str()
            .and_then(|k| Cid::try_from(k).ok())
            .ok_or_else(|| self.refused(200, format!("block/put answered {value}")))
    }

    /// `id`: the daemon's peer id and addresses.
    pub async fn id(&self) -> Result<(String, Vec<String>), IpfsError> {
        let body = self.post("id").await?;
        let value: Value = serde_json::from_slice(&body).unwrap_or_default();
        let addresses = value["Addresses"].as_array().into_iter().flatten();
        let addresses = addresses.filter_map(|a| a.as_str().map(str::to_owned)).collect();
        Ok((value["ID"].as_str().unwrap_or_default().to_owned(), addresses))
    }

    pub(crate) fn refused(&self, status: u16, message: String) -> IpfsError {
        IpfsError::Refused {
            target: cairn_gateway::config::target_multiaddr(&self.target),
            status,
            message,
        }
    }
}

/// kubo's and js-ipfs's ways of saying a CID is not pinned.
fn is_not_pinned(message: &str) -> bool {
    message.contains("not pinned")
}

/// The CIDs of a `pin/ls` answer: ndjson `{"Cid":…}` lines (stream) or one `{"Keys":{…}}`.
pub fn listed_cids(body: &[u8]) -> Vec<Cid> {
    let mut out = Vec::new();
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(value) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if let Some(cid) = value["Cid"].as_str().and_then(|c| Cid::try_from(c).ok()) {
            out.push(cid);
        }
        if let Some(keys) = value["Keys"].as_object() {
            out.extend(keys.keys().filter_map(|k| Cid::try_from(k.as_str()).ok()));
        }
    }
    out
}

/// `data` as the one-file multipart form `block/put` reads: (content type, body).
pub(super) fn block_form(data: Bytes) -> (String, Bytes) {
    const BOUNDARY: &str = "cairn-block-boundary";
    let mut body = Vec::with_capacity(data.len() + 200);
    body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"block\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    body.extend_from_slice(&data);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    (
        format!("multipart/form-data; boundary={BOUNDARY}"),
        Bytes::from(body),
    )
}
