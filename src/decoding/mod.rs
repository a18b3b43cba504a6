//! Decoding: turning the decoder's logits into tokens.
//!
//! - [`filters`]: openai/whisper's logit filters (suppress blank, suppress tokens, timestamp
//!   rules) as pure functions of (tokens so far, logits row), plus the row math every decoder
//!   shares (log-softmax, argmax, language probabilities);
//! - [`task`]: what decoding one window needs ([`WindowTask`]), shared by every strategy;
//! - [`greedy`]: target-only greedy decoding (and sampling) of one window, the reference path;
//! - [`beam`]: openai/whisper's beam search (the state machine every beam decoder drives, and
//!   the target-only search);
//! - [`best_of`]: the sampled candidates of a temperature fallback as rows of one pass;
//! - [`speculative`]: a draft proposes, the target verifies: the target's own tokens (greedy)
//!   or its own distribution (sampling), in fewer target passes;
//! - [`speculative_beam`]: the draft's beam search proposes a token tree, the target scores it
//!   in one pass and its own beam search is replayed on it: target-only beam search, bit for
//!   bit;
//! - [`draft`], [`draft_session`]: the draft decoders and the window-bound view the
//!   speculative loop drives;
//! - [`sampling`]: temperature sampling with randomness per position (which makes speculative
//!   sampling token for token the target's own).

pub mod beam;
pub mod best_of;
pub mod draft;
pub mod draft_session;
pub mod filters;
pub mod greedy;
pub mod row_check;
pub mod sampling;
pub mod speculative;
pub mod speculative_beam;
pub mod task;

pub use filters::{
    FilterOptions, LogitFilters, TimestampRules, argmax, language_probs, log_softmax, logsumexp,
    no_speech_prob, softmax,
};
pub use task::WindowTask;
