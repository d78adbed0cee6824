//! Three agents and the dashboard in a real headless browser (Debian's chromium, driven over
//! WebDriver by chromedriver): the member table, text typed on one agent's page appearing on
//! the others', a killed agent's row turning suspect then dead. The JSON API (through the
//! `members` subcommand) and `/metrics` (as a Prometheus scraper parses it) are checked on the
//! same cluster. A screenshot is saved to `<target>/e2e/dashboard.png`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`apt-get install chromium
//! chromium-driver`; `.ci/run` installs them), or their paths in `CHROMIUM` and
//! `CHROMEDRIVER`. Without them the test fails: it does not skip.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use e2e::process::{Agent, Process, WITHIN, agent_command, count, status_of};

/// Interval between two looks at the page or the API while waiting for a condition.
const POLL: Duration = Duration::from_millis(50);

const TEXT: &str = "hello from the browser";

/// An executable the test needs, from the environment or Debian's path.
fn require(var: &str, default: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "{} not found (Debian package `{package}`): the dashboard test needs Debian's \
         `chromium` and `chromium-driver` (apt-get install -y chromium chromium-driver), \
         or set {var}",
        path.display()
    );
    path
}

/// chromedriver on a free loopback port, in a process group of its own with the browsers it
/// starts: the whole group is killed when dropped, so a failing test leaves no chromium behind.
struct Driver {
    process: Process,
    url: String,
}

impl Driver {
    fn start(chromedriver: &PathBuf) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut process = Process::spawn(
            "chromedriver",
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .process_group(0),
        );
        process.wait_line(|l| l.contains("started successfully"));
        Driver {
            process,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.process.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    }
}

async fn browser(driver: &Driver, chromium: &PathBuf) -> Client {
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--window-size=1200,560",
            ],
        },
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!("an object")
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("open a chromium session through {}: {e}", driver.url))
}

/// Look at the page (or anything) every [`POLL`] until `probe` returns `Ok`, up to
/// [`WITHIN`]; on timeout, fail with the last state `probe` described.
async fn until<T>(what: &str, mut probe: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + WITHIN;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(state) if Instant::now() >= deadline => {
                panic!("{what}: not seen within {WITHIN:?}; last seen: {state}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// The page's member table: name -> status.
async fn rows(client: &Client) -> BTreeMap<String, String> {
    let rows = client
        .execute(
            "return [...document.querySelectorAll('#members tr')]
                .map(r => [r.dataset.name, r.dataset.status]);",
            vec![],
        )
        .await
        .expect("read the member table");
    serde_json::from_value::<Vec<(String, String)>>(rows)
        .expect("rows of [name, status]")
        .into_iter()
        .collect()
}

/// The texts in the page's message list.
async fn messages(client: &Client) -> Vec<String> {
    let texts = client
        .execute(
            "return [...document.querySelectorAll('#messages .text')].map(e => e.textContent);",
            vec![],
        )
        .await
        .expect("read the messages");
    serde_json::from_value(texts).expect("strings")
}

/// Wait until the open page lists the broadcast text among its messages.
async fn shows_text(client: &Client, what: &str) {
    until(what, async || {
        let texts = messages(client).await;
        if texts.iter().any(|t| t == TEXT) {
            Ok(())
        } else {
            Err(format!("{texts:?}"))
        }
    })
    .await;
}

async fn open(client: &Client, agent: &Agent, alive: usize) {
    client
        .goto(&format!("http://{}/", agent.http))
        .await
        .expect("open the dashboard");
    until(
        &format!("{alive} alive rows on {}'s page", agent.name),
        async || {
            let rows = rows(client).await;
            let live = rows.values().filter(|s| *s == "alive").count();
            if live == alive {
                Ok(())
            } else {
                Err(format!("{rows:?}"))
            }
        },
    )
    .await;
}

/// `/metrics` as a Prometheus scraper reads it: every line a comment or `name{labels} value`,
/// each series typed; returns the types and the samples.
fn scrape(agent: &Agent) -> (BTreeMap<String, String>, BTreeMap<String, f64>) {
    let (status, body) = agent.get("/metrics");
    assert_eq!(status, 200, "GET /metrics: {body}");
    let mut types = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "bad type in {line:?}"
            );
            types.insert(name.to_owned(), kind.to_owned());
        } else if !line.starts_with('#') {
            let (series, value) = line.rsplit_once(' ').expect("name value");
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("value in {line:?}"));
            let name = series.split('{').next().unwrap();
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                    && (!series.contains('{') || series.ends_with('}')),
                "not a Prometheus sample: {line:?}"
            );
            assert!(types.contains_key(name), "{name} has no # TYPE line");
            samples.insert(series.to_owned(), value);
        }
    }
    (types, samples)
}

fn check_metrics(agent: &Agent) {
    let (types, samples) = scrape(agent);
    for (name, kind) in [
        ("swim_datagrams_received_total", "counter"),
        ("swim_datagrams_sent_total", "counter"),
        ("swim_member_events_total", "counter"),
        ("swim_cluster_size", "gauge"),
        ("swim_local_health", "gauge"),
    ] {
        assert_eq!(types.get(name).map(String::as_str), Some(kind), "{name}");
    }
    let node = format!("{{node=\"{}\"}}", agent.addr);
    let received = samples[&format!("swim_datagrams_received_total{node}")];
    assert!(received > 0.0, "no datagram received counted");
    let joined = format!(
        "swim_member_events_total{{node=\"{}\",kind=\"joined\"}}",
        agent.addr
    );
    assert_eq!(samples.get(&joined), Some(&2.0), "two members joined");
    assert_eq!(samples[&format!("swim_cluster_size{node}")], 3.0);
}

/// A config file for the agents, removed when dropped.
struct ConfigFile(PathBuf);

impl ConfigFile {
    fn new(text: &str) -> ConfigFile {
        let path =
            std::env::temp_dir().join(format!("swim-agent-dashboard-{}.toml", std::process::id()));
        std::fs::write(&path, text).expect("write the config file");
        ConfigFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where the screenshot goes: `<target>/e2e/` (this test runs from `<target>/<profile>/deps`).
fn artifacts() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("<target>/<profile>/deps/<test>");
    let dir = target.join("e2e");
    std::fs::create_dir_all(&dir).expect("create the artifacts directory");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_cluster_live_in_a_browser() {
    let chromium = require("CHROMIUM", "/usr/bin/chromium", "chromium");
    let chromedriver = require("CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver");

    // The local preset, with suspicions long enough (seconds) to be seen on the page.
    let config = ConfigFile::new(
        "preset = \"local\"\nzone = \"zone-1\"\n\n[metadata]\nrole = \"demo\"\n\n\
         [protocol]\nsuspicion_mult = 10\n",
    );
    let flags = ["--config", config.path()];
    let a = Agent::spawn_with("a", None, &flags);
    let mut b = Agent::spawn_with("b", Some(&a.addr), &flags);
    let mut c = Agent::spawn_with("c", Some(&a.addr), &flags);
    for agent in [&a, &b, &c] {
        agent.wait_members("3 alive", |m| count(m, "alive") == 3);
    }

    // The JSON API, through the client subcommand.
    let output = agent_command(&["members", "--http", &a.http, "--json"]);
    assert!(output.status.success(), "{output:?}");
    let table: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON");
    let mut names: Vec<&str> = table.iter().filter_map(|m| m["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(count(&table, "alive"), 3);
    assert_eq!(table.iter().filter(|m| m["local"] == true).count(), 1);

    check_metrics(&a);

    let driver = Driver::start(&chromedriver);
    let client = browser(&driver, &chromium).await;

    // Agent a's page: three rows alive; type the text and send it.
    open(&client, &a, 3).await;
    let table = rows(&client).await;
    assert_eq!(table.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
    client
        .find(Locator::Css("#text"))
        .await
        .expect("the text box")
        .send_keys(TEXT)
        .await
        .expect("type");
    client
        .find(Locator::Css("#broadcast button"))
        .await
        .expect("the button")
        .click()
        .await
        .expect("click");
    shows_text(&client, "the text on the sender's page").await;

    // It appears on the other agents' pages (and on their stdout).
    for agent in [&mut b, &mut c] {
        open(&client, agent, 3).await;
        shows_text(&client, &format!("the text on {}'s page", agent.name)).await;
        agent.wait_line(|l| l.starts_with("message kind=broadcast") && l.contains(TEXT));
    }

    // Kill c: on a's page its row turns suspect, then dead.
    open(&client, &a, 3).await;
    c.kill();
    let mut seen: Vec<String> = Vec::new();
    until("c's row dead on a's page", async || {
        let rows = rows(&client).await;
        let status = rows.get("c").cloned().unwrap_or_default();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "dead" {
            Ok(())
        } else {
            Err(format!("{rows:?}"))
        }
    })
    .await;
    let suspect = seen.iter().position(|s| s == "suspect");
    assert!(
        suspect.is_some() && seen.first().map(String::as_str) == Some("alive"),
        "c's row should go alive, suspect, dead; it went {seen:?}"
    );
    assert_eq!(status_of(&a.members(), &c.id), Some("dead"));

    let png = client.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let path = artifacts().join("dashboard.png");
    std::fs::write(&path, &png).expect("save the screenshot");
    println!("screenshot: {}", path.display());
    client.close().await.expect("close the browser");
}
