//! Files in, transcripts out: the [`Transcriber`] owns a loaded model and its tokenizer and runs
//! openai/whisper's window loop over any length of audio.
//!
//! The front end follows openai/whisper: the whole waveform, with 30 s of zeros appended, goes
//! through the log-mel once (so the spectrogram's floor is set by the whole file), and windows of
//! 3000 frames are cut from it at the seek position.

pub mod agreement;
pub mod commit_policy;
pub mod cut_split;
pub mod draft_rounds;
pub mod fallback;
pub mod hallucination;
mod longform;
mod options;
pub mod prompt_echo;
pub mod repeat_guard;
pub mod segments;
pub mod speech_map;
pub mod stream;
pub mod timing;

use std::path::Path;
use std::time::Instant;

use candle_core::Device;

pub use options::{DEFAULT_WINDOW_STEP_BUDGET, TranscribeOptions};

use crate::audio;
use crate::audio::AudioInput;
use crate::audio::framing::{N_FRAMES, cut_window};
use crate::decoding::beam::{BeamPasses, decode_beam, decode_beam_with};
use crate::decoding::best_of::decode_sampled_batch;
use crate::decoding::draft::{Draft, DraftCross};
use crate::decoding::filters::{FilterOptions, LogitFilters, language_probs};
use crate::decoding::greedy::{WindowDecode, decode_target};
use crate::decoding::row_check;
use crate::decoding::sampling::Sampler;
use crate::decoding::speculative::{SpecConfig, SpecStats, decode_speculative};
use crate::decoding::speculative_beam::decode_speculative_beam;
use crate::decoding::task::WindowTask;
use crate::error::{Error, Result};
use crate::model::{CrossKv, Whisper};
use crate::store::{ModelDir, WeightStorage};
use crate::text::{Task, TextError, WhisperTokenizer};
use crate::transcript::Transcript;
use crate::vad::{SileroVad, VadError, keep_short_gaps, speech_regions, start_at_onsets};
use speech_map::{Side, SpeechMap, within_clips};

/// A loaded model ready to transcribe any number of files.
#[derive(Debug)]
pub struct Transcriber {
    model: Whisper,
    tokenizer: WhisperTokenizer,
    name: String,
    draft: Option<Draft>,
    spec: SpecConfig,
    vad: Option<SileroVad>,
    /// With a draft: whether the decoder's multi-token passes are bit for bit its one-token
    /// steps, checked once on the first window ([`row_check`](crate::decoding::row_check)):
    /// the first difference where they are not.
    exactness: std::sync::OnceLock<Option<String>>,
}

/// What a window's decoder is prompted with, besides the start-of-transcript sequence.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowPrompt<'a> {
    /// Language code (ignored by English-only models).
    pub language: Option<&'a str>,
    /// Previous text (its last 223 tokens are used, after `<|startofprev|>`).
    pub previous: &'a [u32],
    /// Tokens forced after the start-of-transcript sequence (`--prefix`).
    pub prefix: &'a [u32],
}

/// One encoded 30 s window: the target's cross-attention and, with a draft, the draft's.
#[derive(Debug, Clone)]
pub struct EncodedWindow {
    /// The target decoder's cross-attention keys/values.
    pub cross: CrossKv,
    /// The draft decoder's, when there is a draft.
    pub draft_cross: Option<DraftCross>,
}

/// A detected language: code and probability.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectedLanguage {
    /// Language code (`en`, `de`, ...).
    pub code: String,
    /// Its probability among all language tokens.
    pub probability: f64,
}

impl Transcriber {
    /// Loads the model in `dir` on `device`; `name` is how transcripts will name the model.
    pub fn load(dir: &ModelDir, name: &str, device: &Device) -> Result<Self> {
        Self::load_stored(dir, name, device, WeightStorage::Published)
    }

    /// [`load`](Self::load) with the weights kept as `storage` says (the same text either way).
    pub fn load_stored(
        dir: &ModelDir,
        name: &str,
        device: &Device,
        storage: WeightStorage,
    ) -> Result<Self> {
        Self::load_with(dir, name.to_string(), || {
            Ok(Whisper::load_stored(dir, device, storage)?)
        })
    }

    /// `dir`'s tokenizer (checked first: it is the cheap part), then the model `load` reads,
    /// named `name`, without a draft.
    fn load_with(
        dir: &ModelDir,
        name: String,
        load: impl FnOnce() -> Result<Whisper>,
    ) -> Result<Self> {
        let tokenizer = WhisperTokenizer::from_model(dir)?;
        Ok(Transcriber {
            model: load()?,
            tokenizer,
            name,
            draft: None,
            spec: SpecConfig::default(),
            vad: None,
            exactness: std::sync::OnceLock::new(),
        })
    }

    /// Loads the model in `dir` quantized (`--quantize`): the decoder's per-step weights in
    /// `kind` (a quarter or a seventh of the f32 bytes read per step) and, on the CPU, the
    /// encoder's projections and the cross-attention keys/values computed in 8 bits (see
    /// [`Whisper::load_quantized`]). The text can differ from the f32 model's by the rounding.
    /// A draft model verified by it gives its own text: its multi-token passes are bit for bit
    /// its one-token steps, as the f32 decoder's are.
    pub fn load_quantized(
        dir: &ModelDir,
        name: &str,
        device: &Device,
        kind: crate::model::linear::QuantKind,
    ) -> Result<Self> {
        Self::load_with(dir, format!("{name} ({kind:?})"), || {
            Ok(Whisper::load_quantized(dir, device, kind)?)
        })
    }

    /// Decodes with `draft` (speculative decoding) configured by `spec`, or alone with `None`.
    /// With a draft, the first window encoded also checks that the decoder's verify passes are
    /// bit for bit its one-token steps on this device ([`row_check`](crate::decoding::row_check));
    /// where they are not, a warning says so and every transcript's stats carry it.
    pub fn with_draft(mut self, draft: Option<Draft>, spec: SpecConfig) -> Self {
        self.exactness = std::sync::OnceLock::new();
        self.draft = draft;
        self.spec = spec;
        self
    }

    /// Runs the exactness check once, on the first window's cross-attention `cross`.
    fn check_exactness(&self, cross: &CrossKv) {
        if self.draft.is_none() {
            return;
        }
        self.exactness.get_or_init(|| {
            let sot = self.tokenizer.specials().sot;
            let found = row_check::multi_token_pass_difference(&self.model.decoder, cross, sot)
                .unwrap_or_else(|e| Some(format!("the check could not run: {e}")));
            if let Some(difference) = &found {
                tracing::warn!(
                    "speculative decoding is not exact with {} on this device: {difference}; \
                     the text can differ from --draft none where two tokens nearly tie",
                    self.name
                );
            }
            found
        });
    }

    /// Where the loaded decoder's verify passes are not bit for bit its one-token steps (so a
    /// draft cannot promise the target's own text): the first difference; `None` when exact,
    /// without a draft, or before the first window.
    pub fn exactness_warning(&self) -> Option<&str> {
        self.exactness.get().and_then(|found| found.as_deref())
    }

    /// Uses `vad` to find the speech when the options ask for it ([`TranscribeOptions::vad`]).
    pub fn with_vad(mut self, vad: Option<SileroVad>) -> Self {
        self.vad = vad;
        self
    }

    /// The voice activity detector, if one is loaded.
    pub fn vad(&self) -> Option<&SileroVad> {
        self.vad.as_ref()
    }

    /// The draft in use, if any.
    pub fn draft(&self) -> Option<&Draft> {
        self.draft.as_ref()
    }

    /// The model.
    pub fn model(&self) -> &Whisper {
        &self.model
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &WhisperTokenizer {
        &self.tokenizer
    }

    /// Checks options against the model before any audio is read: the language must be one the
    /// model knows, translation needs a multilingual model.
    pub fn check_options(&self, opts: &TranscribeOptions) -> Result<()> {
        if opts.task == Task::Translate && !self.tokenizer.is_multilingual() {
            return Err(TextError::TranslateEnglishOnly.into());
        }
        if let Some(lang) = &opts.language {
            self.tokenizer.sot_sequence(Some(lang), opts.task)?;
        }
        Ok(())
    }

    /// Decodes `path` (any supported audio file) and transcribes it.
    pub fn transcribe_file(&self, path: &Path, opts: &TranscribeOptions) -> Result<Transcript> {
        self.transcribe_input(&AudioInput::File(path.to_path_buf()), opts)
    }

    /// Decodes `input` (a file, or all of standard input) and transcribes it; the transcript's
    /// `file` is the input's name ([`AudioInput::path`]: the path as given, or `<stdin>`).
    pub fn transcribe_input(
        &self,
        input: &AudioInput,
        opts: &TranscribeOptions,
    ) -> Result<Transcript> {
        let started = Instant::now();
        let audio = audio::load_input(input)?;
        let mut transcript =
            self.transcribe_samples(&audio.samples, opts, &input.path().display().to_string())?;
        transcript.stats.wall_s = started.elapsed().as_secs_f64();
        transcript.stats.rtf = if transcript.duration_s > 0.0 {
            transcript.stats.wall_s / transcript.duration_s
        } else {
            0.0
        };
        Ok(transcript)
    }

    /// Transcribes 16 kHz mono samples; `file` is only recorded in the transcript.
    pub fn transcribe_samples(
        &self,
        samples: &[f32],
        opts: &TranscribeOptions,
        file: &str,
    ) -> Result<Transcript> {
        self.transcribe_samples_with_progress(samples, opts, file, &mut |_| {})
    }

    /// [`transcribe_samples`](Self::transcribe_samples), calling `progress` with the seconds
    /// of audio done so far before each window and once at the end (with the duration), so a
    /// caller can show how far a long file has come.
    pub fn transcribe_samples_with_progress(
        &self,
        samples: &[f32],
        opts: &TranscribeOptions,
        file: &str,
        progress: &mut dyn FnMut(f64),
    ) -> Result<Transcript> {
        self.check_options(opts)?;
        let Some(vad_options) = &opts.vad else {
            return longform::transcribe(self, samples, opts, file, None, progress);
        };
        let vad = self.vad.as_ref().ok_or(VadError::NotLoaded)?;
        let started = Instant::now();
        let probs = {
            let _span = tracing::debug_span!("vad").entered();
            vad.speech_probs(samples)?
        };
        let detected = speech_regions(&probs, samples.len(), vad_options);
        let mut regions = keep_short_gaps(
            &start_at_onsets(&detected, &probs, vad_options),
            samples.len(),
        );
        if !opts.clip_timestamps.is_empty() {
            regions = within_clips(&regions, &opts.clip_timestamps, samples.len());
        }
        let map = SpeechMap::new(regions, samples.len());
        let vad_s = started.elapsed().as_secs_f64();
        let joined = map.join(samples);
        let duration_s = samples.len() as f64 / f64::from(audio::SAMPLE_RATE);
        tracing::debug!(
            "{file}: {:.1} s of speech in {} regions of {duration_s:.1} s: {}",
            joined.len() as f64 / f64::from(audio::SAMPLE_RATE),
            map.regions().len(),
            map.regions()
                .iter()
                .map(|r| {
                    let at = |sample: usize| sample as f64 / f64::from(audio::SAMPLE_RATE);
                    format!("{:.2}-{:.2}", at(r.start), at(r.end))
                })
                .collect::<Vec<_>>()
                .join(" ")
        );
        let opts = TranscribeOptions {
            // The clips are already cut out; what is left is all to transcribe, each stretch
            // between long pauses in windows of its own.
            clip_timestamps: map.stretches(),
            ..opts.clone()
        };
        let mut transcript = if joined.is_empty() {
            // No speech: nothing to decode (Whisper would invent text on the silence).
            let mut t = longform::transcribe(self, &[], &opts, file, None, &mut |_| {})?;
            progress(duration_s);
            t.segments.clear();
            t.text.clear();
            t
        } else {
            longform::transcribe(self, &joined, &opts, file, Some(&map), &mut |s| {
                progress(map.original_time(s, Side::End))
            })?
        };
        map.restore(&mut transcript);
        repeat_guard::drop_repeats_over_non_speech(&mut transcript, &probs, vad_options.threshold);
        transcript.duration_s = duration_s;
        transcript.stats.vad_s = vad_s;
        transcript.stats.speech_s = Some(joined.len() as f64 / f64::from(audio::SAMPLE_RATE));
        Ok(transcript)
    }

    /// Language probabilities from the decoder's first step on an encoded window, as
    /// openai/whisper's `detect_language`: the most likely language token after
    /// start-of-transcript.
    pub fn detect_language(&self, window: &EncodedWindow) -> Result<DetectedLanguage> {
        let specials = self.tokenizer.specials();
        let mut cache = self.model.decoder.new_cache();
        let logits = self
            .model
            .decoder
            .forward(&[specials.sot], &mut cache, &window.cross)?;
        let row = logits.squeeze(0)?.to_vec1::<f32>()?;
        let probs = language_probs(&row, &self.tokenizer);
        let (code, probability) = probs
            .into_iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .ok_or(Error::Text(TextError::LanguageRequired))?;
        Ok(DetectedLanguage {
            code,
            probability: f64::from(probability),
        })
    }

    /// Encodes one 3000-frame mel window (row-major `[n_mels, 3000]`) and prepares the
    /// decoder's cross-attention for it.
    pub fn encode_window(&self, window: &[f32]) -> Result<EncodedWindow> {
        self.encode_frames(window, N_FRAMES)
    }

    /// Encodes the first `frames` mel frames only (row-major `[n_mels, frames]`): the encoder
    /// attends over `frames / 2` positions instead of 1500. Faster for short audio, but not
    /// what the model was trained on (see [`TranscribeOptions::audio_context`]).
    pub fn encode_frames(&self, window: &[f32], frames: usize) -> Result<EncodedWindow> {
        let features = self.model.encode(window, frames)?;
        let cross = self.model.decoder.cross_kv(&features)?;
        self.check_exactness(&cross);
        let draft_cross = match &self.draft {
            Some(d) => Some(d.cross_for_window(&cross, &features, window)?),
            None => None,
        };
        Ok(EncodedWindow { cross, draft_cross })
    }

    /// The first 30 s of `samples` as a mel window, exactly as the window loop cuts it (the
    /// spectrogram of the whole file, whose floor depends on all of it, then frames 0..3000).
    pub fn first_window(&self, samples: &[f32]) -> Vec<f32> {
        let n_mels = self.model.config.num_mel_bins;
        let mel = crate::audio::log_mel_spectrogram(samples, n_mels, crate::audio::N_SAMPLES);
        let mut window = vec![0.0; n_mels * N_FRAMES];
        cut_window(&mel, 0, &mut window);
        window
    }

    /// Decodes one encoded window in `language` (ignored by English-only models), prompted
    /// with the tail of `previous` tokens (openai: `<|startofprev|>` + the last 223): with the
    /// draft when there is one (and `use_draft`), else the target alone. Greedy at temperature
    /// 0, else sampling with `sampler`.
    pub fn decode_window(
        &self,
        window: &EncodedWindow,
        language: Option<&str>,
        previous: &[u32],
        opts: &TranscribeOptions,
        use_draft: bool,
        sampler: &mut Sampler,
    ) -> Result<(WindowDecode, Option<SpecStats>)> {
        self.decode_window_with(
            window,
            &WindowPrompt {
                language,
                previous,
                prefix: &[],
            },
            opts,
            opts.temperature,
            use_draft,
            sampler,
        )
    }

    /// As [`decode_window`](Self::decode_window), with the prompt's parts given (a `prefix`
    /// forced after the start-of-transcript sequence: its tokens are not part of the result)
    /// and the temperature of this attempt (the fallback loop raises it).
    pub fn decode_window_with(
        &self,
        window: &EncodedWindow,
        prompt: &WindowPrompt<'_>,
        opts: &TranscribeOptions,
        temperature: f32,
        use_draft: bool,
        sampler: &mut Sampler,
    ) -> Result<(WindowDecode, Option<SpecStats>)> {
        self.with_task(window, prompt, opts, |task| {
            if let (Some(beams), true) = (opts.beams_for(prompt.language), temperature == 0.0) {
                if let (true, Some(draft), Some(draft_cross)) = (
                    use_draft && opts.speculative_beams,
                    &self.draft,
                    &window.draft_cross,
                ) {
                    let mut new_session = || {
                        draft
                            .session(draft_cross)
                            .map_err(|e| candle_core::Error::Msg(e.to_string()))
                    };
                    let (out, stats) = decode_speculative_beam(
                        task,
                        beams,
                        opts.patience,
                        &mut new_session,
                        &self.spec,
                    )?;
                    return Ok((out, Some(stats)));
                }
                return Ok((decode_beam(task, beams, opts.patience)?, None));
            }
            if let (true, Some(draft), Some(draft_cross)) =
                (use_draft, &self.draft, &window.draft_cross)
            {
                let cfg = SpecConfig {
                    temperature,
                    ..self.spec.clone()
                };
                let mut session = draft.session(draft_cross)?;
                let (out, stats) = decode_speculative(task, session.as_mut(), &cfg, sampler)?;
                return Ok((out, Some(stats)));
            }
            Ok((decode_target(task, temperature, sampler)?, None))
        })
    }

    /// The best-of candidates of a sampled attempt (`temperature` > 0), one per entry of
    /// `samplers`, decoded by the target as rows of the same passes
    /// ([`decode_sampled_batch`]): each is what [`decode_window_with`](Self::decode_window_with)
    /// gives with its sampler.
    pub fn decode_candidates(
        &self,
        window: &EncodedWindow,
        prompt: &WindowPrompt<'_>,
        opts: &TranscribeOptions,
        temperature: f32,
        samplers: &[Sampler],
    ) -> Result<Vec<WindowDecode>> {
        self.with_task(window, prompt, opts, |task| {
            Ok(decode_sampled_batch(task, temperature, samplers)?)
        })
    }

    /// Beam search of a window with the beams decoded one after another, each in its own pass:
    /// the reference `--verify` holds the batched beam search to.
    pub fn decode_beam_one_by_one(
        &self,
        window: &EncodedWindow,
        prompt: &WindowPrompt<'_>,
        opts: &TranscribeOptions,
        beam_size: usize,
    ) -> Result<WindowDecode> {
        self.with_task(window, prompt, opts, |task| {
            Ok(decode_beam_with(
                task,
                beam_size,
                opts.patience,
                BeamPasses::OneByOne,
            )?)
        })
    }

    /// Builds the window's decoding problem (prompt tokens, logit filters) and hands it to `f`.
    fn with_task<R>(
        &self,
        window: &EncodedWindow,
        prompt: &WindowPrompt<'_>,
        opts: &TranscribeOptions,
        f: impl FnOnce(&WindowTask<'_>) -> Result<R>,
    ) -> Result<R> {
        let (language, previous) = (prompt.language, prompt.previous);
        let specials = self.tokenizer.specials();
        let decoder = &self.model.decoder;
        let mut initial = Vec::new();
        if !previous.is_empty() {
            let keep = decoder.max_positions() / 2 - 1;
            initial.push(specials.prev);
            initial.extend_from_slice(&previous[previous.len().saturating_sub(keep)..]);
        }
        let sot_index = initial.len();
        let language = language.filter(|_| self.tokenizer.is_multilingual());
        initial.extend(self.tokenizer.sot_sequence(language, opts.task)?);
        if !opts.timestamps {
            initial.push(specials.no_timestamps);
        }
        initial.extend_from_slice(prompt.prefix);
        let filters = LogitFilters::new(
            &self.tokenizer,
            &FilterOptions::new(
                initial.len(),
                &self.model.generation.suppress_tokens,
                opts.timestamps,
            ),
        );
        f(&WindowTask {
            decoder,
            cross: &window.cross,
            initial: &initial,
            sot_index,
            filters: &filters,
            specials,
            sample_len: opts.sample_len,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}
