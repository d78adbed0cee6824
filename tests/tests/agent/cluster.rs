//! Three agents form a cluster; one is killed with SIGKILL and the other two report it
//! suspect, then dead; one leaves on SIGTERM and the last reports it left.

use std::collections::BTreeSet;
use std::process::Command;

use e2e::process::{Agent, Process, agent_command, count, status_of};

#[test]
fn three_agents_form_a_cluster_and_detect_a_killed_one() {
    let mut a = Agent::spawn("a", None);
    let seed = a.addr.clone();
    let mut b = Agent::spawn("b", Some(&seed));
    let mut c = Agent::spawn("c", Some(&seed));
    let ids: BTreeSet<String> = [&a, &b, &c].iter().map(|x| x.id.clone()).collect();
    assert_eq!(ids.len(), 3);

    // Everyone sees the two others join, on stdout and in the API.
    let (ia, ib, ic) = (a.id.clone(), b.id.clone(), c.id.clone());
    for (agent, others) in [
        (&mut a, [&ib, &ic]),
        (&mut b, [&ia, &ic]),
        (&mut c, [&ia, &ib]),
    ] {
        for other in others {
            agent.wait_event("joined", other);
        }
        agent.wait_members("3 alive", |m| count(m, "alive") == 3);
    }
    b.wait_line(|l| l.starts_with("joined via [") && l.contains(&seed));

    // The client subcommands: `events` follows a's feed, `broadcast` goes through b.
    let mut follow = Process::spawn(
        "swim-agent events",
        Command::new(e2e::agent_binary()).args(["events", "--http", &a.http]),
    );
    follow.wait_line(|l| l.starts_with("event kind=joined") && l.contains(&ic));
    let sent = agent_command(&["broadcast", "--http", &b.http, "from the command line"]);
    assert!(sent.status.success(), "{sent:?}");
    let text = "text=\"from the command line\"";
    follow.wait_line(|l| l.starts_with("message kind=broadcast") && l.contains(text));
    for agent in [&mut a, &mut c] {
        agent.wait_line(|l| l.contains(&format!("from={ib} name=b {text}")));
    }
    // Too large for a broadcast: refused with the node's reason, nothing sent.
    let large = "x".repeat(64 * 1024);
    let refused = agent_command(&["broadcast", "--http", &b.http, &large]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(err.contains("400 Bad Request"), "{err}");
    let (status, body) = e2e::process::http_post(&b.http, "/v1/broadcast", "{\"txt\": 1}");
    assert_eq!(status, 422, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("text")),
        "{body}"
    );

    let members = agent_command(&["members", "--http", &c.http]);
    assert!(members.status.success(), "{members:?}");
    let table = String::from_utf8_lossy(&members.stdout);
    assert_eq!(
        table.lines().count(),
        4,
        "a header and three rows:\n{table}"
    );
    assert!(table.lines().any(|l| l.starts_with("* c ")), "{table}");
    // The log as JSON: c saw a and b join and b's broadcast.
    let (status, body) = e2e::process::http_get(&c.http, "/v1/log");
    assert_eq!(status, 200, "{body}");
    let log: Vec<serde_json::Value> = serde_json::from_str(&body).expect("a JSON list");
    let joined: BTreeSet<&str> = (log.iter())
        .filter(|e| e["type"] == "event" && e["kind"] == "joined")
        .filter_map(|e| e["member"]["id"].as_str())
        .collect();
    assert!(
        joined.contains(ia.as_str()) && joined.contains(ib.as_str()),
        "{body}"
    );
    assert!(
        log.iter()
            .any(|e| e["type"] == "message" && e["text"] == "from the command line"),
        "{body}"
    );

    // SIGKILL: no leave, no goodbye.
    c.kill();
    let mut suspected = 0;
    for agent in [&mut a, &mut b] {
        let dead = agent.wait_event("dead", &c.id);
        if agent
            .event_position("suspect", &c.id)
            .is_some_and(|s| s < dead)
        {
            suspected += 1;
        }
        agent.wait_members("2 alive, 1 dead", |m| {
            count(m, "alive") == 2 && status_of(m, &c.id) == Some("dead")
        });
    }
    assert!(
        suspected >= 1,
        "nobody reported the killed agent suspect first"
    );

    // SIGTERM: a graceful leave, reported as such.
    b.process.terminate();
    b.wait_line(|l| l == "left");
    assert!(b.process.wait_exit().success());
    a.wait_event("left", &b.id);
    assert!(a.event_position("dead", &b.id).is_none());
    a.wait_members("b left", |m| status_of(m, &b.id) == Some("left"));

    // The last one stops too: the feed ends and `events` exits cleanly.
    a.process.terminate();
    assert!(a.process.wait_exit().success());
    follow.wait_line(|l| l.starts_with("event kind=left") && l.contains(&ib));
    assert!(
        follow.wait_exit().success(),
        "events should end with the feed"
    );
}
