//! `run --record FILE`: every transition of the node, written as it happens, so that a run on
//! real hosts can be checked against the model step by step afterwards.
//!
//! The file is JSON lines: a [`RecordHeader`] (the protocol configuration), then one
//! [`RecordedStep`] per transition, the node's start first. Each line is written with one
//! `write` as soon as the step is done, so a killed process leaves every step but at most a
//! half-written last line.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use swim_checked::harness::{Observer, PickLog, RecordHeader, RecordedStep, Step};

/// The observer that writes the steps.
pub struct Recorder {
    /// `None` once a write failed (said once on stderr; the node runs on unrecorded).
    file: Mutex<Option<File>>,
    picks: PickLog,
}

impl Recorder {
    /// Create `path` and write the header; `picks` is the log of the node's
    /// [`RecordingPicker`](swim_checked::harness::RecordingPicker).
    pub fn create(
        path: &Path,
        config: swim_checked::harness::core::Config,
        picks: PickLog,
    ) -> Result<Recorder, String> {
        let fail = |e: &dyn std::fmt::Display| format!("cannot record to {}: {e}", path.display());
        let mut file = File::create(path).map_err(|e| fail(&e))?;
        let line = json_line(&RecordHeader { config }).map_err(|e| fail(&e))?;
        file.write_all(&line).map_err(|e| fail(&e))?;
        Ok(Recorder {
            file: Mutex::new(Some(file)),
            picks,
        })
    }
}

fn json_line<T: serde::Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    Ok(line)
}

impl Observer for Recorder {
    fn on_step(&self, step: &Step<'_>) {
        let record = RecordedStep::of(step, self.picks.take());
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let Some(out) = file.as_mut() else {
            return;
        };
        let written = json_line(&record)
            .map_err(|e| e.to_string())
            .and_then(|line| out.write_all(&line).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("swim-agent: recording stopped: {e}");
            *file = None;
        }
    }
}
