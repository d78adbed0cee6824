//! The checker's safety properties, evaluated on every step of every member while the
//! simulation runs (PROTOCOL.md §9): monotone views, no resurrection, self view, incarnation
//! authority. The rules themselves are the checker's ([`crate::checker::properties`]); this
//! file only decides which records a step is checked on.
//!
//! A step is one input to one member. Comparing its whole view before and after costs `O(n)`,
//! which 10,000 members cannot afford on every step; so by default a step is checked on the
//! records it can change: those the input names (the sender, every record of its gossip or
//! sync, the target of a ping or ping-req, the member of a suspicion timer, the targets of the
//! probes a tick or a probe timeout judges, the member a command names) and those its events
//! report. A rule of the core that changed a record no input named and no event reported
//! would escape this scope; [`Scope::Whole`] (the scenario's `whole_view_check`) compares
//! every record, for small runs and the tests.

use swim_checked_core::{Body, Member, MemberEvent, Message, Node, NodeId, Phase, Timer};

use crate::checker::properties::{
    INCARNATION_AUTHORITY, MONOTONE_VIEWS, NO_RESURRECTION, SELF_VIEW, holds_self_view, moved_down,
    resurrected, resurrecting_event, within_authority,
};

/// Which records a step is checked on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The records the input names and the events report.
    Touched,
    /// The whole view.
    Whole,
}

/// A broken property: which, where, and what the member held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub property: &'static str,
    /// What was seen, in one line.
    pub detail: String,
}

/// The input of one step, as far as the check needs it.
#[derive(Clone, Copy, Debug)]
pub enum Named<'a> {
    Message(&'a Message),
    Timer(Timer),
    /// A command naming a member (confirm dead), or none.
    Command(Option<NodeId>),
}

/// Compares a member's records before and after each of its steps.
#[derive(Debug)]
pub struct OnlineCheck {
    scope: Scope,
    before: Vec<Member>,
    ids: Vec<NodeId>,
}

impl OnlineCheck {
    pub fn new(scope: Scope) -> OnlineCheck {
        OnlineCheck {
            scope,
            before: Vec::new(),
            ids: Vec::new(),
        }
    }

    /// Note the records of `node` the step can change, before it runs.
    pub fn before(&mut self, node: &Node, input: Named<'_>) {
        self.before.clear();
        if self.scope == Scope::Whole {
            self.before.extend(node.members().cloned());
            return;
        }
        self.ids.clear();
        self.ids.push(node.id());
        match input {
            Named::Message(msg) => {
                self.ids.push(msg.from);
                self.ids.extend(msg.gossip.iter().map(|m| m.id));
                match &msg.body {
                    Body::Ping { target, .. } | Body::PingReq { target, .. } => {
                        self.ids.push(*target)
                    }
                    Body::Sync { members, .. } => self.ids.extend(members.iter().map(|m| m.id)),
                    Body::Ack { .. }
                    | Body::Nack { .. }
                    | Body::Gossip { .. }
                    | Body::Direct { .. } => {}
                }
            }
            Named::Timer(Timer::Suspicion(id)) => self.ids.push(id),
            Named::Timer(Timer::Tick | Timer::ProbeTimeout(_)) => {
                self.ids.extend(node.probes().values().map(|p| p.target))
            }
            Named::Timer(_) => {}
            Named::Command(id) => self.ids.extend(id),
        }
        for &id in &self.ids {
            if let Some(m) = node.member(id) {
                self.before.push(m.clone());
            }
        }
    }

    /// Check the step `node` just took (`events`: what it reported). `own(id)` is the
    /// owner's record of `id` (for incarnation authority), if the owner is known.
    pub fn after<'a>(
        &self,
        node: &Node,
        events: impl Iterator<Item = &'a MemberEvent>,
        own: &dyn Fn(NodeId) -> Option<Member>,
    ) -> Result<(), Violation> {
        let fail = |property, detail: String| Err(Violation { property, detail });
        for then in &self.before {
            let Some(now) = node.member(then.id) else {
                continue; // purged: a tombstone's time ran out
            };
            // A resurrection also moves the record down: name the narrower rule.
            if resurrected(then, now) {
                return fail(NO_RESURRECTION, format!("{then:?} became {now:?}"));
            }
            if moved_down(then, now) {
                return fail(MONOTONE_VIEWS, format!("{then:?} became {now:?}"));
            }
            if !within_authority(now, own(now.id).as_ref()) {
                return fail(
                    INCARNATION_AUTHORITY,
                    format!("holds {now:?}, its owner {:?}", own(now.id)),
                );
            }
        }
        for e in events {
            if resurrecting_event(e) {
                return fail(NO_RESURRECTION, format!("event {e:?}"));
            }
            if !within_authority(&e.member, own(e.member.id).as_ref()) {
                return fail(
                    INCARNATION_AUTHORITY,
                    format!("event {e:?}, its owner {:?}", own(e.member.id)),
                );
            }
        }
        if node.phase() == Phase::Running && !holds_self_view(node) {
            let own: Vec<&Member> = node.members().filter(|m| m.id == node.id()).collect();
            return fail(SELF_VIEW, format!("holds itself as {own:?}"));
        }
        Ok(())
    }
}
