//! `pin/ls` from the cluster's pinset, streamed from the store in both of kubo's shapes:
//! `{"Keys":{cid:{"Type","Name"}}}` (`{}` when empty) or, with `stream=true`, ndjson
//! `{"Cid","Name"?,"Type"}` with `X-Chunked-Output: 1`. The cluster knows no DAGs, so it has
//! no indirect pins: `type=indirect` lists nothing and `all` is recursive plus direct.
//! Names show with `names=true` (else `"Name":""` in the object and no `Name` in lines, as
//! kubo), and `name=<substring>` keeps only pins whose name contains it (implying `names`);
//! with `arg`s, as kubo, neither applies.
//! Cairn's `consistency=linearizable` argument makes the read see every write acknowledged
//! anywhere before it (docs/consistency.md); by default it is this peer's applied pinset.

use bytes::Bytes;
use cairn_kubo::pin_name::NameListing;
use cairn_kubo::pin_type::{PinType, kind_word};
use futures::StreamExt;
use futures::stream::BoxStream;
use http::Response;
use serde_json::{Map, Value, json};

use super::Ctx;
use super::cluster::{ClusterError, PinInfo};
use super::error::InterceptError;
use super::query::{Query, cid_arg};
use super::reply::{self, Lines};
use crate::Body;

/// `pin/ls`: parse → read the pinset → answer in the asked shape.
pub(super) async fn serve(ctx: &Ctx, query: Query) -> Result<Response<Body>, InterceptError> {
    let filter = PinType::parse(query.string(&["type", "t"]).unwrap_or("all"))
        .map_err(|e| InterceptError::Command(e.to_string()))?;
    let stream = query.bool(&["stream", "s"], false)?;
    let mut names = NameListing::new(query.bool(&["names"], false)?, query.string(&["name"]))
        .map_err(|e| InterceptError::Command(e.to_string()))?;
    match query.string(&["consistency"]).unwrap_or("local") {
        "local" => {}
        "linearizable" => ctx.cluster.linearize().await?,
        other => {
            return Err(InterceptError::BadOption(format!(
                "invalid consistency '{other}', must be one of {{local, linearizable}}"
            )));
        }
    }
    let args = query.args();
    if !args.is_empty() {
        // kubo's listing of named arguments shows no names and applies no name filter.
        names = NameListing::default();
    }
    let pins: BoxStream<'static, Result<PinInfo, ClusterError>> = if args.is_empty() {
        Box::pin(ctx.cluster.list())
    } else {
        Box::pin(futures::stream::iter(
            named(ctx, &args, filter).await?.into_iter().map(Ok),
        ))
    };
    let shown = names.clone();
    let pins = pins
        .filter(move |p| {
            let kept = p
                .as_ref()
                .map_or(true, |p| filter.shows_pin(p.recursive) && names.keeps(&p.name));
            futures::future::ready(kept)
        })
        .map(move |p| {
            p.map(|mut p| {
                p.name = shown.shown(&p.name).to_owned();
                p
            })
        });
    let pins: BoxStream<'static, Result<PinInfo, ClusterError>> = Box::pin(pins);
    Ok(if stream {
        ndjson(pins)
    } else {
        keys_object(pins).await?
    })
}

/// The pins the `arg`s name; kubo's error for the first that is not pinned (as `type` asks).
async fn named(ctx: &Ctx, args: &[String], filter: PinType) -> Result<Vec<PinInfo>, InterceptError> {
    let mut out = Vec::with_capacity(args.len());
    for arg in args {
        let not_pinned = || InterceptError::Command(format!("path '{arg}' is not pinned"));
        let cid = cid_arg(arg).map_err(|_| not_pinned())?;
        let pin = ctx
            .cluster
            .get(cid)
            .await?
            .filter(|p| filter.shows_pin(p.recursive));
        out.push(pin.ok_or_else(not_pinned)?);
    }
    Ok(out)
}

fn ndjson(mut pins: BoxStream<'static, Result<PinInfo, ClusterError>>) -> Response<Body> {
    let (response, lines) = reply::ndjson();
    tokio::spawn(async move {
        while let Some(pin) = pins.next().await {
            match pin {
                Ok(pin) if lines.line(&stream_line(&pin)).await => {}
                Ok(_) => return,
                Err(e) => return lines.fail(&e.to_string()).await,
            }
        }
    });
    response
}

fn stream_line(pin: &PinInfo) -> Value {
    let mut line = Map::new();
    line.insert("Cid".into(), pin.cid.to_string().into());
    if !pin.name.is_empty() {
        line.insert("Name".into(), pin.name.clone().into());
    }
    line.insert("Type".into(), kind_word(pin.recursive).into());
    Value::Object(line)
}

/// The non-stream object, written entry by entry as the store yields them.
async fn keys_object(
    mut pins: BoxStream<'static, Result<PinInfo, ClusterError>>,
) -> Result<Response<Body>, InterceptError> {
    let Some(first) = pins.next().await.transpose()? else {
        return Ok(reply::json(&json!({})));
    };
    let (mut response, lines) = reply::ndjson();
    response.headers_mut().remove("x-chunked-output");
    tokio::spawn(async move {
        if !lines
            .raw(Bytes::from(format!("{{\"Keys\":{{{}", entry(&first))))
            .await
        {
            return;
        }
        write_rest(pins, lines).await;
    });
    Ok(response)
}

async fn write_rest(mut pins: BoxStream<'static, Result<PinInfo, ClusterError>>, lines: Lines) {
    while let Some(pin) = pins.next().await {
        match pin {
            Ok(pin) if lines.raw(Bytes::from(format!(",{}", entry(&pin)))).await => {}
            Ok(_) => return,
            Err(e) => return lines.fail(&e.to_string()).await,
        }
    }
    lines.raw(Bytes::from_static(b"}}\n")).await;
}

fn entry(pin: &PinInfo) -> String {
    let value = json!({"Type": kind_word(pin.recursive), "Name": pin.name});
    format!("{}:{value}", Value::from(pin.cid.to_string()))
}
