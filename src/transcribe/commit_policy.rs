//! Which words of a live hypothesis commit, and when.
//!
//! - **Agreement** (LocalAgreement-2, [`super::agreement`]): a word commits when two
//!   consecutive decodes of the rolling buffer agree on it, so at least two steps after it was
//!   heard.
//! - **AlignAtt** (the attention-guided class of SimulStreaming, Macháček et al. 2025): a word
//!   also commits after a single decode when the decoder's alignment heads place it well inside
//!   the audio heard so far, at least `margin_s` before the buffer's end: the audio after it is
//!   heard, so more audio will not change it. AlignAtt proper stops decoding at the first token
//!   whose attention reaches the last frames; here the decode runs to the end of the buffer (so
//!   speculative decoding stays exact against the target's decode of the same buffer), the
//!   word times come from the same alignment heads (the dynamic time warping of word-level
//!   timestamps over their cross-attention), and the rule decides which words commit. The
//!   buffer's last word never commits by attention alone (it may be cut mid-way, and its
//!   punctuation comes with the next word), nor does a word the decoder is unsure of
//!   (probability under one half). Agreement still applies, so a word commits by whichever
//!   rule comes first.

use std::str::FromStr;

/// How live words commit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CommitPolicy {
    /// Two consecutive decodes must agree.
    Agreement,
    /// Also, after one decode, words that end at least `margin_s` before the audio's end.
    AlignAtt {
        /// Seconds between a word's end and the end of the decoded audio.
        margin_s: f64,
    },
}

/// The attention-guided policy's default margin: a tenth of a second under 0.5 s commits sooner
/// with committed text as good at real time, where 0.3 s committed wrong words (README, live
/// captions).
pub const DEFAULT_MARGIN_S: f64 = 0.4;

impl Default for CommitPolicy {
    fn default() -> Self {
        CommitPolicy::AlignAtt {
            margin_s: DEFAULT_MARGIN_S,
        }
    }
}

impl CommitPolicy {
    /// The time (session seconds) before which words of a decode that heard up to `audio_end`
    /// are settled; `None` under plain agreement.
    pub fn settled_before(&self, audio_end: f64) -> Option<f64> {
        match *self {
            CommitPolicy::Agreement => None,
            CommitPolicy::AlignAtt { margin_s } => Some(audio_end - margin_s),
        }
    }
}

impl FromStr for CommitPolicy {
    type Err = String;

    /// `agreement`, `alignatt` (default margin) or `alignatt:SECONDS`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "agreement" => Ok(CommitPolicy::Agreement),
            "alignatt" => Ok(CommitPolicy::default()),
            other => {
                let margin = other
                    .strip_prefix("alignatt:")
                    .and_then(|m| m.parse::<f64>().ok())
                    .filter(|m| m.is_finite() && (0.0..=10.0).contains(m))
                    .ok_or_else(|| {
                        format!(
                            "expected `agreement`, `alignatt` or `alignatt:SECONDS` (0-10), got '{other}'"
                        )
                    })?;
                Ok(CommitPolicy::AlignAtt { margin_s: margin })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_settle() {
        assert_eq!("agreement".parse(), Ok(CommitPolicy::Agreement));
        assert_eq!("alignatt".parse(), Ok(CommitPolicy::default()));
        assert_eq!(
            "alignatt:1.5".parse(),
            Ok(CommitPolicy::AlignAtt { margin_s: 1.5 })
        );
        assert!("alignatt:-1".parse::<CommitPolicy>().is_err());
        assert!("soon".parse::<CommitPolicy>().is_err());
        assert_eq!(CommitPolicy::Agreement.settled_before(5.0), None);
        assert_eq!(
            CommitPolicy::AlignAtt { margin_s: 0.5 }.settled_before(5.0),
            Some(4.5)
        );
    }
}
