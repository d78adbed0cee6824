//! Three agents (`impl/examples/agent.rs`) as three OS processes on loopback: they form a
//! cluster; one is killed with SIGKILL and the other two report it suspect, then dead; one
//! leaves on SIGTERM and the last reports it left.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Generous: a few protocol periods of 200 ms are expected.
const WITHIN: Duration = Duration::from_secs(30);

struct Agent {
    name: &'static str,
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    id: String,
    addr: String,
}

impl Agent {
    fn spawn(name: &'static str, join: Option<&str>) -> Agent {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_swim-agent"));
        cmd.args(["--bind", "127.0.0.1:0", "--preset", "local", "--name", name]);
        if let Some(seed) = join {
            cmd.args(["--join", seed]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the agent");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut agent = Agent {
            name,
            child,
            lines,
            log: Vec::new(),
            id: String::new(),
            addr: String::new(),
        };
        let started = agent.wait_line(|l| l.starts_with("started "));
        agent.id = field(&started, "id").to_owned();
        agent.addr = field(&started, "addr").to_owned();
        agent
    }

    /// Read lines until one satisfies `pred`; everything read is kept in the log.
    fn wait_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        if let Some(line) = self.log.iter().find(|l| pred(l)) {
            return line.clone();
        }
        let deadline = Instant::now() + WITHIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "agent {} did not print the expected line; output so far:\n{}",
                    self.name,
                    self.log.join("\n")
                ),
            }
        }
    }

    /// Wait for an event line of `kind` about `id`; returns its position in the log.
    fn wait_event(&mut self, kind: &str, id: &str) -> usize {
        let line = self.wait_line(|l| {
            l.starts_with("event ") && field(l, "kind") == kind && field(l, "id") == id
        });
        self.log.iter().position(|l| *l == line).unwrap()
    }

    fn event_position(&self, kind: &str, id: &str) -> Option<usize> {
        self.log.iter().position(|l| {
            l.starts_with("event ") && field(l, "kind") == kind && field(l, "id") == id
        })
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `key=value` in a line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

#[test]
fn three_agents_form_a_cluster_and_detect_a_killed_one() {
    let mut a = Agent::spawn("a", None);
    let seed = a.addr.clone();
    let mut b = Agent::spawn("b", Some(&seed));
    let mut c = Agent::spawn("c", Some(&seed));
    let ids: BTreeSet<String> = [&a, &b, &c].iter().map(|x| x.id.clone()).collect();
    assert_eq!(ids.len(), 3);

    // Everyone sees the two others join.
    let (ia, ib, ic) = (a.id.clone(), b.id.clone(), c.id.clone());
    for (agent, others) in [
        (&mut a, [&ib, &ic]),
        (&mut b, [&ia, &ic]),
        (&mut c, [&ia, &ib]),
    ] {
        for other in others {
            agent.wait_event("joined", other);
        }
        agent.wait_line(|l| l.starts_with("membership: 3 alive, 0 suspect"));
    }

    // SIGKILL: no leave, no goodbye.
    c.child.kill().unwrap();
    c.child.wait().unwrap();
    let mut suspected = 0;
    for agent in [&mut a, &mut b] {
        let dead = agent.wait_event("dead", &c.id);
        if agent
            .event_position("suspect", &c.id)
            .is_some_and(|s| s < dead)
        {
            suspected += 1;
        }
        agent.wait_line(|l| l.starts_with("membership: 2 alive, 0 suspect, 1 dead"));
    }
    assert!(
        suspected >= 1,
        "nobody reported the killed agent suspect first"
    );

    // SIGTERM: a graceful leave, reported as such.
    let status = Command::new("kill")
        .args(["-TERM", &b.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    b.wait_line(|l| l == "left");
    assert!(b.child.wait().unwrap().success());
    a.wait_event("left", &b.id);
    assert!(a.event_position("dead", &b.id).is_none());
}
