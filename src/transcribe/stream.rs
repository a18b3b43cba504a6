//! Live transcription: a rolling buffer of the most recent audio is re-decoded at every step,
//! and the words two consecutive decodes agree on are committed ([`super::agreement`]), or
//! with the attention-guided policy also those one decode places well before the buffer's end
//! ([`super::commit_policy`]). Each decode is bounded: a token budget for the audio it holds,
//! and no temperature-fallback attempt after its time budget.
//!
//! - The buffer starts where committed text ends a Whisper segment: once it is longer than
//!   [`LiveConfig::trim_after_s`], it is cut at the last segment end inside the committed text,
//!   and the cut words become the prompt of the next decodes (as "previous text"), so Whisper
//!   keeps the context it would have in a file.
//! - It never grows past [`LiveConfig::max_buffer_s`]: if nothing agrees for that long, the
//!   tentative words well before the end are committed as they are and the buffer is cut.
//! - Trailing segments that look invented (openai's anomaly score: improbable words, or words
//!   squeezed into no time, as when Whisper repeats its prompt over silence) are left out of
//!   the hypothesis.
//! - It never lags more than [`LiveConfig::max_lag_s`] behind the audio: when inference
//!   falls behind (a slow machine, a long decode), the tentative words are committed as they
//!   are and the waiting audio is skipped but for its newest seconds, which are counted
//!   ([`LiveStats::skipped_s`]): captions stay live instead of drifting further behind.
//! - Non-speech is not decoded: a step whose new audio has no speech and that has no
//!   tentative words to confirm returns at once, and that audio is dropped from the buffer.
//!   Speech is what the Silero VAD hears when the options ask for it (the default in
//!   `caption`; it runs chunk by chunk as audio arrives, its state carried along), else audio
//!   louder than [`LiveConfig::speech_db`]. Whisper invents text on silence, room tone and
//!   music; this keeps it from ever being asked.
//!
//! The session has no clock of its own: the caller pushes audio and decides when to step
//! (`caption` steps every `--step-ms` of new audio), and times everything it shows.

use std::time::Instant;

use super::agreement::{Agreement, LiveWord, same_word};
use super::commit_policy::CommitPolicy;
use super::hallucination::is_segment_anomaly;
use super::{TranscribeOptions, Transcriber};
use crate::audio::SAMPLE_RATE;
use crate::audio::framing::loudest_rms_db;
use crate::error::Result;
use crate::vad::{CHUNK_SAMPLES, VadError, VadOptions, VadState};

/// How the rolling buffer is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveConfig {
    /// Cut the buffer at a committed segment end once it is longer than this (seconds).
    pub trim_after_s: f64,
    /// Never let the buffer grow past this (seconds; at most 30, one Whisper window).
    pub max_buffer_s: f64,
    /// New audio whose loudest 100 ms is below this level (dBFS) is silence.
    pub speech_db: f64,
    /// Least audio (seconds) worth a decode: on less, Whisper mostly invents ("Thank you.").
    pub min_decode_s: f64,
    /// Characters of committed text kept as the prompt of later decodes.
    pub prompt_chars: usize,
    /// Which words commit when ([`CommitPolicy`]).
    pub policy: CommitPolicy,
    /// A decode's time budget (seconds): no temperature-fallback attempt starts after it, so
    /// one hard stretch cannot stall the captions for several seconds.
    pub decode_budget_s: f64,
    /// A decode's token budget per second of buffered audio (plus a fixed 16): a decode that
    /// loops stops there instead of at 224 tokens.
    pub tokens_per_s: f64,
    /// The most undecoded audio (seconds) a step takes in: past it, the step jumps to the
    /// newest [`RESUME_S`] (see [`LiveSession::step`]). `None`: decode everything, however late
    /// (a file played faster than real time, where nothing should be lost).
    pub max_lag_s: Option<f64>,
}

/// Seconds of the newest audio a step keeps when it jumps ahead (a few words of context for
/// the first decode after the jump).
pub const RESUME_S: f64 = 3.0;

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            trim_after_s: 10.0,
            max_buffer_s: 25.0,
            speech_db: -50.0,
            min_decode_s: 1.0,
            prompt_chars: 200,
            policy: CommitPolicy::default(),
            decode_budget_s: 1.0,
            tokens_per_s: 8.0,
            max_lag_s: None,
        }
    }
}

/// What one step changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveUpdate {
    /// Words committed by this step, in order (final: never shown again as tentative).
    pub committed: Vec<LiveWord>,
    /// The tentative words after this step (replacing the previous ones).
    pub tentative: Vec<LiveWord>,
    /// Whether the step ran the model (false: silence, or too little audio).
    pub decoded: bool,
    /// Seconds of audio this step skipped because inference had fallen behind (0 if none).
    pub skipped_s: f64,
    /// Whether tentative text shown before this step was changed rather than extended.
    pub rewrote: bool,
}

/// Totals over a session.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LiveStats {
    /// Steps that ran the model.
    pub decodes: usize,
    /// Steps skipped as silence.
    pub silent_steps: usize,
    /// Wall time spent decoding (seconds).
    pub decode_s: f64,
    /// Longest single decode (seconds).
    pub max_decode_s: f64,
    /// Of the decode time: in the encoder (seconds).
    pub encoder_s: f64,
    /// Of the decode time: in the decoder, alignment included (seconds).
    pub decoder_s: f64,
    /// Decodes that needed temperature fallback (a hotter retry of a failed attempt).
    pub fallbacks: usize,
    /// Steps that changed tentative text already shown.
    pub rewrites: usize,
    /// Times the buffer reached its limit without agreement and was cut by force.
    pub forced_cuts: usize,
    /// Audio skipped because inference fell behind by more than `max_lag_s` (seconds).
    pub skipped_s: f64,
    /// Steps that skipped audio.
    pub jumps: usize,
    /// Words dropped as echoes ([`prompt_echo`](super::prompt_echo)): a decode's start that
    /// repeated the text committed before a cut, or a decode's squeezed repeat of itself.
    pub echoed_words: usize,
    /// Draft proposals and acceptances over all decodes (speculative decoding).
    pub draft_tokens: usize,
    /// Draft proposals the target accepted.
    pub accepted_tokens: usize,
    /// Target decoder calls.
    pub target_calls: usize,
    /// Tokens decoded.
    pub tokens: usize,
}

/// A live session over one stream of 16 kHz audio.
#[derive(Debug)]
pub struct LiveSession<'a> {
    transcriber: &'a Transcriber,
    opts: TranscribeOptions,
    config: LiveConfig,
    agreement: Agreement,
    /// Audio not yet cut away; `buffer[0]` is sample `offset` of the session.
    buffer: Vec<f32>,
    offset: usize,
    /// Samples of the buffer the last decode saw.
    decoded_len: usize,
    /// Samples of the buffer when [`step`](LiveSession::step) last ran (decoding or not).
    stepped_len: usize,
    /// Segment ends (session seconds) of the last hypothesis.
    segment_ends: Vec<f64>,
    /// Committed words still inside the buffer (they move to the prompt when cut away).
    committed_in_buffer: Vec<LiveWord>,
    /// Committed text before the buffer: the prompt.
    prompt: String,
    /// The voice activity detector's settings, when it decides what is speech.
    vad: Option<VadOptions>,
    /// Its recurrent state, carried from chunk to chunk through the session.
    vad_state: VadState,
    /// Session sample up to which the detector has run (whole chunks).
    vad_done: usize,
    /// Speech probabilities of the chunks still in the buffer: (first session sample, p).
    vad_probs: Vec<(usize, f32)>,
    stats: LiveStats,
    /// The speculation rounds of the last decode.
    last_rounds: Vec<crate::decoding::speculative::DraftRound>,
}

impl<'a> LiveSession<'a> {
    /// A session decoding with `transcriber` and `opts` (word timestamps are switched on:
    /// agreement and latency are per word).
    pub fn new(transcriber: &'a Transcriber, opts: &TranscribeOptions, config: LiveConfig) -> Self {
        let vad = opts.vad.clone();
        let opts = TranscribeOptions {
            word_timestamps: true,
            timestamps: true,
            clip_timestamps: Vec::new(),
            initial_prompt: None,
            // The detector gates the decodes (see `step`); the buffer is decoded whole.
            vad: None,
            ..opts.clone()
        };
        let max_buffer_s = config.max_buffer_s.clamp(2.0, 30.0);
        LiveSession {
            transcriber,
            opts,
            config: LiveConfig {
                max_buffer_s,
                trim_after_s: config.trim_after_s.min(max_buffer_s),
                ..config
            },
            agreement: Agreement::new(),
            buffer: Vec::new(),
            offset: 0,
            decoded_len: 0,
            stepped_len: 0,
            segment_ends: Vec::new(),
            committed_in_buffer: Vec::new(),
            prompt: String::new(),
            vad,
            vad_state: VadState::default(),
            vad_done: 0,
            vad_probs: Vec::new(),
            stats: LiveStats::default(),
            last_rounds: Vec::new(),
        }
    }

    /// Appends captured audio (16 kHz mono).
    pub fn push(&mut self, samples: &[f32]) {
        self.buffer.extend_from_slice(samples);
    }

    /// Seconds of audio pushed since the last step (the caller steps when this reaches its
    /// step length).
    pub fn new_audio_s(&self) -> f64 {
        self.buffer.len().saturating_sub(self.stepped_len) as f64 / f64::from(SAMPLE_RATE)
    }

    /// Seconds of audio in the buffer.
    pub fn buffer_s(&self) -> f64 {
        self.buffer.len() as f64 / f64::from(SAMPLE_RATE)
    }

    /// Session time (seconds) of the first sample still in the buffer.
    fn start_s(&self) -> f64 {
        self.offset as f64 / f64::from(SAMPLE_RATE)
    }

    /// Session time (seconds) of the end of the audio pushed so far.
    pub fn audio_end_s(&self) -> f64 {
        (self.offset + self.buffer.len()) as f64 / f64::from(SAMPLE_RATE)
    }

    /// The language decodes use (detected on the first decode with speech when not given).
    pub fn language(&self) -> Option<&str> {
        self.opts.language.as_deref()
    }

    /// Totals so far.
    pub fn stats(&self) -> &LiveStats {
        &self.stats
    }

    /// The speculation rounds of the last decode (empty without a draft).
    pub fn last_rounds(&self) -> &[crate::decoding::speculative::DraftRound] {
        &self.last_rounds
    }

    /// The tentative words now.
    pub fn tentative(&self) -> &[LiveWord] {
        self.agreement.tentative()
    }

    /// One step: jump to the newest audio if more than `max_lag_s` waits undecoded, decode
    /// the buffer unless the new audio is silence with nothing to confirm, commit what the
    /// policy settles, and cut the buffer when it is long.
    pub fn step(&mut self) -> Result<LiveUpdate> {
        let (jumped, skipped_s) = self.jump_to_newest();
        let mut update = self.step_buffer()?;
        if skipped_s > 0.0 {
            update.committed.splice(..0, jumped);
            update.skipped_s = skipped_s;
        }
        Ok(update)
    }

    /// When more than `max_lag_s` of audio waits undecoded, commits the tentative words as
    /// they are (they were heard, if not confirmed) and drops the waiting audio but its
    /// newest [`RESUME_S`]: the committed words and the seconds skipped.
    fn jump_to_newest(&mut self) -> (Vec<LiveWord>, f64) {
        let waiting = self.buffer.len().saturating_sub(self.decoded_len);
        let waiting_s = waiting as f64 / f64::from(SAMPLE_RATE);
        if self.config.max_lag_s.is_none_or(|lag| waiting_s <= lag) {
            return (Vec::new(), 0.0);
        }
        let committed = self.agreement.commit_all();
        self.remember(&committed);
        let from = self.audio_end_s() - RESUME_S.min(waiting_s);
        let skipped_s = from - self.start_s().max(self.decoded_end_s());
        self.cut(from);
        // The detector starts afresh on the audio after the gap.
        self.vad_state = VadState::default();
        self.vad_done = self.offset;
        self.vad_probs.clear();
        self.stats.skipped_s += skipped_s;
        self.stats.jumps += 1;
        tracing::warn!(
            "inference fell {waiting_s:.1} s behind: skipped {skipped_s:.1} s to the newest audio"
        );
        (committed, skipped_s)
    }

    /// Session time (seconds) of the end of the audio the last decode saw.
    fn decoded_end_s(&self) -> f64 {
        (self.offset + self.decoded_len) as f64 / f64::from(SAMPLE_RATE)
    }

    /// [`step`](Self::step) on the buffer as it is.
    fn step_buffer(&mut self) -> Result<LiveUpdate> {
        self.stepped_len = self.buffer.len();
        let has_speech = self.new_audio_has_speech()?;
        if !has_speech && self.agreement.tentative().is_empty() {
            self.stats.silent_steps += 1;
            self.drop_silence();
            return Ok(LiveUpdate::default());
        }
        if self.buffer_s() < self.config.min_decode_s {
            return Ok(LiveUpdate {
                tentative: self.agreement.tentative().to_vec(),
                ..LiveUpdate::default()
            });
        }
        let shown = self.agreement.tentative().to_vec();
        let mut hypothesis = self.decode()?;
        if self.committed_in_buffer.is_empty() {
            // Right after a cut nothing committed is left in the buffer: a decode that starts
            // by restating the committed text is echoing it.
            let echo = super::prompt_echo::echo_len(&self.prompt, &hypothesis, self.start_s());
            self.drop_echo(&mut hypothesis, ..echo, "an echo of the committed text");
        }
        let settled = self.config.policy.settled_before(self.audio_end_s());
        let mut committed = self.agreement.insert_settled(hypothesis, settled);
        committed.extend(self.limit_buffer());
        self.remember(&committed);
        self.cut_at_segment_end();
        let tentative = self.agreement.tentative().to_vec();
        let rewrote = !is_prefix(&shown, committed.iter().chain(&tentative));
        self.stats.rewrites += usize::from(rewrote);
        Ok(LiveUpdate {
            committed,
            tentative,
            decoded: true,
            rewrote,
            skipped_s: 0.0,
        })
    }

    /// Whether the audio since the last decode has speech: the detector's chunks (run on the
    /// whole chunks that arrived since the last step) or, without it, its loudness.
    fn new_audio_has_speech(&mut self) -> Result<bool> {
        let from = self.decoded_len.min(self.buffer.len());
        let Some(options) = &self.vad else {
            let new_audio = &self.buffer[from..];
            return Ok(
                loudest_rms_db(new_audio, SAMPLE_RATE as usize / 10) >= self.config.speech_db
            );
        };
        let vad = self.transcriber.vad().ok_or(VadError::NotLoaded)?;
        let end = self.offset + self.buffer.len();
        let start = self.vad_done.max(self.offset);
        let whole = (end - start) / CHUNK_SAMPLES * CHUNK_SAMPLES;
        if whole > 0 {
            let audio = &self.buffer[start - self.offset..start - self.offset + whole];
            let probs = vad.process(audio, &mut self.vad_state)?;
            self.vad_probs.extend(
                probs
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| (start + i * CHUNK_SAMPLES, p)),
            );
            self.vad_done = start + whole;
        }
        let offset = self.offset;
        self.vad_probs
            .retain(|&(at, _)| at + CHUNK_SAMPLES > offset);
        let since = self.offset + from;
        let threshold = options.threshold as f32;
        Ok(self
            .vad_probs
            .iter()
            .any(|&(at, p)| at + CHUNK_SAMPLES > since && p >= threshold))
    }

    /// The audio has ended: decodes what was not decoded yet and commits every tentative word.
    pub fn finish(&mut self) -> Result<LiveUpdate> {
        let mut update = if self.buffer.len() > self.decoded_len {
            self.step()?
        } else {
            LiveUpdate::default()
        };
        let rest = self.agreement.commit_all();
        self.remember(&rest);
        update.committed.extend(rest);
        update.tentative.clear();
        Ok(update)
    }

    /// Removes the `words` of `hypothesis` that [`prompt_echo`](super::prompt_echo) found to
    /// be an echo (`what`), counting them.
    fn drop_echo(
        &mut self,
        hypothesis: &mut Vec<LiveWord>,
        words: impl std::ops::RangeBounds<usize>,
        what: &str,
    ) {
        let dropped: Vec<LiveWord> = hypothesis.drain(words).collect();
        if !dropped.is_empty() {
            let text: String = dropped.iter().map(|w| w.text.as_str()).collect();
            tracing::debug!("dropped {what}: {text}");
            self.stats.echoed_words += dropped.len();
        }
    }

    /// Decodes the buffer and returns its words in session time.
    fn decode(&mut self) -> Result<Vec<LiveWord>> {
        let started = Instant::now();
        let budget = 16 + (self.buffer_s() * self.config.tokens_per_s).ceil() as usize;
        let opts = TranscribeOptions {
            initial_prompt: (!self.prompt.is_empty()).then(|| self.prompt.clone()),
            sample_len: self.opts.sample_len.min(budget),
            fallback_deadline: Some(
                started + std::time::Duration::from_secs_f64(self.config.decode_budget_s.max(0.0)),
            ),
            ..self.opts.clone()
        };
        let transcript = self
            .transcriber
            .transcribe_samples(&self.buffer, &opts, "live")?;
        self.decoded_len = self.buffer.len();
        let elapsed = started.elapsed().as_secs_f64();
        let s = &mut self.stats;
        s.decodes += 1;
        s.decode_s += elapsed;
        s.max_decode_s = s.max_decode_s.max(elapsed);
        s.encoder_s += transcript.stats.encoder_s;
        s.fallbacks += usize::from(transcript.stats.fallbacks > 0);
        s.decoder_s += transcript.stats.decoder_s;
        s.draft_tokens += transcript.stats.draft_tokens;
        s.accepted_tokens += transcript.stats.accepted_tokens;
        s.target_calls += transcript.stats.target_calls;
        s.tokens += transcript.stats.tokens;
        self.last_rounds = transcript.stats.rounds.clone();
        if self.opts.language.is_none() && !transcript.segments.is_empty() {
            self.opts.language = Some(transcript.language.clone());
        }

        let base = self.start_s();
        self.segment_ends.clear();
        // A decode that loops (a sentence, then the same again squeezed into no audio, often
        // inside one segment: no temperature fallback breaks loops on a partial buffer) keeps
        // what precedes the first copy; the copies are the model's, and judged with them the
        // whole segment would look invented and the heard sentence be lost with it.
        let mut segments = transcript.segments;
        let flat: Vec<LiveWord> = segments
            .iter()
            .flat_map(|s| s.words.iter().map(|w| live_word(w, base, false)))
            .collect();
        if let Some(from) = super::prompt_echo::squeezed_repeat(&flat) {
            let text: String = flat[from..].iter().map(|w| w.text.as_str()).collect();
            tracing::debug!("dropped a squeezed repeat: {text}");
            self.stats.echoed_words += flat.len() - from;
            keep_first_words(&mut segments, from);
        }
        let mut words = Vec::new();
        // Trailing segments whose words look invented (improbable, or squeezed into no time:
        // what Whisper does when it repeats the prompt over silence) are not a hypothesis.
        // Only trailing ones: words after them would commit past them, and a real sentence
        // with odd timings would be lost.
        let heard = segments
            .iter()
            .rposition(|s| !s.words.is_empty() && !is_segment_anomaly(Some(s)))
            .map_or(0, |last| last + 1);
        for dropped in segments[heard..].iter().filter(|s| !s.words.is_empty()) {
            tracing::debug!("not a hypothesis (looks invented): {}", dropped.text);
        }
        for segment in &segments[..heard] {
            let n = segment.words.len();
            for (i, w) in segment.words.iter().enumerate() {
                words.push(live_word(w, base, i + 1 == n));
            }
            if let Some(last) = segment.words.last() {
                self.segment_ends.push(base + last.end);
            }
        }
        tracing::debug!(
            "buffer {:.2}-{:.2} s, no speech {:.2}, prompt {:?}: {}",
            base,
            self.audio_end_s(),
            segments.first().map_or(1.0, |s| s.no_speech_prob),
            self.prompt,
            words
                .iter()
                .map(|w| format!("{}[{:.2}-{:.2}]", w.text, w.start, w.end))
                .collect::<String>()
        );
        Ok(words)
    }

    /// Keeps committed words until they leave the buffer.
    fn remember(&mut self, committed: &[LiveWord]) {
        self.committed_in_buffer.extend_from_slice(committed);
    }

    /// When the buffer reaches its limit with nothing agreed, commits the tentative words
    /// that end well before its end (they have been heard for several seconds) so that it
    /// can be cut.
    fn limit_buffer(&mut self) -> Vec<LiveWord> {
        if self.buffer_s() < self.config.max_buffer_s {
            return Vec::new();
        }
        let keep_s = self.config.max_buffer_s - self.config.trim_after_s;
        let forced = self
            .agreement
            .commit_until(self.audio_end_s() - keep_s.max(2.0));
        self.stats.forced_cuts += 1;
        tracing::warn!(
            "no agreement for {:.0} s: committing {} tentative words as they are",
            self.buffer_s(),
            forced.len()
        );
        // Cut at the last committed word, or further when no tentative word is in the way
        // (nothing recognised there), so that the buffer keeps its newest seconds.
        let fallback = self.audio_end_s() - keep_s.max(2.0);
        let first_tentative = self
            .agreement
            .tentative()
            .first()
            .map_or(f64::INFINITY, |w| w.start);
        let at = self
            .agreement
            .committed_end()
            .max(fallback.min(first_tentative));
        self.cut(at);
        forced
    }

    /// Cuts the buffer at the last segment end inside the committed text, once it is long.
    fn cut_at_segment_end(&mut self) {
        if self.buffer_s() <= self.config.trim_after_s {
            return;
        }
        let committed_end = self.agreement.committed_end();
        let start = self.start_s();
        let at = self
            .segment_ends
            .iter()
            .copied()
            .filter(|&t| t > start && t <= committed_end + 1e-6)
            .fold(None, |best: Option<f64>, t| {
                Some(best.map_or(t, |b| b.max(t)))
            });
        if let Some(at) = at {
            self.cut(at);
        }
    }

    /// A stretch of silence with nothing tentative: keep only its last half second, so that
    /// the next speech starts near the beginning of the buffer.
    fn drop_silence(&mut self) {
        let keep = SAMPLE_RATE as usize / 2;
        if self.buffer.len() > keep * 2 {
            let at = (self.offset + self.buffer.len() - keep) as f64 / f64::from(SAMPLE_RATE);
            self.cut(at.max(self.agreement.committed_end()));
        }
    }

    /// Drops the audio before session time `at` (seconds); committed words that end by then
    /// become prompt text.
    fn cut(&mut self, at: f64) {
        let target = (at * f64::from(SAMPLE_RATE)).round() as usize;
        let n = target.saturating_sub(self.offset).min(self.buffer.len());
        if n == 0 {
            return;
        }
        self.buffer.drain(..n);
        self.offset += n;
        self.decoded_len = self.decoded_len.saturating_sub(n);
        self.stepped_len = self.stepped_len.saturating_sub(n);
        let until = self.start_s() + 1e-6;
        let gone = self
            .committed_in_buffer
            .iter()
            .take_while(|w| w.end <= until)
            .count();
        for w in self.committed_in_buffer.drain(..gone) {
            self.prompt.push_str(&w.text);
        }
        if self.prompt.len() > self.config.prompt_chars {
            let mut from = self.prompt.len() - self.config.prompt_chars;
            while !self.prompt.is_char_boundary(from) {
                from += 1;
            }
            // Start at a word.
            let from = self.prompt[from..].find(' ').map_or(from, |i| from + i);
            self.prompt.drain(..from);
        }
    }
}

/// A decoded word in session time (its buffer starts at `base`).
fn live_word(w: &crate::transcript::Word, base: f64, ends_segment: bool) -> LiveWord {
    LiveWord {
        text: w.word.clone(),
        start: base + w.start,
        end: base + w.end,
        probability: w.probability,
        ends_segment,
    }
}

/// Truncates `segments` to their first `n` words in order (later segments left without words).
fn keep_first_words(segments: &mut [crate::transcript::Segment], n: usize) {
    let mut left = n;
    for s in segments {
        let keep = left.min(s.words.len());
        s.words.truncate(keep);
        left -= keep;
    }
}

/// Whether `shown` words are, by agreement rules, the start of `now`.
fn is_prefix<'w>(shown: &[LiveWord], now: impl Iterator<Item = &'w LiveWord>) -> bool {
    let mut now = now;
    shown
        .iter()
        .all(|s| now.next().is_some_and(|n| same_word(&s.text, &n.text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_are_changes_not_extensions() {
        let w = |t: &str| LiveWord {
            text: t.into(),
            start: 0.0,
            end: 0.0,
            probability: 1.0,
            ends_segment: false,
        };
        let shown = [w(" a"), w(" b")];
        assert!(is_prefix(&shown, [w(" A"), w(" b,"), w(" c")].iter()));
        assert!(!is_prefix(&shown, [w(" a")].iter()));
        assert!(!is_prefix(&shown, [w(" a"), w(" x")].iter()));
    }
}
