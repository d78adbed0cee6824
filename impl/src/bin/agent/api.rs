//! The JSON the HTTP API serves and the client subcommands read: the agent's own shapes, not
//! the library's types, so that ids are strings (a `u64` does not fit a JavaScript number).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use swim_checked::{Member, MemberEvent, UserKind, UserMessage};

/// One row of the member table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberJson {
    /// The node id, 16 hex digits.
    pub id: String,
    /// Which life of the member: raised by each restart and automatic rejoin.
    #[serde(default)]
    pub generation: u64,
    /// The member's name (or, for an unnamed member, its metadata `name`), if any.
    pub name: Option<String>,
    pub addr: String,
    /// alive, suspect, unreachable, dead or left.
    pub status: String,
    pub incarnation: u64,
    pub meta: BTreeMap<String, String>,
    /// Whether this row is the agent itself.
    #[serde(default)]
    pub local: bool,
    /// The last event about it this agent saw (none for members known since start-up only
    /// through its own record).
    pub last_change: Option<Change>,
}

/// When and how a member last changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub kind: String,
}

impl MemberJson {
    pub fn of(member: &Member, local: bool, last_change: Option<Change>) -> Self {
        MemberJson {
            id: member.id.to_string(),
            generation: member.generation,
            name: (!member.name.is_empty())
                .then(|| member.name.to_string())
                .or_else(|| member.meta.get("name").map(str::to_owned)),
            addr: member.addr.to_string(),
            status: member.status.name().to_owned(),
            incarnation: member.incarnation,
            meta: member
                .meta
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            local,
            last_change,
        }
    }
}

/// One line of the event log: a member event or application text received (or sent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Entry {
    Event {
        seq: u64,
        at_ms: u64,
        /// joined, suspect, unreachable, alive_again, dead, left, metadata_changed, restarted.
        kind: String,
        member: MemberJson,
        /// For `restarted`: the generation the member had here before.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_generation: Option<u64>,
    },
    Message {
        seq: u64,
        at_ms: u64,
        /// The sender's id.
        from: String,
        /// The sender's metadata `name`, if this agent knows it.
        from_name: Option<String>,
        /// broadcast or direct.
        kind: String,
        /// The payload, as UTF-8 (invalid sequences replaced).
        text: String,
    },
}

impl Entry {
    /// `change`: when it happened and its kind, also the member's new last change.
    pub fn event(seq: u64, event: &MemberEvent, local: bool, change: Change) -> Self {
        Entry::Event {
            seq,
            at_ms: change.at_ms,
            kind: change.kind.clone(),
            member: MemberJson::of(&event.member, local, Some(change)),
            previous_generation: event.previous_generation,
        }
    }

    pub fn message(seq: u64, at_ms: u64, message: &UserMessage, from_name: Option<String>) -> Self {
        Entry::Message {
            seq,
            at_ms,
            from: message.from.to_string(),
            from_name,
            kind: match message.kind {
                UserKind::Broadcast => "broadcast",
                UserKind::Direct => "direct",
            }
            .to_owned(),
            text: String::from_utf8_lossy(&message.payload).into_owned(),
        }
    }

    /// One line for a terminal.
    pub fn line(&self) -> String {
        match self {
            Entry::Event {
                kind,
                member,
                previous_generation,
                ..
            } => {
                let previous = previous_generation
                    .map(|g| format!(" previous_generation={g}"))
                    .unwrap_or_default();
                format!(
                    "event kind={kind} id={} addr={} incarnation={} generation={}{previous} name={}",
                    member.id,
                    member.addr,
                    member.incarnation,
                    member.generation,
                    member.name.as_deref().unwrap_or("-")
                )
            }
            Entry::Message {
                from,
                from_name,
                kind,
                text,
                ..
            } => format!(
                "message kind={kind} from={from} name={} text={text:?}",
                from_name.as_deref().unwrap_or("-")
            ),
        }
    }
}

/// What the SSE feed sends first: the table and the recent log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    /// The agent's own id.
    pub id: String,
    pub members: Vec<MemberJson>,
    pub log: Vec<Entry>,
}

/// Body of `POST /v1/broadcast`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BroadcastRequest {
    pub text: String,
}

/// An error the API returns, with its HTTP status.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}
