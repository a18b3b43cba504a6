//! Temperature sampling and the rejection step of speculative sampling.
//!
//! Speculative sampling (Leviathan et al. 2023, Chen et al. 2023) keeps the target's
//! distribution exactly: a draft token `x ~ q` is accepted with probability `min(1, p(x)/q(x))`;
//! on rejection the replacement is drawn from the residual `norm(max(0, p - q))`. Both `p` and `q`
//! are the *tempered, filtered* distributions of the same position (the filters run first, so
//! a forbidden token has probability 0 in both).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;

/// The seeded random source of a decoding run: the same seed gives the same samples.
#[derive(Debug, Clone)]
pub struct Sampler {
    rng: ChaCha12Rng,
}

impl Sampler {
    /// A sampler seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Sampler {
            rng: ChaCha12Rng::seed_from_u64(seed),
        }
    }

    /// A uniform number in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// Draws an index from `probs` (non-negative, summing to about 1; the sum is renormalised).
    pub fn sample(&mut self, probs: &[f32]) -> u32 {
        let total: f64 = probs.iter().map(|&p| f64::from(p)).sum();
        let mut target = self.uniform() * total;
        let mut last_nonzero = 0;
        for (i, &p) in probs.iter().enumerate() {
            if p > 0.0 {
                last_nonzero = i;
                target -= f64::from(p);
                if target < 0.0 {
                    return i as u32;
                }
            }
        }
        // Rounding left a sliver: the last possible token takes it.
        last_nonzero as u32
    }
}

/// The tempered distribution softmax(logits / temperature) of a filtered row (-inf entries get
/// probability 0), written into `out`.
pub fn tempered_probs(logits: &[f32], temperature: f32, out: &mut Vec<f32>) {
    out.clear();
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        out.resize(logits.len(), 0.0);
        return;
    }
    let inv_t = 1.0 / f64::from(temperature);
    let mut sum = 0.0f64;
    out.extend(logits.iter().map(|&v| {
        let e = ((f64::from(v) - f64::from(max)) * inv_t).exp();
        sum += e;
        e as f32
    }));
    let inv = (1.0 / sum) as f32;
    out.iter_mut().for_each(|p| *p *= inv);
}

/// What the rejection step decided for one drafted token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The draft token stands.
    Accept,
    /// The draft token is replaced by this one, drawn from the residual.
    Replace(u32),
}

/// Which distribution a rejection draws its replacement from. Only [`Residual::Exact`] is
/// correct; [`Residual::TargetOnly`] (plain `p`, a common mistake) exists so a statistical test
/// can show that it is caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Residual {
    /// norm(max(0, p - q)): the target's distribution is kept exactly.
    #[default]
    Exact,
    /// p itself: biased toward the tokens the draft proposes.
    TargetOnly,
}

/// Accepts draft token `x` with probability min(1, p(x)/q(x)), else draws a replacement.
pub fn verify_token(
    p: &[f32],
    q: &[f32],
    x: u32,
    residual: Residual,
    sampler: &mut Sampler,
    scratch: &mut Vec<f32>,
) -> Verdict {
    let (px, qx) = (f64::from(p[x as usize]), f64::from(q[x as usize]));
    if qx > 0.0 && sampler.uniform() < (px / qx).min(1.0) {
        return Verdict::Accept;
    }
    scratch.clear();
    match residual {
        Residual::Exact => {
            scratch.extend(p.iter().zip(q).map(|(&a, &b)| (a - b).max(0.0)));
            if scratch.iter().all(|&r| r <= 0.0) {
                // p == q up to rounding: any rejection is rounding noise; fall back to p.
                scratch.clear();
                scratch.extend_from_slice(p);
            }
        }
        Residual::TargetOnly => scratch.extend_from_slice(p),
    }
    Verdict::Replace(sampler.sample(scratch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_the_distribution_and_the_seed() {
        let probs = [0.1f32, 0.0, 0.6, 0.3];
        let mut s = Sampler::new(7);
        let mut counts = [0usize; 4];
        for _ in 0..20_000 {
            counts[s.sample(&probs) as usize] += 1;
        }
        assert_eq!(counts[1], 0, "a zero-probability token is never drawn");
        assert!(
            (counts[2] as f64 / 20_000.0 - 0.6).abs() < 0.02,
            "{counts:?}"
        );
        let a: Vec<u32> = (0..10).map(|_| Sampler::new(3).sample(&probs)).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]), "same seed, same draw");
    }

    #[test]
    fn tempered_probs_handle_filtered_rows() {
        let mut out = Vec::new();
        tempered_probs(&[1.0, f32::NEG_INFINITY, 1.0], 0.5, &mut out);
        assert_eq!(out, vec![0.5, 0.0, 0.5]);
        tempered_probs(&[f32::NEG_INFINITY; 3], 1.0, &mut out);
        assert_eq!(out, vec![0.0; 3]);
    }

    #[test]
    fn identical_distributions_always_accept() {
        let p = [0.2f32, 0.5, 0.3];
        let mut s = Sampler::new(1);
        let mut scratch = Vec::new();
        for x in 0..3 {
            for _ in 0..100 {
                assert_eq!(
                    verify_token(&p, &p, x, Residual::Exact, &mut s, &mut scratch),
                    Verdict::Accept
                );
            }
        }
    }
}
