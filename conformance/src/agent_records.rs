//! Recordings of `swim-agent` processes (`swim-agent run --record FILE`) checked against the
//! model: the agents of a run on real hosts each wrote one file (a restarted agent a new one),
//! all stamped with the hosts' shared wall clock, and [`validate_dir`] checks them together,
//! step by step, with [`crate::validate`].
//!
//! A file is JSON lines: a [`RecordHeader`], then one [`RecordedStep`] per transition. An agent
//! killed (SIGKILL) while writing leaves a last line without its newline: that line is dropped,
//! and since a killed process may have sent its last step's datagrams before writing it down,
//! the validator excuses datagrams received from it after its recording ends (counted apart).

use std::fs;
use std::path::Path;

use swim_checked::harness::{RecordHeader, RecordedStep};
use swim_checked_core::Config;

use crate::validate::{Divergence, Process, Validated, validate_processes};

/// One agent process's recording.
#[derive(Clone, Debug)]
pub struct AgentRecording {
    /// The file's name.
    pub name: String,
    pub config: Config,
    pub steps: Vec<RecordedStep>,
    /// Whether the last line was cut short (and dropped).
    pub truncated: bool,
}

/// Read one recording; `None` if the process died before it wrote its header.
pub fn load_file(path: &Path) -> Result<Option<AgentRecording>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let truncated = lines.last().is_some_and(|l| !l.ends_with('\n'));
    if truncated {
        lines.pop();
    }
    let Some((header, steps)) = lines.split_first() else {
        return Ok(None);
    };
    let at = |line: usize, e: serde_json::Error| format!("{}:{}: {e}", path.display(), line + 1);
    let header: RecordHeader = serde_json::from_str(header).map_err(|e| at(0, e))?;
    let steps = (steps.iter().enumerate())
        .map(|(i, line)| serde_json::from_str(line).map_err(|e| at(i + 1, e)))
        .collect::<Result<Vec<RecordedStep>, String>>()?;
    Ok(Some(AgentRecording {
        name: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        ),
        config: header.config,
        steps,
        truncated,
    }))
}

/// Every recording in `dir` (its regular files, in name order).
pub fn load_dir(dir: &Path) -> Result<Vec<AgentRecording>, String> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("read {}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| format!("read {}: {e}", dir.display()))?;
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            paths.push(entry.path());
        }
    }
    paths.sort();
    let mut recordings = Vec::new();
    for path in paths {
        recordings.extend(load_file(&path)?);
    }
    Ok(recordings)
}

/// What the recordings of a directory amounted to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirValidated {
    /// Agent processes whose recordings were validated.
    pub processes: usize,
    /// Of those, recordings whose last line was cut short.
    pub truncated: usize,
    pub validated: Validated,
}

/// Why the recordings of a directory do not pass.
#[derive(Clone, Debug)]
pub enum DirError {
    /// A file could not be read or parsed.
    Load(String),
    /// A step the model does not allow.
    Diverged(Divergence),
}

impl std::fmt::Display for DirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirError::Load(why) => f.write_str(why),
            DirError::Diverged(d) => write!(f, "divergence: {d}"),
        }
    }
}

impl std::error::Error for DirError {}

/// Load every recording in `dir` and validate them together as one run. Every process is
/// taken to be one that may have been killed (its recording may end anywhere).
pub fn validate_dir(dir: &Path) -> Result<DirValidated, DirError> {
    let recordings = load_dir(dir).map_err(DirError::Load)?;
    let processes: Vec<Process<'_>> = recordings
        .iter()
        .map(|r| Process {
            name: &r.name,
            config: &r.config,
            steps: &r.steps,
            may_end_early: true,
        })
        .collect();
    let validated =
        validate_processes(&dir.display().to_string(), &processes).map_err(DirError::Diverged)?;
    Ok(DirValidated {
        processes: recordings.len(),
        truncated: recordings.iter().filter(|r| r.truncated).count(),
        validated,
    })
}
