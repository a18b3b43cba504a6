//! The commit bookkeeping of live transcription, and its first policy: LocalAgreement-2
//! (Macháček et al. 2023, "Turning Whisper into a real-time transcription system"). Each
//! re-decode of the rolling buffer is a hypothesis; the words on which two consecutive
//! hypotheses agree, from the start, are committed and never change again. The rest is
//! tentative: shown, but free to change. The attention-guided policy
//! ([`super::commit_policy`]) also commits, after one decode, the words the decoder has heard
//! to their end.
//!
//! Words are compared after normalisation (case and punctuation dropped): "hello" followed
//! by "Hello," agrees, and the committed word takes the newer spelling, which has seen more
//! audio. Words already committed are removed from each new hypothesis by time (a word that
//! lies mostly before the commit point) and by text (the first words repeating the last committed
//! ones), so a re-decode that still hears committed audio cannot commit it twice.

/// One word of a hypothesis, with times in seconds from the start of the session.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveWord {
    /// The word as Whisper wrote it (leading space, attached punctuation).
    pub text: String,
    /// Start time.
    pub start: f64,
    /// End time.
    pub end: f64,
    /// Mean probability of its tokens.
    pub probability: f64,
    /// The last word of a Whisper segment (a timestamp followed it): a natural line end.
    pub ends_segment: bool,
}

/// Longest run of committed words a new hypothesis may repeat at its start and still have it
/// recognised as a repeat.
const MAX_REPEAT: usize = 10;

/// Repeats of committed text are looked for only when the new words start this close to the
/// commit point: further on, the same words are new speech.
const REPEAT_WINDOW_S: f64 = 1.0;

/// Least probability of a word committed after one decode by the attention-guided policy:
/// unsure words wait for agreement (on spontaneous speech, committing them at once cost a
/// word in 35: "crocodile is." for "crocodile sounds like").
pub const MIN_SETTLED_PROBABILITY: f64 = 0.5;

/// The hypotheses seen so far and what they agreed on.
#[derive(Debug, Clone, Default)]
pub struct Agreement {
    /// End time of the last committed word.
    committed_end: f64,
    /// The last few committed words, normalised (for repeat removal).
    committed_tail: Vec<String>,
    /// The uncommitted words of the latest hypothesis.
    pending: Vec<LiveWord>,
}

impl Agreement {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// End time of the last committed word (0 before any).
    pub fn committed_end(&self) -> f64 {
        self.committed_end
    }

    /// The tentative words: the latest hypothesis beyond what is committed.
    pub fn tentative(&self) -> &[LiveWord] {
        &self.pending
    }

    /// Takes a new hypothesis (words in time order, session times) and returns the words it
    /// commits: the longest common prefix with the previous hypothesis.
    pub fn insert(&mut self, hypothesis: Vec<LiveWord>) -> Vec<LiveWord> {
        self.insert_settled(hypothesis, None)
    }

    /// As [`insert`](Self::insert), and with `settled_before` (the attention-guided policy,
    /// [`super::commit_policy`]) also the words the decoder has heard to their end: each word
    /// of the committed prefix either agrees with the previous hypothesis, or ends at or before
    /// `settled_before`, is followed by another word of this hypothesis (so that its spelling
    /// and punctuation are settled too) and has a probability of at least
    /// [`MIN_SETTLED_PROBABILITY`].
    pub fn insert_settled(
        &mut self,
        hypothesis: Vec<LiveWord>,
        settled_before: Option<f64>,
    ) -> Vec<LiveWord> {
        let fresh = self.drop_committed(hypothesis);
        let settled = |i: usize, w: &LiveWord| {
            settled_before.is_some_and(|t| {
                w.end <= t && i + 1 < fresh.len() && w.probability >= MIN_SETTLED_PROBABILITY
            })
        };
        let agreed = (0..fresh.len())
            .take_while(|&i| {
                let agrees = self
                    .pending
                    .get(i)
                    .is_some_and(|old| same_word(&fresh[i].text, &old.text));
                agrees || settled(i, &fresh[i])
            })
            .count();
        let mut fresh = fresh;
        let rest = fresh.split_off(agreed);
        self.pending = rest;
        self.commit(&fresh);
        fresh
    }

    /// Commits every tentative word (the audio has ended: nothing more will come to change
    /// them) and returns them.
    pub fn commit_all(&mut self) -> Vec<LiveWord> {
        let words = std::mem::take(&mut self.pending);
        self.commit(&words);
        words
    }

    /// Commits the tentative words that end at or before `time` (the buffer is being cut
    /// there without agreement, to bound its length) and returns them.
    pub fn commit_until(&mut self, time: f64) -> Vec<LiveWord> {
        let n = self.pending.iter().take_while(|w| w.end <= time).count();
        let rest = self.pending.split_off(n);
        let words = std::mem::replace(&mut self.pending, rest);
        self.commit(&words);
        words
    }

    fn commit(&mut self, words: &[LiveWord]) {
        for w in words {
            self.committed_end = self.committed_end.max(w.end);
            self.committed_tail.push(normalise(&w.text));
        }
        let excess = self.committed_tail.len().saturating_sub(MAX_REPEAT);
        self.committed_tail.drain(..excess);
    }

    /// The words of `hypothesis` that are not already committed.
    fn drop_committed(&self, hypothesis: Vec<LiveWord>) -> Vec<LiveWord> {
        // By time: a word mostly before the commit point was committed (its edges move by
        // a few hundredths between decodes; its middle does not cross a word boundary).
        let mut words: Vec<LiveWord> = hypothesis
            .into_iter()
            .filter(|w| (w.start + w.end) / 2.0 > self.committed_end)
            .collect();
        let starts_at_commit = words
            .first()
            .is_some_and(|w| (w.start - self.committed_end).abs() < REPEAT_WINDOW_S);
        if starts_at_commit {
            let tail = &self.committed_tail;
            let longest = (1..=MAX_REPEAT.min(tail.len()).min(words.len()))
                .rev()
                .find(|&n| {
                    tail[tail.len() - n..]
                        .iter()
                        .zip(&words[..n])
                        .all(|(c, w)| *c == normalise(&w.text))
                });
            if let Some(n) = longest {
                words.drain(..n);
            }
        }
        words
    }
}

/// The word with case and punctuation dropped; a word that is only punctuation keeps it.
pub fn normalise(word: &str) -> String {
    let kept: String = word
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if kept.is_empty() {
        word.trim().to_string()
    } else {
        kept
    }
}

/// Whether two spellings are the same word for agreement.
pub fn same_word(a: &str, b: &str) -> bool {
    normalise(a) == normalise(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words one second apart starting at `t0`.
    fn hyp(text: &str, t0: f64) -> Vec<LiveWord> {
        text.split_whitespace()
            .enumerate()
            .map(|(i, w)| LiveWord {
                text: format!(" {w}"),
                start: t0 + i as f64,
                end: t0 + i as f64 + 0.8,
                probability: 0.9,
                ends_segment: false,
            })
            .collect()
    }

    fn texts(words: &[LiveWord]) -> String {
        words.iter().map(|w| w.text.as_str()).collect()
    }

    #[test]
    fn commits_the_prefix_two_hypotheses_agree_on() {
        let mut a = Agreement::new();
        assert!(a.insert(hyp("the cat", 0.0)).is_empty());
        assert_eq!(texts(a.tentative()), " the cat");
        let c = a.insert(hyp("the cat sat on", 0.0));
        assert_eq!(texts(&c), " the cat");
        assert_eq!(texts(a.tentative()), " sat on");
        // A changed word stops agreement there.
        let c = a.insert(hyp("the cat sat in the hat", 0.0));
        assert_eq!(texts(&c), " sat");
        assert_eq!(texts(a.tentative()), " in the hat");
        assert_eq!(a.committed_end(), 2.8);
    }

    #[test]
    fn agreement_ignores_case_and_punctuation_and_keeps_the_newer_spelling() {
        let mut a = Agreement::new();
        a.insert(hyp("hello world", 0.0));
        let c = a.insert(hyp("Hello, world.", 0.0));
        assert_eq!(texts(&c), " Hello, world.");
    }

    #[test]
    fn committed_words_are_never_committed_again() {
        let mut a = Agreement::new();
        a.insert(hyp("one two three", 0.0));
        assert_eq!(
            texts(&a.insert(hyp("one two three four", 0.0))),
            " one two three"
        );
        // The buffer still holds the committed audio: dropped by time.
        assert_eq!(
            texts(&a.insert(hyp("one two three four five", 0.0))),
            " four"
        );
        // A re-decode after a trim repeats the last committed words with shifted times:
        // dropped by text.
        assert_eq!(texts(&a.insert(hyp("four five six", 3.9))), " five");
        assert_eq!(texts(a.tentative()), " six");
    }

    #[test]
    fn a_word_whose_start_moved_before_the_commit_point_is_still_new() {
        let w = |text: &str, start: f64, end: f64| LiveWord {
            text: text.into(),
            start,
            end,
            probability: 0.9,
            ends_segment: false,
        };
        let mut a = Agreement::new();
        a.insert(vec![w(" for", 6.8, 7.08), w(" you.", 7.08, 7.48)]);
        a.insert(vec![w(" for", 6.8, 7.08), w(" you.", 7.08, 7.48)]);
        a.insert(vec![w(" you,", 7.08, 7.42), w(" ask", 7.42, 8.52)]);
        // Alignment moved "ask" to start 0.1 s before the committed "you." ends.
        let c = a.insert(vec![
            w(" you,", 7.08, 7.38),
            w(" ask", 7.38, 8.48),
            w(" what", 8.5, 8.7),
        ]);
        assert_eq!(texts(&c), " ask");
    }

    #[test]
    fn end_of_audio_and_forced_cuts_commit_tentative_words() {
        let mut a = Agreement::new();
        a.insert(hyp("a b c d", 0.0));
        assert_eq!(texts(&a.commit_until(1.9)), " a b");
        assert_eq!(texts(&a.commit_all()), " c d");
        assert!(a.tentative().is_empty());
        assert!(a.commit_all().is_empty());
    }

    #[test]
    fn settled_words_commit_after_one_hypothesis_but_not_the_last_one() {
        let mut a = Agreement::new();
        // Words end at 0.8, 1.8, 2.8, 3.8; settled before 3.0: the first three, but "c" only
        // because another word follows it.
        let c = a.insert_settled(hyp("a b c d", 0.0), Some(3.0));
        assert_eq!(texts(&c), " a b c");
        assert_eq!(texts(a.tentative()), " d");
        // The last word is never settled, even when it closes a segment; an unsure word
        // waits for agreement, and so do the words after it.
        let mut words = hyp("d e", 3.0);
        words.last_mut().unwrap().ends_segment = true;
        assert_eq!(texts(&a.insert_settled(words, Some(10.0))), " d");
        let mut a = Agreement::new();
        let mut words = hyp("p q r", 0.0);
        words[1].probability = 0.3;
        assert_eq!(texts(&a.insert_settled(words, Some(10.0))), " p");
        // Without a settled time it is plain agreement.
        let mut a = Agreement::new();
        assert!(a.insert_settled(hyp("x y z", 0.0), None).is_empty());
        // An agreed word commits even past the settled time; a settled word stops nothing.
        let c = a.insert_settled(hyp("x y w v", 0.0), Some(0.9));
        assert_eq!(texts(&c), " x y");
    }

    #[test]
    fn punctuation_only_words_compare_as_written() {
        assert_eq!(normalise(" ..."), "...");
        assert!(same_word(" Yes!", "yes"));
        assert!(!same_word(" yes", " no"));
    }
}
