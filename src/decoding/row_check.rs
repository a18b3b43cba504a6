//! The check speculative decoding's exactness rests on, run on the loaded model: a pass over K
//! tokens must give, row for row and bit for bit, the logits of the same K tokens fed one at a
//! time. Our CPU kernels are built for that, but not every path keeps it (candle's fallbacks
//! for attention heads wider than our kernels take, GPU libraries that pick their reduction
//! order by shape), and a draft whose verify passes round differently from the steps can flip
//! a near tie, so the output would no longer be the target's own. Where the check fails the
//! run says so instead of claiming exactness.

use crate::model::{CrossKv, TextDecoder};

/// Tokens in the checked pass (the widest verify pass the default settings make, plus one).
pub const CHECK_TOKENS: usize = 8;

/// The first row where `decoder`'s pass over [`CHECK_TOKENS`] tokens differs from the
/// one-token steps over the same tokens, described; `None` when every row is bit for bit the
/// same. It runs over a real window's cross-attention `cross` (the number of encoder positions
/// decides which paths run), after a prompt starting with `sot`.
pub fn multi_token_pass_difference(
    decoder: &TextDecoder,
    cross: &CrossKv,
    sot: u32,
) -> candle_core::Result<Option<String>> {
    let vocab = decoder.vocab_size() as u32;
    let token = |i: u32| (i * 7919 + 220) % sot.min(vocab);
    let prompt: Vec<u32> = std::iter::once(sot).chain((0..4).map(token)).collect();
    let block: Vec<u32> = (10..10 + CHECK_TOKENS as u32).map(token).collect();

    let mut cache = decoder.new_cache();
    decoder.forward(&prompt, &mut cache, cross)?;
    let base = cache.len();
    let together = decoder
        .forward(&block, &mut cache, cross)?
        .to_vec2::<f32>()?;
    cache.truncate(base);
    for (row, &t) in block.iter().enumerate() {
        let alone = decoder.forward(&[t], &mut cache, cross)?.to_vec2::<f32>()?;
        let (a, b) = (&alone[0], &together[row]);
        if a.iter().zip(b).any(|(x, y)| x.to_bits() != y.to_bits()) {
            let largest = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            return Ok(Some(format!(
                "row {row} of a {CHECK_TOKENS}-token pass differs from its one-token step \
                 (largest logit difference {largest:e})"
            )));
        }
    }
    Ok(None)
}
