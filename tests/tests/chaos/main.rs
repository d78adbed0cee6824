//! Chaos runs: five `swim-agent`s on five hosts (network namespaces on one switch, see
//! `e2e::netns`) through the faults of a real network, each test with its own lab: a host cut
//! off for 20 s and for 60 s, a 2/3 partition, an agent stopped for 5 s, an agent killed and
//! restarted, 30% loss. After each fault the agents must agree again within
//! [`convergence_bound`]; each test prints what happened (run with `--nocapture` to see it on
//! success): the time to agree, who declared whom dead, who rejoined, whose identity changed.
//!
//! At the end of each test every agent process's recording (`--record`) is checked against the
//! model step by step ([`Lab::validate_recordings`]), which prints how many processes and steps.
//!
//! Needs root and iproute2 (`ip netns`); without them each test says why and passes.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::thread::sleep;
use std::time::Duration;

use e2e::netns::{Agreed, Lab, changed, convergence_bound};

const HOSTS: usize = 5;

fn bound() -> Duration {
    convergence_bound(HOSTS)
}

/// A lab with an agent on every host (with `flags`), agreeing; `None` when this machine
/// cannot create network namespaces.
fn converged_lab(test: &str, flags: &[&str]) -> Option<(Lab, Agreed)> {
    let mut lab = Lab::new(test, HOSTS)?;
    lab.start_all(flags);
    let (took, agreed) = lab
        .converge(bound())
        .unwrap_or_else(|e| panic!("{test}: at start-up: {e}"));
    eprintln!("{test}: start-up: converged in {took:.1?}");
    Some((lab, agreed))
}

/// Print what the run did, for the notes: `during` is who had declared whom dead when the
/// fault ended ([`Lab::declared_dead`] then). Returns the names whose identity changed (empty
/// when the agents did not agree again).
fn report(
    lab: &mut Lab,
    before: &Agreed,
    during: &BTreeSet<(String, String)>,
    after: &Result<(Duration, Agreed), String>,
) -> BTreeSet<String> {
    let test = lab.test.clone();
    let mut out = format!("{test}: bound {:.1?}; ", bound());
    let changed = match after {
        Ok((took, agreed)) => {
            let changed = changed(before, agreed);
            let _ = write!(
                out,
                "converged {took:.1?} after the fault; identity changed: {changed:?}"
            );
            changed
        }
        Err(why) => {
            let _ = write!(out, "{why}");
            BTreeSet::new()
        }
    };
    let later: BTreeSet<_> = lab.declared_dead().difference(during).cloned().collect();
    let _ = write!(
        out,
        "\n{test}: declared dead (by, whom) during the fault: {during:?}\n\
         {test}: declared dead (by, whom) after it: {later:?}\n\
         {test}: removed and rejoined: {:?}",
        lab.rejoins()
    );
    eprintln!("{out}");
    changed
}

/// Put `fault` on the lab, hold it for `window`, `lift` it, and wait for the agents to agree
/// again (printing what happened; panicking with `what` if they do not). Returns the names
/// whose identity changed.
fn through_fault(
    lab: &mut Lab,
    before: &Agreed,
    window: Duration,
    fault: impl FnOnce(&mut Lab),
    lift: impl FnOnce(&mut Lab),
    what: &str,
) -> BTreeSet<String> {
    fault(lab);
    sleep(window);
    let during = lab.declared_dead();
    lift(lab);
    let after = lab.converge(bound());
    let changed = report(lab, before, &during, &after);
    if let Err(why) = after {
        panic!("{}: {what}: {why}", lab.test);
    }
    changed
}

/// The run is over: every step every agent process took must be one the model allows, and
/// there were `processes` of them, each with a recording.
fn validate(lab: &mut Lab, processes: usize) {
    let done = lab.validate_recordings();
    assert_eq!(
        done.processes, processes,
        "{}: agent processes recorded",
        lab.test
    );
    // A run in which nothing reached anyone would validate trivially.
    assert!(
        done.validated.delivered > 0,
        "{}: no datagram was delivered",
        lab.test
    );
}

/// One host's link goes down for `cut_for`, then up: the others must not declare each other
/// dead, and only the cut host may come back under another identity.
fn one_node_cut(test: &str, cut_for: Duration) {
    let Some((mut lab, before)) = converged_lab(test, &[]) else {
        return;
    };
    let cut = HOSTS - 1;
    let cut_name = lab.hosts[cut].name.clone();
    let changed = through_fault(
        &mut lab,
        &before,
        cut_for,
        |lab| lab.cut(cut),
        |lab| lab.heal(cut),
        "after the heal",
    );
    let wrongly_dead: Vec<(String, String)> = lab
        .declared_dead()
        .into_iter()
        .filter(|(_, whom)| *whom != cut_name)
        .collect();
    assert!(
        wrongly_dead.is_empty(),
        "{test}: hosts that stayed reachable were declared dead (by, whom): {wrongly_dead:?}"
    );
    assert!(
        changed.iter().all(|name| *name == cut_name),
        "{test}: only {cut_name} may change identity, changed: {changed:?}"
    );
    validate(&mut lab, HOSTS);
}

#[test]
fn one_node_cut_for_20_s() {
    one_node_cut("one_node_cut_for_20_s", Duration::from_secs(20));
}

#[test]
fn one_node_cut_for_60_s() {
    one_node_cut("one_node_cut_for_60_s", Duration::from_secs(60));
}

#[test]
fn split_two_from_three_for_20_s() {
    let test = "split_two_from_three_for_20_s";
    let Some((mut lab, before)) = converged_lab(test, &[]) else {
        return;
    };
    through_fault(
        &mut lab,
        &before,
        Duration::from_secs(20),
        |lab| lab.split(&[3, 4]),
        |lab| lab.join_halves(),
        "after the partition",
    );
    validate(&mut lab, HOSTS);
}

#[test]
fn agent_stopped_for_5_s() {
    let test = "agent_stopped_for_5_s";
    let Some((mut lab, before)) = converged_lab(test, &[]) else {
        return;
    };
    through_fault(
        &mut lab,
        &before,
        Duration::from_secs(5),
        |lab| lab.pause(HOSTS - 1),
        |lab| lab.resume(HOSTS - 1),
        "after SIGCONT",
    );
    validate(&mut lab, HOSTS);
}

#[test]
fn agent_killed_and_restarted() {
    let test = "agent_killed_and_restarted";
    let Some((mut lab, before)) = converged_lab(test, &[]) else {
        return;
    };
    let victim = HOSTS - 1;
    let victim_name = lab.hosts[victim].name.clone();
    // Restarted in the same namespace, on the same address and name; seeded with the others.
    let changed = through_fault(
        &mut lab,
        &before,
        Duration::ZERO,
        |lab| lab.kill(victim),
        |lab| lab.start(victim, &[]),
        "after the restart",
    );
    // The restarted agent is a new member; the old one must be gone from every table.
    assert_eq!(
        changed,
        BTreeSet::from([victim_name]),
        "{test}: identities changed"
    );
    // The killed agent and its successor each recorded their own run.
    validate(&mut lab, HOSTS + 1);
}

#[test]
fn thirty_percent_loss_for_30_s() {
    let test = "thirty_percent_loss_for_30_s";
    let Some(mut lab) = Lab::new(test, HOSTS) else {
        return;
    };
    // The loss is there from the start and cannot be switched off at run time: the agents
    // must agree at the end, after 30 s of it. Whether they agreed at start-up is reported.
    lab.start_all(&["--loss", "0.3"]);
    let before = match lab.converge(bound()) {
        Ok((took, agreed)) => {
            eprintln!("{test}: start-up: converged in {took:.1?}");
            agreed
        }
        Err(why) => {
            eprintln!("{test}: start-up: {why}");
            Agreed::new()
        }
    };
    through_fault(
        &mut lab,
        &before,
        Duration::from_secs(30),
        |_| {},
        |_| {},
        "after 30 s",
    );
    validate(&mut lab, HOSTS);
}
