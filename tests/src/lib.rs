//! Helpers for the end-to-end tests: the `swim-agent` binary, built on demand, agent
//! processes on loopback, and a lab of hosts in network namespaces for chaos runs.

pub mod netns;
pub mod process;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The `swim-agent` binary of this workspace, built (or found up to date) by cargo the first
/// time it is asked for, with the profile the tests run under so that no dependency is
/// compiled twice. A binary of another package has no `CARGO_BIN_EXE_*` here, and a copy of
/// the agent's `[[bin]]` in this package would write to the same file.
pub fn agent_binary() -> &'static PathBuf {
    static AGENT: OnceLock<PathBuf> = OnceLock::new();
    AGENT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let profile = if cfg!(debug_assertions) {
            "test"
        } else {
            "release"
        };
        let output = Command::new(cargo)
            .args([
                "build",
                "-p",
                "swim-checked",
                "--bin",
                "swim-agent",
                "--profile",
                profile,
            ])
            .args(["--message-format", "json-render-diagnostics"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run cargo to build swim-agent");
        assert!(
            output.status.success(),
            "building swim-agent failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|msg| msg["target"]["name"] == "swim-agent")
            .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported the swim-agent executable")
    })
}
