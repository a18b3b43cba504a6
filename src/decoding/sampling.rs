//! Temperature sampling, with randomness that belongs to positions, not to draws.
//!
//! Every random number is a function of the seed, a stream (the window, the attempt, the
//! candidate) and the position of the token it decides, never of how many numbers were drawn
//! before. A token at temperature T is the inverse-CDF draw of the tempered distribution at
//! that position's number. So target-only sampling is reproducible whatever else happens, and
//! speculative sampling can be made *identical* to it rather than only equal in distribution:
//! the draft proposes the inverse-CDF draw of its own distribution q at the same number, the
//! target keeps a proposal exactly when its own draw from p at that number is the same token,
//! and at the first difference emits its own draw. Each emitted token is then the target's
//! draw, so the output follows p exactly (an inverse-CDF draw at a uniform number has law p)
//! and is token for token what the target alone samples: `--verify` can check sampled windows
//! like greedy ones, and a rerun with another draft, or with the candidates of a fallback
//! decoded together, gives the same text.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;

/// The random source of a decoding run: a seed and a stream within it (see the module notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampler {
    seed: u64,
    stream: u64,
}

impl Sampler {
    /// The root stream of `seed`.
    pub fn new(seed: u64) -> Self {
        Sampler { seed, stream: 0 }
    }

    /// Sub-stream `key` of this stream (a window's start, then an attempt, then a candidate):
    /// distinct keys give independent numbers.
    pub fn stream(&self, key: u64) -> Sampler {
        Sampler {
            seed: self.seed,
            stream: splitmix64(self.stream ^ splitmix64(key.wrapping_add(0x632b_e59b_d9b4_e019))),
        }
    }

    /// The uniform number in [0, 1) of the token at `position` (its index in the decoded
    /// sequence, prompt included): one ChaCha12 block per position of this stream.
    pub fn uniform_at(&self, position: usize) -> f64 {
        let mut rng = ChaCha12Rng::seed_from_u64(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(position as u128 * 16);
        rng.random::<f64>()
    }

    /// The inverse-CDF draw from `probs` (non-negative, summing to about 1; the sum is
    /// renormalised) at `position`'s number.
    pub fn sample_at(&self, position: usize, probs: &[f32]) -> u32 {
        let total: f64 = probs.iter().map(|&p| f64::from(p)).sum();
        let mut target = self.uniform_at(position) * total;
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

/// SplitMix64's finaliser: a bijective mix of 64 bits.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_the_distribution_and_belongs_to_positions() {
        let probs = [0.1f32, 0.0, 0.6, 0.3];
        let root = Sampler::new(7);
        let mut counts = [0usize; 4];
        for position in 0..20_000 {
            counts[root.sample_at(position, &probs) as usize] += 1;
        }
        assert_eq!(counts[1], 0, "a zero-probability token is never drawn");
        assert!(
            (counts[2] as f64 / 20_000.0 - 0.6).abs() < 0.02,
            "{counts:?}"
        );
        // Across streams at one position too.
        let mut counts = [0usize; 4];
        for key in 0..20_000 {
            counts[root.stream(key).sample_at(5, &probs) as usize] += 1;
        }
        assert!(
            (counts[3] as f64 / 20_000.0 - 0.3).abs() < 0.02,
            "{counts:?}"
        );
        // A number depends on seed, stream and position only.
        assert_eq!(root.uniform_at(3), Sampler::new(7).uniform_at(3));
        assert_ne!(root.uniform_at(3), root.uniform_at(4));
        assert_ne!(root.stream(1).uniform_at(3), root.stream(2).uniform_at(3));
        assert_ne!(root.uniform_at(3), Sampler::new(8).uniform_at(3));
        assert_eq!(
            root.stream(1).stream(2),
            Sampler::new(7).stream(1).stream(2)
        );
        assert_ne!(root.stream(1).stream(2), root.stream(2).stream(1));
    }

    #[test]
    fn tempered_probs_handle_filtered_rows() {
        let mut out = Vec::new();
        tempered_probs(&[1.0, f32::NEG_INFINITY, 1.0], 0.5, &mut out);
        assert_eq!(out, vec![0.5, 0.0, 0.5]);
        tempered_probs(&[f32::NEG_INFINITY; 3], 1.0, &mut out);
        assert_eq!(out, vec![0.0; 3]);
    }
}
