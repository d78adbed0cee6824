//! Hostile-input campaign: a real cluster on loopback, one node under a flood of hostile
//! datagrams from a separate UDP socket.
//!
//! ```sh
//! cargo bench -p swim-checked --bench hostile                       # 10^7 datagrams
//! cargo bench -p swim-checked --bench hostile -- --datagrams 100000 --seed 7 --members 5
//! ```
//!
//! `--members` nodes (`Config::local()`, node ids from the seed) join through node 0, the
//! victim; every datagram they send is recorded until they converge and have sent enough
//! (`--genuine`). Then the attacker sends `--datagrams` datagrams at the victim, class by
//! class (see `lab::Class`): random bytes, mutated genuine datagrams, genuine messages under
//! another label or version, and replays of genuine datagrams (well-formed: processed, never
//! dropped). The sender keeps at most `--window` datagrams ahead of what the victim has
//! handled, so none is lost in the socket and every one is accounted for.
//!
//! The cluster runs with a key (derived from the seed, `lab::lab_key`; every node seals and
//! accepts only sealed datagrams), so forged well-formed plaintext records (`dead`, `suspect`,
//! `alive` about live members, `alive` for unknown ids) must be dropped as
//! `plaintext_refused`, and genuine messages sealed with a wrong key as `unauthenticated`.
//! With `--no-key` the cluster runs in plaintext: forgeries are then sent last (`--forged` of
//! them) and reported as an expected-vulnerable class (they do change views, by design of an
//! unauthenticated protocol), and sealed datagrams are dropped as `unauthenticated`.
//!
//! Prints a table, then one JSON line. Per class: datagrams per second handled (the victim's
//! received counter over the wall time of the class), drops by reason (`Stats::dropped`), view
//! changes (member events) at the victim and at the other nodes. At the end: panics (a panic
//! hook counts them; every node task must still run and the victim must answer a ping), and
//! whether every member is alive everywhere. Exits non-zero if a must-hold check failed.

mod lab;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use swim_checked::harness::core::Config;
use swim_checked::{Drops, Stats};

use lab::{Class, Expect, Lab};

#[derive(Debug, Parser)]
struct Args {
    /// Hostile datagrams of the must-hold classes.
    #[arg(long, default_value_t = 10_000_000)]
    datagrams: u64,
    /// Seed of the generator and of the node ids.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Cluster size (the victim included).
    #[arg(long, default_value_t = 3)]
    members: usize,
    /// Run the cluster in plaintext, without a key (forged records: expected-vulnerable).
    #[arg(long)]
    no_key: bool,
    /// Forged-record datagrams sent last when the cluster runs without a key.
    #[arg(long, default_value_t = 1_000)]
    forged: u64,
    /// Genuine datagrams to record before the attack.
    #[arg(long, default_value_t = 64)]
    genuine: usize,
    /// Most datagrams in flight ahead of what the victim handled.
    #[arg(long, default_value_t = 256)]
    window: u64,
    /// tokio worker threads for the nodes (the attacker runs on the main thread).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Passed by `cargo bench` to every bench target; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

static PANICS: AtomicU64 = AtomicU64::new(0);

/// Share of the must-hold datagrams per class, in percent.
fn shares(keyed: bool) -> Vec<(Class, u64)> {
    if keyed {
        vec![
            (Class::Random, 20),
            (Class::Mutated, 30),
            (Class::WrongLabel, 5),
            (Class::WrongVersion, 5),
            (Class::Replay, 10),
            (Class::WrongKey, 15),
            (Class::Forged, 15),
        ]
    } else {
        vec![
            (Class::Random, 25),
            (Class::Mutated, 35),
            (Class::WrongLabel, 10),
            (Class::WrongVersion, 10),
            (Class::Replay, 15),
            (Class::WrongKey, 5),
        ]
    }
}

struct Row {
    class: Class,
    expect: Expect,
    sent: u64,
    processed: u64,
    dropped: u64,
    received: u64,
    secs: f64,
    drops: Drops,
    changes_victim: u64,
    changes_others: u64,
    all_alive: bool,
    ok: bool,
}

impl Row {
    fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.received as f64 / self.secs
        } else {
            0.0
        }
    }

    fn json(&self) -> Value {
        let drops: BTreeMap<&str, u64> = self.drops.iter().filter(|(_, n)| *n > 0).collect();
        json!({
            "class": self.class.name(),
            "expect": self.expect.to_string(),
            "sent": self.sent,
            "processed": self.processed,
            "dropped": self.dropped,
            "received": self.received,
            "secs": round(self.secs, 3),
            "per_sec": self.rate().round(),
            "drops": drops,
            "view_changes_victim": self.changes_victim,
            "view_changes_others": self.changes_others,
            "all_alive_after": self.all_alive,
            "ok": self.ok,
        })
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

fn drops_delta(after: &Drops, before: &Drops) -> Drops {
    let d = |a: u64, b: u64| a - b;
    Drops {
        truncated: d(after.truncated, before.truncated),
        oversized: d(after.oversized, before.oversized),
        bad_magic: d(after.bad_magic, before.bad_magic),
        unsupported_version: d(after.unsupported_version, before.unsupported_version),
        label_mismatch: d(after.label_mismatch, before.label_mismatch),
        malformed: d(after.malformed, before.malformed),
        trailing_bytes: d(after.trailing_bytes, before.trailing_bytes),
        invalid: d(after.invalid, before.invalid),
        bad_checksum: d(after.bad_checksum, before.bad_checksum),
        unauthenticated: d(after.unauthenticated, before.unauthenticated),
        plaintext_refused: d(after.plaintext_refused, before.plaintext_refused),
        unknown_envelope: d(after.unknown_envelope, before.unknown_envelope),
    }
}

fn main() {
    let args = Args::parse();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::Relaxed);
        default_hook(info);
    }));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .unwrap();
    let keyed = !args.no_key;
    let lab = runtime.block_on(Lab::start(
        Config::local(),
        args.members,
        args.seed,
        args.genuine,
        keyed,
    ));
    let sealer = lab.sealer();
    let mut hostile = lab.hostile(args.seed);
    eprintln!(
        "lab: {} members, victim {} at {}, {} genuine datagrams {:?}, keyed: {keyed}",
        args.members,
        lab.victim().id(),
        lab.victim().local_addr(),
        hostile.genuine(),
        hostile.genuine_kinds(),
    );

    let mut plan: Vec<(Class, u64)> = Vec::new();
    let shares = shares(keyed);
    let total_share: u64 = shares.iter().map(|(_, s)| s).sum();
    let mut left = args.datagrams;
    for (i, (class, share)) in shares.iter().enumerate() {
        let n = if i + 1 == shares.len() {
            left
        } else {
            args.datagrams * share / total_share
        };
        left -= n;
        plan.push((*class, n));
    }
    if !keyed {
        plan.push((Class::Forged, args.forged));
    }

    let mut rows = Vec::new();
    let mut sent = 0u64;
    let mut failure: Option<String> = None;
    let mut answered_before_forgeries = None;
    let started = Instant::now();
    for (class, n) in plan {
        let expect = class.expect(keyed);
        if expect == Expect::Vulnerable && answered_before_forgeries.is_none() {
            answered_before_forgeries = Some(lab::answers_ping(
                &sealer,
                lab.victim().local_addr(),
                lab.victim().id(),
                Duration::from_secs(10),
            ));
        }
        let before: Vec<Stats> = lab.stats();
        let (processed0, dropped0) = (lab.tally.processed(), lab.tally.dropped());
        let t0 = Instant::now();
        let result = lab::attack(
            &lab.attacker,
            &lab.tally,
            &mut hostile,
            class,
            n,
            args.window,
            &mut sent,
        );
        let secs = t0.elapsed().as_secs_f64();
        if let Err(e) = result {
            failure = Some(format!("{}: {e}", class.name()));
        }
        // The victim's drop counters may trail the observer's by a moment.
        let settle = Instant::now() + Duration::from_secs(5);
        while lab.victim().stats().dropped.total() - before[0].dropped.total()
            < lab.tally.dropped() - dropped0
            && Instant::now() < settle
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        let after: Vec<Stats> = lab.stats();
        let changes: Vec<u64> = after
            .iter()
            .zip(&before)
            .map(|(a, b)| a.events - b.events)
            .collect();
        let processed = lab.tally.processed() - processed0;
        let dropped = lab.tally.dropped() - dropped0;
        let all_alive = lab.all_alive();
        let view_kept = changes.iter().all(|c| *c == 0) && all_alive;
        let drops = drops_delta(&after[0].dropped, &before[0].dropped);
        let reason_ok = class
            .reason(keyed)
            .is_none_or(|reason| drops.get(reason) == Some(n));
        let ok = match expect {
            Expect::Dropped => {
                dropped == n && processed == 0 && drops.total() == n && reason_ok && view_kept
            }
            Expect::Processed => processed == n && dropped == 0 && drops.total() == 0 && view_kept,
            Expect::Vulnerable => true,
        };
        let row = Row {
            class,
            expect,
            sent: n,
            processed,
            dropped,
            received: after[0].datagrams_in - before[0].datagrams_in,
            secs,
            drops,
            changes_victim: changes[0],
            changes_others: changes[1..].iter().sum(),
            all_alive,
            ok,
        };
        eprintln!(
            "{:<14} sent {:>10} in {:>7.2} s: {:>9.0}/s, {} view changes",
            class.name(),
            n,
            secs,
            row.rate(),
            changes.iter().sum::<u64>()
        );
        rows.push(row);
        if failure.is_some() {
            break;
        }
    }
    let total_secs = started.elapsed().as_secs_f64();

    let answers = lab::answers_ping(
        &sealer,
        lab.victim().local_addr(),
        lab.victim().id(),
        Duration::from_secs(10),
    );
    let answered_before_forgeries = answered_before_forgeries.unwrap_or(answers);
    let running = lab.nodes.iter().all(|n| n.is_running());
    let panics = PANICS.load(Ordering::Relaxed);
    let all_alive_end = lab.all_alive();
    let must_hold = rows
        .iter()
        .filter(|r| matches!(r.expect, Expect::Dropped | Expect::Processed));
    let must_ok = must_hold.clone().all(|r| r.ok);
    let must_sent: u64 = must_hold.clone().map(|r| r.sent).sum();
    let must_received: u64 = must_hold.clone().map(|r| r.received).sum();
    let must_secs: f64 = must_hold.clone().map(|r| r.secs).sum();
    // Without a key, forged records may declare the victim itself dead (it then stops
    // answering for its id): that is the expected vulnerability, so only the ping before the
    // forgeries must be answered; with a key, the one at the end too.
    let ok = failure.is_none()
        && must_ok
        && panics == 0
        && running
        && answered_before_forgeries
        && (answers || !keyed);

    println!(
        "{:<14} {:<20} {:>10} {:>10} {:>10} {:>8} {:>10} {:>7} {:>7}  drops by reason",
        "class", "expect", "sent", "processed", "dropped", "secs", "per sec", "Δview v", "Δview o"
    );
    for r in &rows {
        let drops: Vec<String> = r
            .drops
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(reason, n)| format!("{reason}={n}"))
            .collect();
        println!(
            "{:<14} {:<20} {:>10} {:>10} {:>10} {:>8.2} {:>10.0} {:>7} {:>7}  {}{}",
            r.class.name(),
            r.expect.to_string(),
            r.sent,
            r.processed,
            r.dropped,
            r.secs,
            r.rate(),
            r.changes_victim,
            r.changes_others,
            drops.join(" "),
            if r.ok { "" } else { "  FAILED" }
        );
    }
    println!(
        "must-hold classes: {must_sent} datagrams in {must_secs:.2} s ({:.0}/s handled); \
         panics {panics}; nodes running {running}; victim answers a ping: before forgeries \
         {answered_before_forgeries}, at the end {answers}; all alive at the end {all_alive_end}; \
         {} genuine mutations regenerated; {}",
        must_received as f64 / must_secs.max(1e-9),
        hostile.still_valid,
        if ok { "OK" } else { "FAILED" }
    );
    if let Some(f) = &failure {
        println!("aborted: {f}");
    }
    let line = json!({
        "bench": "hostile",
        "keyed": keyed,
        "seed": args.seed,
        "members": args.members,
        "datagrams": args.datagrams,
        "window": args.window,
        "genuine": hostile.genuine(),
        "genuine_kinds": hostile.genuine_kinds(),
        "regenerated": hostile.still_valid,
        "classes": rows.iter().map(Row::json).collect::<Vec<_>>(),
        "must_hold": {
            "sent": must_sent,
            "received": must_received,
            "secs": round(must_secs, 3),
            "per_sec": (must_received as f64 / must_secs.max(1e-9)).round(),
            "ok": must_ok,
        },
        "total_secs": round(total_secs, 3),
        "panics": panics,
        "running": running,
        "answers_ping_before_forgeries": answered_before_forgeries,
        "answers_ping_end": answers,
        "all_alive_end": all_alive_end,
        "failure": failure,
        "ok": ok,
    });
    println!("{line}");
    runtime.block_on(lab.shutdown());
    if !ok {
        std::process::exit(1);
    }
}
