//! Bad flags and bad config files: a clear message on stderr naming the flag, or the file, the
//! line and the field; a non-zero exit code; never a panic.

use std::net::TcpListener;
use std::process::Output;

use e2e::process::agent_command;

fn stderr(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!text.contains("panicked"), "the agent panicked:\n{text}");
    text
}

/// A config file in a fresh temporary directory; removed with the directory when dropped.
struct TempFile {
    dir: std::path::PathBuf,
    pub path: std::path::PathBuf,
}

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        let dir =
            std::env::temp_dir().join(format!("swim-agent-cli-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write the file");
        TempFile { dir, path }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run_with_config(name: &str, text: &str) -> (Output, String, TempFile) {
    let file = TempFile::new(name, text);
    let path = file.path.to_str().expect("utf-8 path").to_owned();
    let output = agent_command(&["run", "--config", &path]);
    (output, path, file)
}

#[test]
fn bad_flags_are_named_with_a_pointer_to_help() {
    for (args, named) in [
        (&["run", "--preset", "fast"][..], "--preset"),
        (&["run", "--meta", "role"], "--meta"),
        (&["run", "--advertise", "nowhere"], "--advertise"),
        (&["run", "--bogus"], "--bogus"),
        (&["frobnicate"], "frobnicate"),
    ] {
        let output = agent_command(args);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {text}");
        assert!(
            text.contains(named) && text.contains("--help"),
            "{args:?}: {text}"
        );
    }
}

#[test]
fn bad_config_files_name_the_file_the_line_and_the_field() {
    for (text, line, field) in [
        ("name = \"a\"\nbnid = \"127.0.0.1:0\"\n", "line 2", "bnid"),
        ("advertise = \"nowhere\"\n", "line 1", "advertise"),
        ("preset = \"fast\"\n", "line 1", "preset"),
        (
            "name = \"a\"\n[protocol]\nprobe_interval = \"soon\"\n",
            "line 3",
            "protocol.probe_interval",
        ),
        (
            "[protocol]\nprobe_interval = \"1s\"\nprobe_timeout = \"1s\"\n",
            "line 3",
            "protocol.probe_timeout",
        ),
        // A syntax error names the spot, not a field.
        (
            "seeds = [\"127.0.0.1:7946\"\nname = \"a\"\n",
            "line 2, column 1: missing comma",
            "",
        ),
    ] {
        let (output, path, _file) = run_with_config("agent.toml", text);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{text:?}: {err}");
        assert!(
            err.contains(&path) && err.contains(line) && err.contains(field),
            "{text:?} should name {path}, {line}, {field}:\n{err}"
        );
    }
}

#[test]
fn a_missing_config_file_or_key_file_is_named() {
    let output = agent_command(&["run", "--config", "/nonexistent/agent.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("/nonexistent/agent.toml"), "{err}");

    let (output, _, file) = run_with_config("keyed.toml", "key_file = \"keys\"\n");
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1));
    let keys = file.dir.join("keys");
    assert!(err.contains(keys.to_str().unwrap()), "{err}");
}

#[test]
fn an_unusable_address_is_named() {
    // A port already taken: the HTTP server cannot listen.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let http = taken.local_addr().unwrap().to_string();
    let output = agent_command(&["run", "--bind", "127.0.0.1:0", "--http", &http]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains(&http), "{err}");

    let output = agent_command(&["run", "--bind", "not-a-host:99999"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("not-a-host:99999"), "{err}");
}

#[test]
fn a_client_without_an_agent_says_so() {
    // A port nobody listens on any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let http = format!("127.0.0.1:{port}");
    for args in [
        &["members", "--http", &http][..],
        &["broadcast", "--http", &http, "hello"],
        &["events", "--http", &http],
    ] {
        let output = agent_command(args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("cannot reach the agent") && err.contains(&http),
            "{err}"
        );
    }
}
