//! `swim-agent run`: one cluster member, its HTTP server, and a line on stdout per event.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use swim_checked::harness::{
    Clock, Lossy, Picker, RecordingPicker, RngPicker, UdpTransport, WallClock,
};
use swim_checked::{Builder, Meta, Node, Phase};
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::hub::Hub;
use crate::record::Recorder;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Longest wait for the leave on SIGTERM/SIGINT, beyond the node's own `leave_timeout`.
const LEAVE_GRACE: Duration = Duration::from_secs(5);

pub async fn run(settings: Settings) -> Result<(), Error> {
    // Installed before the node starts: the node registers its counters when it starts.
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    let mut stop = Box::pin(shutdown_signal()?);

    let leave_bound = settings.config.leave_timeout + LEAVE_GRACE;
    let name = settings.name.clone().or_else(|| default_name(&settings));
    let mut builder =
        Node::builder(settings.config.clone()).meta(Meta::from_pairs(settings.meta.clone()));
    if let Some(name) = name {
        // The same id every time this agent starts: a restart is the member's next generation.
        builder = builder.name(&name);
    }
    if let Some(addr) = settings.advertise {
        builder = builder.advertise(addr);
    }
    if let Some(keyring) = settings.keyring.clone() {
        builder = builder.keyring(keyring);
    }
    let node = match &settings.record {
        None => start(builder, &settings).await?,
        Some(path) => {
            // Recorded: wall-clock time (comparable across the hosts' processes) and every
            // random pick written down with the step that consumed it.
            let (picker, picks) = RecordingPicker::new(RngPicker::from_os());
            let recorder = Recorder::create(path, settings.config.to_core()?, picks)?;
            let builder = builder
                .clock(WallClock::new())
                .picker(picker)
                .observer(Arc::new(recorder));
            start(builder, &settings).await?
        }
    };
    let listener = TcpListener::bind(&settings.http)
        .await
        .map_err(|e| format!("cannot listen for HTTP on {}: {e}", settings.http))?;
    let http_addr = listener.local_addr()?;

    let hub = Hub::new(node.clone());
    let mut events = node.subscribe();
    let mut messages = node.messages();
    let app = crate::http::router(Arc::clone(&hub), metrics.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("swim-agent: HTTP server stopped: {e}");
        }
    });
    tokio::spawn(async move {
        // Drains the exporter's buffers (histograms); counters and gauges need nothing.
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            metrics.run_upkeep();
        }
    });
    println!(
        "started id={} generation={} addr={} http={http_addr} dashboard=http://{http_addr}/",
        node.id(),
        node.local_member().generation,
        node.local_addr()
    );

    if !settings.seeds.is_empty() {
        let joiner = node.clone();
        let seeds = settings.seeds;
        tokio::spawn(async move {
            match joiner.join(&seeds).await {
                Ok(joined) => println!(
                    "joined via {:?} ({} members known)",
                    joined.seeds, joined.members
                ),
                Err(e) => println!("join failed: {e}"),
            }
        });
    }

    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                println!("{}", hub.record_event(&event).line());
                if node.phase() == Phase::Removed {
                    // Only with `auto_rejoin = false`: the node stays out; say so once.
                    println!("removed from the cluster (auto_rejoin is off)");
                }
            }
            message = messages.recv() => {
                let Some(message) = message else { break };
                println!("{}", hub.record_message(&message).line());
            }
            () = &mut stop => {
                println!("leaving");
                match tokio::time::timeout(leave_bound, node.leave()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => println!("leave failed: {e}"),
                    Err(_) => println!("leave timed out after {leave_bound:?}"),
                }
                node.shutdown().await?;
                println!("left");
                break;
            }
        }
    }
    Ok(())
}

/// Start the node on the bound socket, through `--loss`'s lossy wrapper if asked.
async fn start<C: Clock, P: Picker>(
    builder: Builder<C, P>,
    settings: &Settings,
) -> Result<Node, Error> {
    Ok(match settings.loss {
        None => builder.bind(settings.bind.as_str()).await?,
        Some(loss) => {
            let udp = UdpTransport::bind(settings.bind.as_str())
                .await
                .map_err(|e| format!("bind {}: {e}", settings.bind))?;
            builder.start(Lossy::new(udp, loss.p, loss.seed))?
        }
    })
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
fn shutdown_signal() -> Result<impl Future<Output = ()>, Error> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Without `--name`, the address the agent is reached at names it, when it is known before
/// binding (a set port, a specific IP): a restart on the same address is the same member at its
/// next generation. Otherwise the member is unnamed and its id random.
fn default_name(settings: &Settings) -> Option<String> {
    let addr =
        (settings.advertise).or_else(|| settings.bind.parse::<std::net::SocketAddr>().ok())?;
    (addr.port() != 0 && !addr.ip().is_unspecified()).then(|| addr.to_string())
}
