//! Agent processes for the tests: started with ephemeral ports on loopback, their stdout read
//! line by line, killed when dropped (so a failing test leaves no process behind), and a
//! small HTTP/1.0 client for their API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Generous: a few protocol periods of 200 ms are expected.
pub const WITHIN: Duration = Duration::from_secs(30);

/// Run the agent binary to completion (a client subcommand, a start-up that must fail).
pub fn agent_command(args: &[&str]) -> Output {
    Command::new(crate::agent_binary())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run swim-agent")
}

/// A child process whose stdout is read line by line; killed when dropped.
#[derive(Debug)]
pub struct Process {
    pub name: String,
    pub child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line read so far.
    pub log: Vec<String>,
}

impl Process {
    pub fn spawn(name: &str, cmd: &mut Command) -> Process {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Process {
            name: name.to_owned(),
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// Read lines until one satisfies `pred` (up to [`WITHIN`]); everything read is kept.
    pub fn wait_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
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
                    "{} did not print the expected line; output so far:\n{}",
                    self.name,
                    self.log.join("\n")
                ),
            }
        }
    }
}

impl Process {
    /// Wait (up to [`WITHIN`]) for the process to exit on its own.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + WITHIN;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the process") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {WITHIN:?}",
                self.name
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send SIGTERM (what `kill` and service managers send to stop it).
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Send the signal `name` (`TERM`, `STOP`, `CONT`, ...) with `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {}", self.name);
    }

    /// Move every line printed so far into [`log`](Process::log), without waiting.
    pub fn drain(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.log.push(line);
        }
        &self.log
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `swim-agent run` as a process, with the addresses it printed on start-up.
#[derive(Debug)]
pub struct Agent {
    pub name: &'static str,
    pub process: Process,
    pub id: String,
    /// UDP (gossip) address.
    pub addr: String,
    /// HTTP address, `127.0.0.1:port`.
    pub http: String,
}

impl Agent {
    /// `swim-agent run` with the `local` preset, any free ports, and `seed` to join.
    pub fn spawn(name: &'static str, seed: Option<&str>) -> Agent {
        Agent::spawn_with(name, seed, &["--preset", "local"])
    }

    /// `swim-agent run` with any free ports, `seed` to join, and more flags.
    pub fn spawn_with(name: &'static str, seed: Option<&str>, flags: &[&str]) -> Agent {
        let mut cmd = Command::new(crate::agent_binary());
        cmd.args(["run", "--bind", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(["--name", name])
            .args(flags);
        if let Some(seed) = seed {
            cmd.args(["--seed", seed]);
        }
        let mut process = Process::spawn(&format!("agent {name}"), &mut cmd);
        let started = process.wait_line(|l| l.starts_with("started "));
        Agent {
            name,
            id: field(&started, "id").to_owned(),
            addr: field(&started, "addr").to_owned(),
            http: field(&started, "http").to_owned(),
            process,
        }
    }

    /// Read the agent's stdout until a line satisfies `pred`.
    pub fn wait_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        self.process.wait_line(pred)
    }

    /// Kill the agent (SIGKILL: no leave) and reap it.
    pub fn kill(&mut self) {
        self.process.child.kill().expect("kill the agent");
        self.process.child.wait().expect("reap the agent");
    }

    /// Wait for an event line of `kind` about `id`; returns its position in the log.
    pub fn wait_event(&mut self, kind: &str, id: &str) -> usize {
        let line = self.wait_line(|l| is_event(l, kind, id));
        self.process
            .log
            .iter()
            .position(|l| *l == line)
            .expect("just read")
    }

    pub fn event_position(&self, kind: &str, id: &str) -> Option<usize> {
        self.process.log.iter().position(|l| is_event(l, kind, id))
    }

    /// `GET path` on the agent's HTTP API: the status code and the body.
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.http, path)
    }

    /// The member table from `GET /v1/members`.
    pub fn members(&self) -> Vec<serde_json::Value> {
        let (status, body) = self.get("/v1/members");
        assert_eq!(status, 200, "GET /v1/members: {body}");
        serde_json::from_str(&body).expect("JSON member table")
    }

    /// Poll the API (every 50 ms, up to [`WITHIN`]) until `pred` holds for the member table.
    pub fn wait_members(
        &self,
        what: &str,
        pred: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + WITHIN;
        loop {
            let members = self.members();
            if pred(&members) {
                return members;
            }
            assert!(
                Instant::now() < deadline,
                "agent {}: {what} not seen within {WITHIN:?}; table: {members:#?}",
                self.name
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// How many rows of the table have `status`.
pub fn count(members: &[serde_json::Value], status: &str) -> usize {
    members.iter().filter(|m| m["status"] == status).count()
}

/// The status of member `id` in the table.
pub fn status_of<'a>(members: &'a [serde_json::Value], id: &str) -> Option<&'a str> {
    members
        .iter()
        .find(|m| m["id"] == id)
        .and_then(|m| m["status"].as_str())
}

fn is_event(line: &str, kind: &str, id: &str) -> bool {
    line.starts_with("event ") && field(line, "kind") == kind && field(line, "id") == id
}

/// The value of `key=value` in a line.
pub fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

/// One HTTP/1.0 GET (the server closes the connection after the response).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    http(
        addr,
        &format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n"),
    )
}

/// One HTTP/1.0 POST of a JSON body.
pub fn http_post(addr: &str, path: &str, json: &str) -> (u16, String) {
    http(
        addr,
        &format!(
            "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{json}",
            json.len()
        ),
    )
}

fn http(addr: &str, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(WITHIN)).expect("timeout");
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("{request:?} to {addr}: {e}"));
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {response:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, body.to_owned())
}
