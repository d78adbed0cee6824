//! The corpus: every trace in `traces/`, every node of each, replayed in parallel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use model::checker::{Input, Outsider, Trace, UserCommand};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::replay::{Divergence, Options, replay_node};
use crate::script::Script;

/// The corpus directory of the workspace.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces")
}

/// Every `*.json` trace under `dir` (recursively), sorted by path; names are relative to `dir`.
pub fn load_dir(dir: &Path) -> Result<Vec<Script>, String> {
    let mut files = Vec::new();
    collect(dir, &mut files).map_err(|e| format!("{}: {e}", dir.display()))?;
    files.sort();
    files
        .iter()
        .map(|path| {
            let name = path.strip_prefix(dir).unwrap_or(path).display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
            let trace: Trace =
                serde_json::from_str(&text).map_err(|e| format!("{name}: not a trace: {e}"))?;
            Script::from_trace(name, &trace)
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// What a corpus run did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub traces: usize,
    /// (trace, node) pairs replayed.
    pub replays: usize,
    /// Trace steps (of all kinds) in the corpus.
    pub trace_steps: usize,
    /// Node steps compared with a real node.
    pub compared: usize,
    /// Datagrams delivered to and read from real nodes.
    pub delivered: usize,
    pub sent: usize,
    /// Trace steps by kind, over the corpus.
    pub kinds: BTreeMap<&'static str, usize>,
    /// Every divergence, in (trace, node) order.
    pub divergences: Vec<Divergence>,
}

impl Summary {
    /// One line of figures and one line of step kinds.
    pub fn describe(&self) -> String {
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        format!(
            "{} traces ({} steps), {} node replays: {} node steps compared, {} datagrams delivered, \
             {} read; {} divergent\nstep kinds: {}",
            self.traces,
            self.trace_steps,
            self.replays,
            self.compared,
            self.delivered,
            self.sent,
            self.divergences.len(),
            kinds.join(", ")
        )
    }
}

/// The kind of a trace step, for coverage counts.
pub fn kind(input: &Input) -> &'static str {
    match input {
        Input::None => "none",
        Input::Deliver { .. } => "deliver",
        Input::Drop { .. } => "drop",
        Input::Duplicate { .. } => "duplicate",
        Input::Replay { .. } => "replay",
        Input::Timer { .. } => "timer",
        Input::Advance { .. } => "advance",
        Input::Crash { .. } => "crash",
        Input::Restart { .. } => "restart",
        Input::Pause { .. } => "pause",
        Input::Resume { .. } => "resume",
        Input::Outsider {
            wrong: Outsider::OtherCluster,
            ..
        } => "outsider-other-cluster",
        Input::Outsider {
            wrong: Outsider::Oversize,
            ..
        } => "outsider-oversize",
        Input::Outsider {
            wrong: Outsider::MetaOverLimit,
            ..
        } => "outsider-meta-over-limit",
        Input::Outsider {
            wrong: Outsider::TooManySuspecters,
            ..
        } => "outsider-too-many-suspecters",
        Input::Command {
            command: UserCommand::Leave,
            ..
        } => "leave",
        Input::Command {
            command: UserCommand::SetMeta(_),
            ..
        } => "set-metadata",
        Input::Command {
            command: UserCommand::ConfirmDead(_),
            ..
        } => "confirm-dead",
        Input::Command {
            command: UserCommand::Rejoin(_),
            ..
        } => "rejoin",
        Input::Command {
            command: UserCommand::Broadcast(_),
            ..
        } => "broadcast",
        Input::Command {
            command: UserCommand::SendTo(..),
            ..
        } => "send-to",
    }
}

/// Replay every node of every script, `parallel` replays at a time. After `max_divergences`
/// divergences the rest are cancelled (a broken shell fails fast instead of waiting out every
/// replay's timeout).
pub async fn replay_all(
    scripts: &[Arc<Script>],
    opts: &Options,
    parallel: usize,
    max_divergences: usize,
) -> Summary {
    let mut summary = Summary {
        traces: scripts.len(),
        ..Summary::default()
    };
    for s in scripts {
        summary.trace_steps += s.steps.len();
        for step in &s.steps {
            *summary.kinds.entry(kind(&step.input)).or_default() += 1;
        }
    }
    let permits = Arc::new(Semaphore::new(parallel.max(1)));
    let mut set = JoinSet::new();
    for (t, script) in scripts.iter().enumerate() {
        for i in script.starts.iter().map(|s| s.index) {
            let (script, opts, permits) = (script.clone(), opts.clone(), permits.clone());
            set.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("never closed");
                ((t, i), replay_node(&script, i, &opts).await)
            });
        }
    }
    let mut divergences = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (at, result) = joined.expect("a replay panicked");
        summary.replays += 1;
        match result {
            Ok(r) => {
                summary.compared += r.steps;
                summary.delivered += r.delivered;
                summary.sent += r.sent;
            }
            Err(d) => {
                divergences.push((at, d));
                if divergences.len() >= max_divergences {
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                    break;
                }
            }
        }
    }
    divergences.sort_by_key(|(at, _)| *at);
    summary.divergences = divergences.into_iter().map(|(_, d)| d).collect();
    summary
}

/// A runtime for replays: two worker threads (the CI machine has two cores).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
