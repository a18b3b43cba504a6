//! openai/whisper's sequential window loop: encode a 30 s window at the seek position, decode
//! it (prompted with the previous text, with temperature fallback: [`super::fallback`]), skip
//! it if it is silence, split it into segments at timestamp pairs, and seek to the last
//! complete timestamp (or past the window).

use std::time::Instant;

use super::cut_split::{WindowTokens, split_at_cuts};
use super::fallback::decode_with_fallback;
use super::hallucination;
use super::segments::split_window;
use super::speech_map::SpeechMap;
use super::timing::{add_word_timestamps, find_alignment};
use super::{EncodedWindow, TranscribeOptions, Transcriber, WindowPrompt};
use crate::audio::framing::{
    N_FRAMES, cut_window, fill_silence_after, first_frames, frame_at, loudest_rms_db,
    sample_at_frame,
};
use crate::audio::{N_SAMPLES, SAMPLE_RATE, log_mel_spectrogram};
use crate::decoding::sampling::Sampler;
use crate::decoding::speculative::SpecStats;
use crate::error::Result;
use crate::transcript::{Segment, Stats, Transcript};

/// Transcribes `samples`; with `speech`, they are the joined speech regions of a longer file
/// (see [`super::speech_map`]), and each clip is a stretch between long pauses
/// ([`SpeechMap::stretches`]) that starts without the previous text as prompt.
pub(super) fn transcribe(
    t: &Transcriber,
    samples: &[f32],
    opts: &TranscribeOptions,
    file: &str,
    speech: Option<&SpeechMap>,
    progress: &mut dyn FnMut(f64),
) -> Result<Transcript> {
    let started = Instant::now();
    let model = t.model();
    let tokenizer = t.tokenizer();
    let timestamp_begin = tokenizer.specials().timestamp_begin;
    let n_mels = model.config.num_mel_bins;
    let _span = tracing::info_span!("transcribe", file, seconds = samples.len() / 16_000).entered();
    let mel = {
        let _span = tracing::debug_span!("mel").entered();
        log_mel_spectrogram(samples, n_mels, N_SAMPLES)
    };
    let content_frames = mel.n_frames.saturating_sub(N_FRAMES);
    let duration_s = samples.len() as f64 / f64::from(SAMPLE_RATE);

    let mut language = opts.language.clone();
    let mut language_probability = None;
    let mut stats = Stats::default();
    let mut segments: Vec<Segment> = Vec::new();
    // openai/whisper: the initial prompt opens the token history; `prompt_reset_since` marks
    // where the prompt starts again (after a window decoded hot, or without conditioning).
    let max_prompt = model.decoder.max_positions() / 2 - 1;
    let encode = |text: &Option<String>| match text {
        Some(p) if !p.trim().is_empty() => tokenizer.encode(&format!(" {}", p.trim())),
        _ => Vec::new(),
    };
    // openai/whisper reads only the last half-context of a prompt; a longer one is cut here,
    // once and said out loud, rather than silently at every window.
    let initial_prompt = keep_last_tokens(encode(&opts.initial_prompt), max_prompt, || {
        format!("{file}: --initial-prompt")
    });
    // The prefix shares the other half with the start-of-transcript sequence (at most 4
    // tokens), so the prompt, the sequence and the prefix never exceed the context.
    let prefix = keep_last_tokens(encode(&opts.prefix), max_prompt - 3, || {
        format!("{file}: --prefix")
    });
    let mut all_tokens: Vec<u32> = initial_prompt.clone();
    let mut prompt_reset_since = 0usize;
    // With a speech map, the clip (stretch of speech) whose text the prompt holds.
    let mut prompt_clip = 0usize;
    let mut first_window = true;
    let mut last_speech = 0.0f64;
    let mut window = vec![0.0f32; n_mels * N_FRAMES];
    let mut seek = 0usize;
    let sampler = Sampler::new(opts.seed);
    let mut window_stats = SpecStats::default();

    // openai/whisper `clip_timestamps`: only these stretches are transcribed, in order.
    let clips = clip_ranges(&opts.clip_timestamps, content_frames);
    let mut clip = 0usize;
    if let Some(&(start, _)) = clips.first() {
        seek = start;
    }
    while clip < clips.len() {
        progress(seek as f64 * 0.01);
        let (clip_start, clip_end) = clips[clip];
        seek = seek.max(clip_start);
        if seek >= clip_end {
            clip += 1;
            if let Some(&(start, _)) = clips.get(clip) {
                seek = start;
            }
            continue;
        }
        let window_frames = N_FRAMES.min(clip_end - seek);
        if let Some(db) = opts.silence_db {
            let from = sample_at_frame(seek).min(samples.len());
            let to = sample_at_frame(seek + window_frames).min(samples.len());
            if loudest_rms_db(&samples[from..to], SAMPLE_RATE as usize / 2) < db {
                seek += window_frames;
                continue;
            }
        }
        let _window_span = tracing::debug_span!("window", seek_s = seek as f64 * 0.01).entered();
        cut_window(&mel, seek, &mut window);
        if seek + window_frames < content_frames {
            // A clip ending inside the audio: what follows it must not be heard, so the
            // window continues with silence (the mel of the padding) as at the end of a file.
            fill_silence_after(&mel, window_frames, &mut window);
        }
        let t0 = Instant::now();
        let encoded = match encoder_frames(opts.audio_context, window_frames) {
            N_FRAMES => t.encode_window(&window)?,
            frames => t.encode_frames(&first_frames(&window, n_mels, frames), frames)?,
        };
        stats.encoder_s += t0.elapsed().as_secs_f64();

        let t0 = Instant::now();
        if language.is_none() {
            language = Some(if tokenizer.is_multilingual() {
                let detected = t.detect_language(&encoded)?;
                tracing::info!(
                    "{file}: detected language {} (p = {:.2})",
                    detected.code,
                    detected.probability
                );
                language_probability = Some(detected.probability);
                detected.code
            } else {
                "en".into()
            });
        }
        if speech.is_some() && clip != prompt_clip {
            // A stretch after a long pause: the text before it is no context for it, and over
            // a pause it invites Whisper to repeat itself.
            prompt_reset_since = all_tokens.len();
            prompt_clip = clip;
        }
        let previous = window_prompt(
            &all_tokens,
            &initial_prompt,
            prompt_reset_since,
            opts.carry_initial_prompt,
            max_prompt,
        );
        // faster-whisper's rule: the prefix forces the start of the first window only.
        let prompt = WindowPrompt {
            language: language.as_deref(),
            previous: &previous,
            prefix: if first_window { &prefix } else { &[] },
        };
        first_window = false;
        let attempt = {
            let _span = tracing::debug_span!("decode").entered();
            // The window's numbers depend on where it starts, not on what came before.
            decode_with_fallback(t, &encoded, &prompt, opts, &mut sampler.stream(seek as u64))?
        };
        let result = &attempt.result;
        let spec = &attempt.spec;
        stats.decoder_s += t0.elapsed().as_secs_f64();
        stats.tokens += result.tokens.len();
        stats.fallbacks += attempt.attempts - 1;
        stats.out_of_budget_windows += usize::from(attempt.out_of_budget);
        match spec {
            Some(s) => window_stats.add(s),
            None => window_stats.target_calls += result.forward_passes,
        }
        if let (Some(d), None) = (&attempt.verify_difference, &stats.verify_difference) {
            stats.verify_difference = Some(format!("window at {:.2} s, {d}", seek as f64 * 0.01));
        }

        // openai/whisper: skip when no-speech is likely, unless the text is likely enough.
        let silent = matches!(
            (opts.no_speech_threshold, opts.logprob_threshold),
            (Some(ns), lp) if result.no_speech_prob > ns
                && lp.is_none_or(|lp| result.avg_logprob <= lp)
        );
        if silent || attempt.is_unresolved_loop(opts) {
            seek += window_frames;
            continue;
        }

        let split = split_window(&result.tokens, timestamp_begin, seek, window_frames);
        let mut current: Vec<Segment> = Vec::new();
        for piece in split.segments {
            let text = tokenizer.decode(&piece.tokens);
            if piece.start == piece.end || text.trim().is_empty() {
                continue;
            }
            current.push(Segment {
                start: piece.start,
                end: piece.end.min(duration_s.max(piece.start)),
                text,
                tokens: piece.tokens,
                avg_logprob: result.avg_logprob,
                no_speech_prob: result.no_speech_prob,
                temperature: attempt.temperature,
                compression_ratio: attempt.compression_ratio,
                words: Vec::new(),
            });
        }
        let mut next_seek = seek + split.advance;
        let window = WindowTokens {
            timestamp_begin,
            eot: tokenizer.specials().eot,
            offset: seek as f64 * 0.01,
            frames: window_frames,
        };
        let ctx = WindowContext {
            t,
            encoded: &encoded,
            language: language.as_deref(),
            opts,
        };
        // How many text tokens make each word, per segment (with word timestamps).
        let mut word_tokens: Vec<Vec<usize>> = Vec::new();
        if opts.word_timestamps && !current.is_empty() {
            let t0 = Instant::now();
            let _span = tracing::debug_span!("word_timing").entered();
            let offset = window.offset;
            let speech_before = last_speech;
            word_tokens = ctx.time_words(&mut current, &window, &mut last_speech)?;
            // openai/whisper: unless the window ended on a lone timestamp, continue from the
            // end of its last word.
            let single_ending = split.single_timestamp_ending;
            let last_word_end = current
                .iter()
                .rev()
                .find_map(|s| s.words.last().map(|w| w.end));
            if let (false, Some(end)) = (single_ending, last_word_end)
                && end > offset
            {
                next_seek = frame_at(end);
            }
            stats.decoder_s += t0.elapsed().as_secs_f64();
            if let Some(threshold) = opts.hallucination_silence_threshold {
                let w = hallucination::Window {
                    seek,
                    frames: window_frames,
                    content_frames,
                    single_timestamp_ending: single_ending,
                    last_speech: speech_before,
                };
                match hallucination::apply(&mut current, &w, next_seek, threshold) {
                    hallucination::Outcome::Keep(to) => next_seek = to,
                    hallucination::Outcome::Skip(to) => {
                        last_speech = speech_before;
                        seek = to.max(seek + 1);
                        continue;
                    }
                }
                if let Some(end) = current.iter().rev().find_map(|s| s.words.last()) {
                    last_speech = end.end;
                }
            }
        }
        for segment in &current {
            all_tokens.extend_from_slice(&segment.tokens);
        }
        if let Some(map) = speech
            && current.iter().any(|s| map.cut_inside(s.start, s.end))
        {
            let t0 = Instant::now();
            current = split_window_at_cuts(current, word_tokens, map, &window, &ctx)?;
            stats.decoder_s += t0.elapsed().as_secs_f64();
        }
        segments.extend(current);
        if !opts.condition_on_previous_text || attempt.temperature > 0.5 {
            prompt_reset_since = all_tokens.len();
        }
        // Never stand still: a window that yields no progress moves on by itself.
        seek = next_seek.max(seek + 1);
    }

    let text = segments
        .iter()
        .map(|s| s.text.as_str())
        .collect::<String>()
        .trim()
        .to_string();
    progress(duration_s);
    stats.draft = t.draft().map(|d| d.label().to_string());
    stats.kernels = crate::kernels::CpuFeatures::get().label();
    stats.exactness_warning = t.exactness_warning().map(str::to_string);
    stats.target_calls = window_stats.target_calls;
    stats.draft_tokens = window_stats.draft_tokens;
    stats.accepted_tokens = window_stats.accepted_tokens;
    stats.rounds = std::mem::take(&mut window_stats.rounds);
    stats.acceptance_rate = window_stats.acceptance_rate();
    stats.wall_s = started.elapsed().as_secs_f64();
    stats.rtf = if duration_s > 0.0 {
        stats.wall_s / duration_s
    } else {
        0.0
    };
    Ok(Transcript {
        file: file.to_string(),
        model: t.name().to_string(),
        language: language.unwrap_or_else(|| "en".into()),
        language_probability,
        duration_s,
        text,
        segments,
        stats,
    })
}

/// What timing a window's words needs besides its segments.
struct WindowContext<'a> {
    t: &'a Transcriber,
    encoded: &'a EncodedWindow,
    language: Option<&'a str>,
    opts: &'a TranscribeOptions,
}

impl WindowContext<'_> {
    /// openai's word timing for one window's `segments` (an alignment pass over their text,
    /// then [`add_word_timestamps`]); returns each word's token count, per segment.
    fn time_words(
        &self,
        segments: &mut [Segment],
        window: &WindowTokens,
        last_speech: &mut f64,
    ) -> Result<Vec<Vec<usize>>> {
        let text: Vec<u32> = segments
            .iter()
            .flat_map(|s| s.tokens.iter().copied().filter(|&t| t < window.eot))
            .collect();
        let alignment = find_alignment(
            self.t,
            self.encoded,
            self.language,
            self.opts.task,
            &text,
            window.frames,
        )?;
        Ok(add_word_timestamps(
            alignment,
            segments,
            window.eot,
            window.offset,
            last_speech,
        ))
    }
}

/// One window's `segments` (joined-audio times) with each that runs across a cut of `map`
/// split there ([`split_at_cuts`]). `word_tokens` are the segments' words' token counts when
/// word timestamps were found; otherwise the words are found here for the split only (one
/// alignment pass, in windows with a segment across a cut) and not kept.
fn split_window_at_cuts(
    mut segments: Vec<Segment>,
    mut word_tokens: Vec<Vec<usize>>,
    map: &SpeechMap,
    window: &WindowTokens,
    ctx: &WindowContext,
) -> Result<Vec<Segment>> {
    let keep_words = ctx.opts.word_timestamps;
    if !keep_words {
        // The words are timed on a copy: without word timestamps, segments keep their own
        // edges (openai's word pass moves them to the words).
        let mut timed = segments.clone();
        word_tokens = ctx.time_words(&mut timed, window, &mut 0.0)?;
        for (segment, timed) in segments.iter_mut().zip(timed) {
            segment.words = timed.words;
        }
    }
    let decode = |tokens: &[u32]| ctx.t.tokenizer().decode(tokens);
    let mut out = Vec::with_capacity(segments.len());
    for (i, segment) in segments.into_iter().enumerate() {
        let counts = word_tokens.get(i).map_or(&[][..], Vec::as_slice);
        let parts = split_at_cuts(segment, counts, map, window, &decode, keep_words);
        if parts.len() > 1 {
            tracing::debug!(
                "a segment across a cut, split in {} at {:.2} s of joined audio",
                parts.len(),
                parts[1].start
            );
        }
        out.extend(parts);
    }
    Ok(out)
}

/// The last `max` of `tokens`, with a warning naming `what` when some are cut.
fn keep_last_tokens(mut tokens: Vec<u32>, max: usize, what: impl FnOnce() -> String) -> Vec<u32> {
    if tokens.len() > max {
        tracing::warn!(
            "{} is {} tokens; the model reads at most {max}, so only its last {max} are used",
            what(),
            tokens.len()
        );
        tokens.drain(..tokens.len() - max);
    }
    tokens
}

/// The previous-text tokens for the next window (openai/whisper `transcribe`): the history
/// since the last reset or, with `carry`, the initial prompt followed by as much of the history
/// after it as fits in `max` tokens.
fn window_prompt(
    all_tokens: &[u32],
    initial_prompt: &[u32],
    reset_since: usize,
    carry: bool,
    max: usize,
) -> Vec<u32> {
    if !carry {
        return all_tokens[reset_since.min(all_tokens.len())..].to_vec();
    }
    let ignored = initial_prompt.len().max(reset_since).min(all_tokens.len());
    let rest = &all_tokens[ignored..];
    let room = max.saturating_sub(initial_prompt.len());
    let mut p = initial_prompt.to_vec();
    p.extend_from_slice(&rest[rest.len().saturating_sub(room)..]);
    p
}

/// The clips to transcribe as frame ranges inside `0..content_frames`: pairs of start and end
/// seconds, the last end defaulting to the end of the audio; no clips = all of it.
fn clip_ranges(seconds: &[f64], content_frames: usize) -> Vec<(usize, usize)> {
    let mut points: Vec<usize> = seconds
        .iter()
        .map(|&s| frame_at(s).min(content_frames))
        .collect();
    if points.is_empty() {
        points.push(0);
    }
    if points.len() % 2 == 1 {
        points.push(content_frames);
    }
    points.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// Mel frames to encode for a window with `content` frames of audio: all 3000, or with
/// `audio_context` the content plus that many seconds of what follows it, rounded up to even
/// (the encoder's second convolution halves the frames).
fn encoder_frames(audio_context: Option<f64>, content: usize) -> usize {
    match audio_context {
        None => N_FRAMES,
        Some(pad_s) => {
            let pad = frame_at(pad_s);
            ((content + pad).div_ceil(2) * 2).clamp(2, N_FRAMES)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{N_FRAMES, encoder_frames, window_prompt};

    #[test]
    fn audio_context_encodes_the_content_and_some_padding() {
        assert_eq!(encoder_frames(None, 500), N_FRAMES);
        assert_eq!(encoder_frames(Some(5.0), 501), 1002);
        assert_eq!(encoder_frames(Some(5.0), 2800), N_FRAMES);
        assert_eq!(encoder_frames(Some(0.0), 0), 2);
    }

    #[test]
    fn long_prompts_keep_their_last_tokens() {
        use super::keep_last_tokens;
        assert_eq!(keep_last_tokens(vec![1, 2, 3], 5, String::new), [1, 2, 3]);
        assert_eq!(
            keep_last_tokens(vec![1, 2, 3, 4, 5, 6], 4, String::new),
            [3, 4, 5, 6]
        );
    }

    #[test]
    fn clips_are_frame_ranges_with_an_open_last_end() {
        use super::clip_ranges;
        assert_eq!(clip_ranges(&[], 1000), [(0, 1000)]);
        assert_eq!(clip_ranges(&[2.5], 1000), [(250, 1000)]);
        assert_eq!(
            clip_ranges(&[0.0, 1.0, 3.0, 20.0], 1000),
            [(0, 100), (300, 1000)]
        );
    }

    #[test]
    fn prompts_follow_openai_whisper() {
        let initial = [1, 2];
        let history = [1, 2, 10, 11, 12, 13];
        // The history since the reset point (the initial prompt opens it).
        assert_eq!(window_prompt(&history, &initial, 0, false, 5), history);
        assert_eq!(window_prompt(&history, &initial, 4, false, 5), [12, 13]);
        // Carried: the initial prompt, then the newest history that fits.
        assert_eq!(
            window_prompt(&history, &initial, 0, true, 5),
            [1, 2, 11, 12, 13]
        );
        assert_eq!(window_prompt(&history, &initial, 5, true, 5), [1, 2, 13]);
        assert_eq!(window_prompt(&initial, &initial, 0, true, 5), [1, 2]);
    }
}
