//! Agents on loopback record their runs (`--record`), and the recordings are checked against
//! the model step by step, as the chaos lab checks its hosts' (conformance of real runs): a
//! cluster forms, one agent broadcasts through its HTTP API, one is killed and declared dead,
//! one leaves on SIGTERM, then the last stops.

use std::fs;
use std::path::PathBuf;

use conformance::agent_records::validate_dir;
use e2e::process::{Agent, agent_command, count, status_of};

/// A fresh directory for this test's recordings.
fn records_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("swim-e2e-recordings-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create the recordings directory");
    dir
}

fn recording(dir: &std::path::Path, name: &str) -> String {
    dir.join(format!("{name}.jsonl")).display().to_string()
}

#[test]
fn loopback_recordings_are_model_steps() {
    let dir = records_dir();
    let spawn = |name: &'static str, seed: Option<&str>| {
        let file = recording(&dir, name);
        Agent::spawn_with(name, seed, &["--preset", "local", "--record", &file])
    };
    let mut a = spawn("a", None);
    let seed = a.addr.clone();
    let mut b = spawn("b", Some(&seed));
    let mut c = spawn("c", Some(&seed));
    for agent in [&a, &b, &c] {
        agent.wait_members("3 alive", |m| count(m, "alive") == 3);
    }
    // A broadcast through b's HTTP API (the client subcommand), delivered to the others.
    let sent = agent_command(&["broadcast", "--http", &b.http, "checked"]);
    assert!(sent.status.success(), "{sent:?}");
    for agent in [&mut a, &mut c] {
        agent.wait_line(|l| l.contains("text=\"checked\""));
    }
    // SIGKILL: c's last line may be cut short, and its last sends unrecorded.
    c.kill();
    for agent in [&mut a, &mut b] {
        agent.wait_event("dead", &c.id);
        agent.wait_members("c dead", |m| status_of(m, &c.id) == Some("dead"));
    }
    // SIGTERM: b leaves gracefully, and a holds it left.
    b.process.terminate();
    b.wait_line(|l| l == "left");
    assert!(b.process.wait_exit().success());
    a.wait_members("b left", |m| status_of(m, &b.id) == Some("left"));
    a.kill();

    let done = validate_dir(&dir)
        .unwrap_or_else(|e| panic!("the recordings in {} do not pass: {e}", dir.display()));
    eprintln!("validated against the model: {done:?}");
    assert_eq!(done.processes, 3, "one recording per agent: {done:?}");
    // Each agent joined, probed, two of them judged c, b broadcast and left: far more than a
    // handful of steps, most of them datagrams matched with their sends.
    assert!(done.validated.steps >= 30, "{done:?}");
    assert!(done.validated.delivered >= 10, "{done:?}");
    let _ = fs::remove_dir_all(&dir);
}
