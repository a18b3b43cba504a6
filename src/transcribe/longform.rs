//! openai/whisper's sequential window loop: encode a 30 s window at the seek position, decode
//! it (prompted with the previous text), split it into segments at timestamp pairs, and seek to
//! the last complete timestamp (or past the window). Temperature fallback is not here yet: this
//! is the greedy reference path.

use std::time::Instant;

use super::segments::split_window;
use super::{TranscribeOptions, Transcriber};
use crate::audio::{LogMel, N_SAMPLES, SAMPLE_RATE, log_mel_spectrogram};
use crate::decoding::sampling::Sampler;
use crate::decoding::speculative::SpecStats;
use crate::error::Result;
use crate::transcript::{Segment, Stats, Transcript};

/// Mel frames in one 30 s window.
pub const N_FRAMES: usize = 3000;

pub(super) fn transcribe(
    t: &Transcriber,
    samples: &[f32],
    opts: &TranscribeOptions,
    file: &str,
) -> Result<Transcript> {
    let started = Instant::now();
    let model = t.model();
    let tokenizer = t.tokenizer();
    let timestamp_begin = tokenizer.specials().timestamp_begin;
    let n_mels = model.config.num_mel_bins;
    let mel = log_mel_spectrogram(samples, n_mels, N_SAMPLES);
    let content_frames = mel.n_frames.saturating_sub(N_FRAMES);
    let duration_s = samples.len() as f64 / f64::from(SAMPLE_RATE);

    let mut language = opts.language.clone();
    let mut stats = Stats::default();
    let mut segments: Vec<Segment> = Vec::new();
    let mut all_tokens: Vec<u32> = Vec::new();
    let mut window = vec![0.0f32; n_mels * N_FRAMES];
    let mut seek = 0usize;
    let mut sampler = Sampler::new(opts.seed);
    let mut window_stats = SpecStats::default();

    while seek < content_frames {
        let window_frames = N_FRAMES.min(content_frames - seek);
        cut_window(&mel, seek, &mut window);
        let t0 = Instant::now();
        let encoded = t.encode_window(&window)?;
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
                detected.code
            } else {
                "en".into()
            });
        }
        let prompt = if opts.condition_on_previous_text {
            &all_tokens[..]
        } else {
            &[]
        };
        let (result, spec) = t.decode_window(
            &encoded,
            language.as_deref(),
            prompt,
            opts,
            true,
            &mut sampler,
        )?;
        stats.decoder_s += t0.elapsed().as_secs_f64();
        stats.tokens += result.tokens.len();
        match &spec {
            Some(s) => window_stats.add(s),
            None => window_stats.target_calls += result.forward_passes,
        }
        // Token identity is the contract of greedy decoding; sampled windows only share the
        // target's distribution.
        if opts.verify
            && opts.temperature == 0.0
            && spec.is_some()
            && stats.verify_difference.is_none()
        {
            let (alone, _) = t.decode_window(
                &encoded,
                language.as_deref(),
                prompt,
                opts,
                false,
                &mut Sampler::new(opts.seed),
            )?;
            if let Some(k) = first_difference(&alone.tokens, &result.tokens) {
                stats.verify_difference = Some(format!(
                    "window at {:.2} s, token {k}: target alone {:?}, speculative {:?}",
                    seek as f64 * 0.01,
                    alone.tokens.get(k),
                    result.tokens.get(k)
                ));
            }
        }

        let silent = matches!(
            (opts.no_speech_threshold, opts.logprob_threshold),
            (Some(ns), lp) if result.no_speech_prob > ns
                && lp.is_none_or(|lp| result.avg_logprob < lp)
        );
        if silent {
            seek += window_frames;
            continue;
        }

        let split = split_window(&result.tokens, timestamp_begin, seek, window_frames);
        for piece in split.segments {
            let text = tokenizer.decode(&piece.tokens);
            if piece.start == piece.end || text.trim().is_empty() {
                continue;
            }
            all_tokens.extend_from_slice(&piece.tokens);
            segments.push(Segment {
                start: piece.start,
                end: piece.end.min(duration_s.max(piece.start)),
                text,
                tokens: piece.tokens,
                avg_logprob: result.avg_logprob,
                no_speech_prob: result.no_speech_prob,
            });
        }
        // Never stand still: a window that yields no progress moves on by itself.
        seek += split.advance.max(1);
    }

    let text = segments
        .iter()
        .map(|s| s.text.as_str())
        .collect::<String>()
        .trim()
        .to_string();
    stats.draft = t.draft().map(|d| d.label().to_string());
    stats.target_calls = window_stats.target_calls;
    stats.draft_tokens = window_stats.draft_tokens;
    stats.accepted_tokens = window_stats.accepted_tokens;
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
        duration_s,
        text,
        segments,
        stats,
    })
}

/// The first index where two token sequences differ (a length difference counts).
fn first_difference(a: &[u32], b: &[u32]) -> Option<usize> {
    let common = a.iter().zip(b).position(|(x, y)| x != y);
    common.or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

/// Copies the 3000 frames of `mel` starting at frame `seek` into `out` (row-major
/// `[n_mels, 3000]`): the window the encoder sees. `mel` must extend 3000 frames past `seek`,
/// which the 30 s of padding guarantees for every seek inside the content.
pub(super) fn cut_window(mel: &LogMel, seek: usize, out: &mut [f32]) {
    for m in 0..mel.n_mels {
        out[m * N_FRAMES..(m + 1) * N_FRAMES].copy_from_slice(&mel.row(m)[seek..seek + N_FRAMES]);
    }
}
