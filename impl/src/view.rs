//! A snapshot of a node's view, as [`Node::watch`](crate::Node::watch) publishes it.

use std::sync::Arc;

use swim_checked_core::{Member, NodeId};

/// The members one node knows, at one moment: itself first, then by id; dead and left members
/// included while their tombstone lasts. Cheap to clone (shared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    members: Arc<[Member]>,
}

impl View {
    pub(crate) fn of(core: &swim_checked_core::Node) -> Self {
        View {
            members: core.members().cloned().collect(),
        }
    }

    /// This node's own record.
    pub fn local(&self) -> &Member {
        &self.members[0]
    }

    /// Every member known, itself first.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Members believed in the cluster (alive, suspect or unreachable), itself included.
    pub fn live(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| !m.status.is_terminal())
    }

    /// How many members are believed in the cluster, itself included.
    pub fn live_count(&self) -> usize {
        self.live().count()
    }

    /// The record of `id`, if known.
    pub fn get(&self, id: NodeId) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }
}
