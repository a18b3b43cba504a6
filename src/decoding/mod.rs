//! Decoding: turning the decoder's logits into tokens.
//!
//! - [`filters`]: openai/whisper's logit filters (suppress blank, suppress tokens, timestamp
//!   rules) as pure functions of (tokens so far, logits row), plus the row math every decoder
//!   shares (log-softmax, argmax, language probabilities);
//! - [`greedy`]: target-only greedy decoding of one window, the reference path.

pub mod beam;
pub mod draft;
pub mod draft_session;
pub mod filters;
pub mod greedy;
pub mod sampling;
pub mod speculative;

pub use filters::{
    FilterOptions, LogitFilters, TimestampRules, argmax, language_probs, log_softmax, logsumexp,
    no_speech_prob, softmax,
};
