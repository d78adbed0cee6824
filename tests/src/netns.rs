//! A lab of hosts in Linux network namespaces, one `swim-agent` on each, and the faults a real
//! network has: a cut link, a partition, a stopped or killed process, loss.
//!
//! The hosts hang off a bridge in a "switch" namespace, each through a veth pair: one end is
//! `eth0` in the host's namespace, the other end (named after the host) is a port of the bridge.
//! Cutting a host downs its port; a partition moves ports to a second bridge. Nothing is created
//! in the root namespace but the namespaces themselves, whose names start with
//! `swim-<pid>-<lab>-`: a lab never meets another test's or another run's.
//!
//! Every agent records its transitions (`--record`) into the lab's directory, one file per
//! agent process; [`Lab::validate_recordings`] checks them against the model step by step.
//!
//! Needs root and iproute2; without them [`Lab::new`] says why and returns `None`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use conformance::agent_records::{DirValidated, validate_dir};
use swim_checked_core::Config;
use swim_checked_core::suspicion::Bounds;

use crate::process::{Process, field};

/// The UDP port every agent binds (each host has its own address).
const GOSSIP_PORT: u16 = 7946;
/// The HTTP port every agent listens on, on its namespace's own loopback.
const HTTP: &str = "127.0.0.1:8946";
/// How often [`Lab::converge`] reads the member tables.
const POLL: Duration = Duration::from_millis(200);
/// Longest wait for one `swim-agent members` (a stopped agent never answers).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The timing preset the lab's agents run (`--preset local`).
pub fn preset() -> Config {
    Config::local()
}

/// How long a cluster of `hosts` agents on the `local` preset may take to agree again once a
/// fault is over (or after start-up), from the preset's own figures:
///
/// - `2 x sync_interval`: the two sides of a cut or a partition each hold the other dead and
///   no longer probe it; only push-pull, which also goes to the dead while their tombstone
///   lasts, brings them together. A node's next round is at most one interval away, and its
///   partner order may need a second round to reach the other side;
/// - `join_retry_interval x join_attempts`: a node that learnt it was removed rejoins, and a
///   restarted one joins, through seeds that may miss the first attempts;
/// - `hosts x probe_interval`: every member is probed once per pass over the table, so a
///   member that is gone (a killed agent, a stale id) is found within a pass;
/// - the longest suspicion for `hosts` members (Lifeguard's `beta x alpha x max(1, log10 n) x
///   probe_interval`, no confirmation): then it is dead;
/// - `retransmit_mult x ceil(log10(hosts + 1)) x probe_interval`: the resulting records are
///   piggybacked that many times, one probe period apart, which reaches every member.
///
/// With `local` and 5 hosts: 30 s + 2 s + 1 s + 4.8 s + 0.8 s = 38.6 s.
pub fn convergence_bound(hosts: usize) -> Duration {
    let c = preset();
    let spread = u64::from(c.retransmit_mult) * ((hosts as f64 + 1.0).log10().ceil() as u64);
    let ms = 2 * c.sync_interval
        + c.join_retry_interval * u64::from(c.join_attempts)
        + hosts as u64 * c.probe_interval
        + Bounds::new(&c, hosts).max
        + spread * c.probe_interval;
    Duration::from_millis(ms)
}

/// Who a member is, as the convergence check and the assertions compare it: its name and its
/// generation (its id is the name's, whatever the generation).
pub fn identity(member: &serde_json::Value) -> (String, String) {
    let name = member["name"].as_str().unwrap_or("?").to_owned();
    (name, member["generation"].to_string())
}

/// `name@generation`, enough to tell identities apart in a message.
fn short((name, generation): &(String, String)) -> String {
    format!("{name}@{generation}")
}

/// A member table in one line: `h1/0ef4 alive, h2/71b5 dead, ...`.
fn table(members: &[serde_json::Value]) -> String {
    let rows: Vec<String> = members
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                short(&identity(m)),
                m["status"].as_str().unwrap_or("?")
            )
        })
        .collect();
    rows.join(", ")
}

/// Statuses after which a member is out of the cluster under that id.
fn terminal(status: &str) -> bool {
    matches!(status, "dead" | "left")
}

/// One host: a namespace, its address, and the agent running there (if any).
#[derive(Debug)]
pub struct Host {
    /// `h1`, `h2`, ...: the host's agent runs under this `--name`.
    pub name: String,
    pub ns: String,
    pub ip: Ipv4Addr,
    agent: Option<Process>,
    /// Stopped with SIGSTOP (not asked for its table: it would not answer).
    stopped: bool,
    /// Stdout of the agents that ran here before the current one.
    past: Vec<String>,
    /// Agents started here so far (each records to its own file).
    started: usize,
}

impl Host {
    /// `ip:port` of the agent's gossip socket.
    pub fn addr(&self) -> String {
        format!("{}:{GOSSIP_PORT}", self.ip)
    }

    /// Every stdout line of every agent run on this host, oldest first.
    pub fn log(&mut self) -> Vec<String> {
        let mut all = self.past.clone();
        if let Some(agent) = &mut self.agent {
            all.extend_from_slice(agent.drain());
        }
        all
    }
}

/// The agreed membership: every running agent's name and identity.
pub type Agreed = BTreeMap<String, (String, String)>;

/// Hosts in namespaces on one switch; dropping it kills the agents and deletes the namespaces
/// (also when the test panics).
#[derive(Debug)]
pub struct Lab {
    pub test: String,
    switch: String,
    pub hosts: Vec<Host>,
    /// Every namespace created, to delete.
    created: Vec<String>,
    /// Where the agents record their transitions (deleted with the lab unless it panicked).
    pub records: PathBuf,
}

impl Lab {
    /// A switch and `hosts` hosts, or `None` (with the reason on stderr) when this machine
    /// cannot create network namespaces.
    pub fn new(test: &str, hosts: usize) -> Option<Lab> {
        assert!((1..=254).contains(&hosts), "{hosts} hosts do not fit a /24");
        static LABS: AtomicU32 = AtomicU32::new(0);
        let pid = std::process::id();
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("swim-{pid}-{n}-");
        // 10.x.y.0/24, different for the labs of one run and (most likely) of parallel runs.
        let k = (pid.wrapping_mul(31).wrapping_add(n)) % (254 * 254);
        let (x, y) = ((k / 254 + 1) as u8, (k % 254 + 1) as u8);

        let switch = format!("{prefix}sw");
        match Command::new("ip").args(["netns", "add", &switch]).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => return skip(test, &String::from_utf8_lossy(&out.stderr)),
            Err(e) => return skip(test, &e.to_string()),
        }
        let records = std::env::temp_dir().join(format!("{prefix}records"));
        let mut lab = Lab {
            test: test.to_owned(),
            switch: switch.clone(),
            hosts: Vec::new(),
            created: vec![switch.clone()],
            records,
        };
        if let Err(e) = std::fs::create_dir_all(&lab.records) {
            panic!("{test}: create {}: {e}", lab.records.display());
        }
        // From here a failure panics, and the drop deletes what was made.
        for bridge in ["br0", "br1"] {
            lab.ip_switch(&[
                "link",
                "add",
                bridge,
                "type",
                "bridge",
                "forward_delay",
                "0",
            ]);
            lab.ip_switch(&["link", "set", bridge, "up"]);
        }
        for h in 1..=hosts {
            let name = format!("h{h}");
            let ns = format!("{prefix}{name}");
            ip(&["netns", "add", &ns]);
            lab.created.push(ns.clone());
            let addr = Ipv4Addr::new(10, x, y, h as u8);
            lab.ip_switch(&[
                "link", "add", &name, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ]);
            lab.ip_switch(&["link", "set", &name, "master", "br0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            lab.hosts.push(Host {
                name,
                ns,
                ip: addr,
                agent: None,
                stopped: false,
                past: Vec::new(),
                started: 0,
            });
        }
        Some(lab)
    }

    /// `ip -n <switch> args...`.
    fn ip_switch(&self, args: &[&str]) {
        let mut all = vec!["-n", self.switch.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Start `swim-agent run` on host `h` (an index into [`hosts`](Lab::hosts)) with the
    /// `local` preset and `flags`, seeded with every host whose agent runs; returns once it
    /// printed its `started` line.
    pub fn start(&mut self, h: usize, flags: &[&str]) {
        let seeds: Vec<String> = self
            .hosts
            .iter()
            .filter(|other| other.agent.is_some())
            .map(Host::addr)
            .collect();
        let host = &mut self.hosts[h];
        assert!(host.agent.is_none(), "{} already runs an agent", host.name);
        host.started += 1;
        let record = (self.records).join(format!("{}.{}.jsonl", host.name, host.started));
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &host.ns])
            .arg(crate::agent_binary())
            .args(["run", "--bind", &host.addr(), "--http", HTTP])
            .args(["--name", &host.name, "--preset", "local"])
            .arg("--record")
            .arg(&record)
            .args(flags);
        if !seeds.is_empty() {
            cmd.args(["--seed", &seeds.join(",")]);
        }
        // `ip netns exec` execs the agent: the child's pid is the agent's.
        let mut agent = Process::spawn(&format!("{} agent {}", self.test, host.name), &mut cmd);
        agent.wait_line(|l| l.starts_with("started "));
        host.agent = Some(agent);
        host.stopped = false;
    }

    /// Start an agent on every host, in order, each seeded with those before it.
    pub fn start_all(&mut self, flags: &[&str]) {
        for h in 0..self.hosts.len() {
            self.start(h, flags);
        }
    }

    /// SIGKILL host `h`'s agent (no leave) and reap it; its output is kept.
    pub fn kill(&mut self, h: usize) {
        let host = &mut self.hosts[h];
        let mut agent = host.agent.take().expect("an agent runs there");
        agent.child.kill().expect("kill the agent");
        agent.child.wait().expect("reap the agent");
        host.past.extend_from_slice(agent.drain());
        host.stopped = false;
    }

    /// SIGKILL every agent (the run is over), then check every agent process's recording
    /// against the model, step by step, as one run; prints what was validated. Panics at a
    /// divergence, which names the file, the step and what differs.
    pub fn validate_recordings(&mut self) -> DirValidated {
        for h in 0..self.hosts.len() {
            if self.hosts[h].agent.is_some() {
                self.kill(h);
            }
        }
        let test = &self.test;
        let done = validate_dir(&self.records).unwrap_or_else(|e| {
            panic!(
                "{test}: the recordings in {} do not pass: {e}",
                self.records.display()
            )
        });
        let v = done.validated;
        eprintln!(
            "{test}: validated against the model: {} agent processes, {} steps; {} datagrams \
             delivered, {} not; {} received from a killed agent's unwritten last step; {} \
             recordings cut mid-line",
            done.processes, v.steps, v.delivered, v.undelivered, v.unrecorded_sends, done.truncated
        );
        done
    }

    /// SIGSTOP host `h`'s agent: it keeps its socket but handles nothing.
    pub fn pause(&mut self, h: usize) {
        self.signal(h, "STOP");
        self.hosts[h].stopped = true;
    }

    /// SIGCONT host `h`'s agent.
    pub fn resume(&mut self, h: usize) {
        self.signal(h, "CONT");
        self.hosts[h].stopped = false;
    }

    fn signal(&self, h: usize, name: &str) {
        let host = &self.hosts[h];
        host.agent
            .as_ref()
            .expect("an agent runs there")
            .signal(name);
    }

    /// Cut host `h` off: its switch port goes down.
    pub fn cut(&self, h: usize) {
        self.ip_switch(&["link", "set", &self.hosts[h].name, "down"]);
    }

    /// Undo [`cut`](Lab::cut).
    pub fn heal(&self, h: usize) {
        self.ip_switch(&["link", "set", &self.hosts[h].name, "up"]);
    }

    /// Partition: the hosts `minority` move to a second bridge, apart from the others.
    pub fn split(&self, minority: &[usize]) {
        for &h in minority {
            self.ip_switch(&["link", "set", &self.hosts[h].name, "master", "br1"]);
        }
    }

    /// Undo [`split`](Lab::split): every host back on the first bridge.
    pub fn join_halves(&self) {
        for host in &self.hosts {
            self.ip_switch(&["link", "set", &host.name, "master", "br0"]);
        }
    }

    /// Host `h`'s member table, read by the agent's own client inside the namespace.
    pub fn members(&self, h: usize) -> Result<Vec<serde_json::Value>, String> {
        let host = &self.hosts[h];
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &host.ns])
            .arg(crate::agent_binary())
            .args(["members", "--json", "--http", HTTP]);
        let out = output_within(&mut cmd, CLIENT_TIMEOUT)?;
        if !out.status.success() {
            return Err(format!(
                "{}: swim-agent members: {}",
                host.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("{}: not JSON: {e}", host.name))
    }

    /// Whether the running agents agree: each one's table holds, as members not dead or left,
    /// exactly the running agents under their current ids, all alive. The agreed membership,
    /// or why not (every disagreeing table in full, dead rows included).
    pub fn agreement(&self) -> Result<Agreed, String> {
        let running: Vec<usize> = (0..self.hosts.len())
            .filter(|&h| self.hosts[h].agent.is_some() && !self.hosts[h].stopped)
            .collect();
        let mut tables = Vec::new();
        let mut selves = BTreeMap::new();
        for &h in &running {
            let members = self.members(h)?;
            let me = members
                .iter()
                .find(|m| m["local"] == true)
                .ok_or_else(|| format!("{}: no local row", self.hosts[h].name))?;
            selves.insert(self.hosts[h].name.clone(), identity(me));
            tables.push((h, members));
        }
        let want: BTreeSet<((String, String), &str)> =
            selves.values().map(|id| (id.clone(), "alive")).collect();
        let disagree: Vec<String> = tables
            .iter()
            .filter(|(_, members)| {
                let live: BTreeSet<((String, String), &str)> = members
                    .iter()
                    .map(|m| (identity(m), m["status"].as_str().unwrap_or("?")))
                    .filter(|(_, status)| !terminal(status))
                    .collect();
                live != want
            })
            .map(|(h, members)| format!("{} sees [{}]", self.hosts[*h].name, table(members)))
            .collect();
        if disagree.is_empty() {
            Ok(selves)
        } else {
            let want: Vec<String> = selves.values().map(short).collect();
            Err(format!(
                "the running agents are [{}]; {}",
                want.join(" "),
                disagree.join("; ")
            ))
        }
    }

    /// Poll [`agreement`](Lab::agreement) every 200 ms until it holds or `bound` has passed;
    /// the time it took and the agreed membership, or the last reason it did not hold.
    pub fn converge(&self, bound: Duration) -> Result<(Duration, Agreed), String> {
        let start = Instant::now();
        loop {
            let seen = self.agreement();
            let took = start.elapsed();
            match seen {
                Ok(agreed) => return Ok((took, agreed)),
                Err(why) if took >= bound => {
                    return Err(format!("not converged within {bound:?}: {why}"));
                }
                Err(_) => thread::sleep(POLL),
            }
        }
    }

    /// Every `event kind=<kind>` line of every agent that ran: (observer's host, the line).
    pub fn events(&mut self, kind: &str) -> Vec<(String, String)> {
        let mut all = Vec::new();
        for host in &mut self.hosts {
            let name = host.name.clone();
            for line in host.log() {
                if line.starts_with("event ") && field(&line, "kind") == kind {
                    all.push((name.clone(), line));
                }
            }
        }
        all
    }

    /// Who declared whom dead, as (observer, the dead member's name) pairs, each once.
    pub fn declared_dead(&mut self) -> BTreeSet<(String, String)> {
        self.events("dead")
            .into_iter()
            .map(|(by, line)| (by, field(&line, "name").to_owned()))
            .collect()
    }

    /// Hosts whose agent said it was removed and rejoined under a new id, with how often.
    pub fn rejoins(&mut self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for host in &mut self.hosts {
            let n = host
                .log()
                .iter()
                .filter(|l| l.starts_with("removed from the cluster"))
                .count();
            if n > 0 {
                counts.insert(host.name.clone(), n);
            }
        }
        counts
    }
}

/// The names whose identity differs between two agreed memberships.
pub fn changed(before: &Agreed, after: &Agreed) -> BTreeSet<String> {
    before
        .iter()
        .filter(|(name, id)| after.get(*name) != Some(id))
        .map(|(name, _)| name.clone())
        .collect()
}

/// Run `cmd` to completion, killing it after `within`.
fn output_within(cmd: &mut Command, within: Duration) -> Result<Output, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let deadline = Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{cmd:?} did not finish within {within:?}"));
            }
            Err(e) => return Err(format!("wait for {cmd:?}: {e}")),
        }
    }
    child
        .wait_with_output()
        .map_err(|e| format!("read {cmd:?}: {e}"))
}

impl Drop for Lab {
    fn drop(&mut self) {
        // SIGKILL also ends a stopped process.
        for host in &mut self.hosts {
            drop(host.agent.take());
        }
        if thread::panicking() {
            eprintln!(
                "{}: recordings kept in {}",
                self.test,
                self.records.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.records);
        }
        for ns in self.created.iter().rev() {
            let out = Command::new("ip").args(["netns", "del", ns]).output();
            if !matches!(&out, Ok(out) if out.status.success()) {
                eprintln!("{}: could not delete namespace {ns}: {out:?}", self.test);
            }
        }
    }
}

fn skip(test: &str, why: &str) -> Option<Lab> {
    eprintln!(
        "{test}: skipping: cannot create network namespaces (need root and iproute2): {}",
        why.trim()
    );
    None
}

/// Run `ip args...`; panics with its stderr if it fails.
fn ip(args: &[&str]) -> Output {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("ip {}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}
