//! Enumerating the outcomes of the core's random picks: an input that picks becomes one action
//! per sequence of outcomes.

use swim_checked_core::Pick;

use super::action::Picks;
use super::trace::PickRecord;

/// Replays a prefix of outcomes, answers 0 beyond it, and records every question asked.
#[derive(Debug)]
pub struct Replay<'a> {
    prefix: &'a [u8],
    /// `(n, outcome)` for every pick, in order.
    pub asked: Vec<(usize, usize)>,
}

impl<'a> Replay<'a> {
    pub fn new(prefix: &'a [u8]) -> Self {
        Replay {
            prefix,
            asked: Vec::new(),
        }
    }

    /// The outcomes given so far.
    pub fn outcomes(&self) -> Picks {
        self.asked.iter().map(|&(_, v)| v as u8).collect()
    }

    /// The picks made so far, as a trace records them.
    pub fn records(&self) -> Vec<PickRecord> {
        (self.asked.iter())
            .map(|&(n, value)| PickRecord { n, value })
            .collect()
    }
}

impl Pick for Replay<'_> {
    fn pick(&mut self, n: usize) -> usize {
        let v = self.prefix.get(self.asked.len()).map_or(0, |&v| v as usize) % n.max(1);
        self.asked.push((n, v));
        v
    }
}

/// Run `run` once per complete sequence of outcomes of the picks it makes (all zeros first),
/// returning each sequence with its result.
pub(crate) fn pick_sequences<T>(mut run: impl FnMut(&mut Replay) -> T) -> Vec<(Picks, T)> {
    let mut done = Vec::new();
    let mut todo: Vec<Picks> = vec![Vec::new()];
    while let Some(prefix) = todo.pop() {
        let mut replay = Replay::new(&prefix);
        let result = run(&mut replay);
        let seq = replay.outcomes();
        for i in (prefix.len()..seq.len()).rev() {
            for v in (1..replay.asked[i].0).rev() {
                let mut next = seq[..i].to_vec();
                next.push(v as u8);
                todo.push(next);
            }
        }
        done.push((seq, result));
    }
    done
}

/// Answers picks from another [`Pick`], noting each (when asked to) for a step's record.
pub(crate) struct Noted<'p> {
    inner: &'p mut dyn Pick,
    note: bool,
    pub asked: Vec<PickRecord>,
}

impl<'p> Noted<'p> {
    pub fn new(inner: &'p mut dyn Pick, note: bool) -> Self {
        Noted {
            inner,
            note,
            asked: Vec::new(),
        }
    }
}

impl Pick for Noted<'_> {
    fn pick(&mut self, n: usize) -> usize {
        let value = self.inner.pick(n);
        if self.note {
            self.asked.push(PickRecord { n, value });
        }
        value
    }
}
