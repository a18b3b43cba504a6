//! Speculation rounds as text, for people: what the draft proposed, which of it the target
//! kept, and the target's own token after it (`transcribe --show-drafts`, the server's page).

use crate::decoding::speculative::DraftRound;
use crate::text::WhisperTokenizer;

/// One round, decoded.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RoundText {
    /// The proposals the target kept.
    pub accepted: String,
    /// The proposals it rejected (the first differs from its own token).
    pub rejected: String,
    /// The target's own token: the correction after a rejection, or the bonus token when all
    /// proposals stood.
    pub target: String,
    /// Whether `target` replaced a proposal.
    pub corrected: bool,
}

/// `round` decoded with `tokenizer` (timestamps written `<|1.23|>`).
pub fn round_text(round: &DraftRound, tokenizer: &WhisperTokenizer) -> RoundText {
    let kept = round.accepted.min(round.proposed.len());
    RoundText {
        accepted: tokenizer.decode_with_timestamps(&round.proposed[..kept]),
        rejected: tokenizer.decode_with_timestamps(&round.proposed[kept..]),
        target: round
            .emitted
            .map(|t| tokenizer.decode_with_timestamps(&[t]))
            .unwrap_or_default(),
        corrected: kept < round.proposed.len(),
    }
}

/// The terminal line of round `index`: `12  4/5  " ask not what" ✗" your" → " my"`.
pub fn round_line(index: usize, round: &DraftRound, tokenizer: &WhisperTokenizer) -> String {
    let t = round_text(round, tokenizer);
    let mut line = format!(
        "{index:>5}  {}/{}  {:?}",
        round.accepted.min(round.proposed.len()),
        round.proposed.len(),
        t.accepted
    );
    if t.corrected {
        line += &format!(" rejected {:?} -> target {:?}", t.rejected, t.target);
    } else if !t.target.is_empty() {
        line += &format!(" + target {:?}", t.target);
    }
    line
}
