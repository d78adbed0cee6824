//! Randomness, asked of the caller.
//!
//! Production passes a seeded RNG, the model checker enumerates every outcome, and a
//! conformance replay plays back the outcomes recorded in a trace.

/// A source of random choices.
pub trait Pick {
    /// A value in `0..n` (`n >= 1`). Values outside the range are reduced modulo `n`.
    fn pick(&mut self, n: usize) -> usize;
}

impl<F: FnMut(usize) -> usize> Pick for F {
    fn pick(&mut self, n: usize) -> usize {
        self(n)
    }
}

/// Draw a value in `0..n` from `rng`, tolerating sources that overshoot.
pub(crate) fn draw(rng: &mut dyn Pick, n: usize) -> usize {
    debug_assert!(n >= 1);
    if n <= 1 { 0 } else { rng.pick(n) % n }
}

/// Choose up to `k` distinct items of `items` at random (partial Fisher-Yates, in place):
/// afterwards the first `min(k, len)` items are the choice.
pub(crate) fn choose<T>(rng: &mut dyn Pick, items: &mut [T], k: usize) -> usize {
    let k = k.min(items.len());
    for i in 0..k {
        let j = i + draw(rng, items.len() - i);
        items.swap(i, j);
    }
    k
}
