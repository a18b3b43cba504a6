//! `whisper-spec transcribe FILE...`: transcripts of audio files (or of standard input, `-`),
//! to stdout or an output dir. The model loads once for all files; a file that fails is
//! reported and the others go on.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use clap::builder::{PathBufValueParser, TypedValueParser};

use super::decode_args::DecodeArgs;
use super::model_args::ModelArgs;
use super::setup;
use super::vad_args::VadArgs;
use crate::audio::{self, AudioInput};
use crate::output;

/// Arguments of `whisper-spec transcribe`.
#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// Audio files (wav, flac, mp3, ogg, opus, m4a, webm, ...); `-` reads standard input (once).
    #[arg(
        required = true,
        value_name = "FILE",
        value_parser = PathBufValueParser::new().map(AudioInput::from_arg)
    )]
    pub files: Vec<AudioInput>,
    /// Model and speculative draft.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output format: txt, json, srt, vtt, tsv, a comma list, or all.
    #[arg(short = 'f', long, default_value = "txt", value_parser = super::ranges::output_formats)]
    pub output_format: String,
    /// Write `<file stem>.<ext>` files here (created if missing) instead of printing; standard
    /// input writes `stdin.<ext>`.
    #[arg(short, long)]
    pub output_dir: Option<PathBuf>,
    /// CPU threads for the model (default: all cores).
    #[arg(short, long, value_parser = super::ranges::threads)]
    pub threads: Option<usize>,
    /// Print every speculation round to standard error: the draft's proposals the target
    /// kept, those it rejected and its own token after them.
    #[arg(long)]
    pub show_drafts: bool,
    /// How to decode.
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Voice activity detection.
    #[command(flatten)]
    pub vad: VadArgs,
}

/// Runs `whisper-spec transcribe`.
pub fn run(args: TranscribeArgs, verbose: u8) -> anyhow::Result<ExitCode> {
    setup::set_threads(args.threads)?;
    let formats = output::parse_formats(&args.output_format)?;
    if args.output_dir.is_none() {
        anyhow::ensure!(
            formats.len() == 1,
            "several output formats need --output-dir (stdout takes one)"
        );
        output::check_stdout(formats[0], args.files.len())?;
    }
    let opts = crate::TranscribeOptions {
        vad: args.vad.options(),
        ..args.decode.options()?
    };
    let subtitles = args.decode.subtitles();
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output dir {}", dir.display()))?;
        // Two inputs with one stem (a/x.wav, b/x.mp3) would overwrite each other's outputs.
        let mut seen = std::collections::HashMap::new();
        for file in &args.files {
            let out = output::output_path(dir, &file.to_string(), formats[0])?;
            if let Some(other) = seen.insert(out.clone(), file) {
                anyhow::bail!(
                    "{other} and {file} would both write {}; transcribe them into different \
                     --output-dir",
                    out.display()
                );
            }
        }
    }
    // Before the model loads: a terminal on stdin would otherwise be found only after it.
    if args.files.iter().any(AudioInput::is_stdin) {
        audio::stdin::refuse_terminal()?;
    }

    let transcriber = args.vad.attach(args.model.load()?)?;
    transcriber.check_options(&opts)?;

    let mut failures = 0;
    for file in &args.files {
        let transcript = match transcriber.transcribe_input(file, &opts) {
            Ok(t) => t,
            Err(e) => {
                failures += 1;
                eprintln!("error: {e}");
                continue;
            }
        };
        if let Some(diff) = &transcript.stats.verify_difference {
            failures += 1;
            eprintln!(
                "error: {file}: --verify: output differs from the target decoding alone: {diff}"
            );
        }
        if args.show_drafts {
            show_drafts(&transcript, transcriber.tokenizer());
        }
        if verbose > 0 {
            let s = &transcript.stats;
            if let Some(d) = &s.draft {
                eprintln!(
                    "{}: draft {d}: {} of {} proposals accepted ({:.1} %), {} target calls for {} tokens",
                    transcript.file,
                    s.accepted_tokens,
                    s.draft_tokens,
                    100.0 * s.acceptance_rate,
                    s.target_calls,
                    s.tokens
                );
            }
            eprintln!(
                "{}: {:.1} s of audio in {:.2} s (RTF {:.3}; encoder {:.2} s, decoder {:.2} s, {} tokens), language {}",
                transcript.file,
                transcript.duration_s,
                s.wall_s,
                s.rtf,
                s.encoder_s,
                s.decoder_s,
                s.tokens,
                transcript.language
            );
        }
        match &args.output_dir {
            Some(dir) => match output::write_outputs_with(&transcript, &formats, dir, &subtitles) {
                Ok(paths) => {
                    for p in paths {
                        eprintln!("wrote {}", p.display());
                    }
                }
                Err(e) => {
                    failures += 1;
                    eprintln!("error: {file}: {e}");
                }
            },
            None => {
                let mut out = std::io::stdout().lock();
                output::write_streamed_with(formats[0], &transcript, &subtitles, &mut out)
                    .and_then(|()| out.flush())
                    .context("cannot write to stdout")?;
            }
        }
    }
    Ok(if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `--show-drafts`: one line per speculation round, then the totals.
fn show_drafts(transcript: &crate::Transcript, tokenizer: &crate::text::WhisperTokenizer) {
    let s = &transcript.stats;
    if s.rounds.is_empty() {
        eprintln!(
            "{}: no speculation rounds (no draft{})",
            transcript.file,
            if s.draft.is_some() {
                ", or beam search"
            } else {
                ""
            }
        );
        return;
    }
    eprintln!("{}: round  kept/proposed  text", transcript.file);
    for (i, round) in s.rounds.iter().enumerate() {
        eprintln!(
            "{}",
            crate::transcribe::draft_rounds::round_line(i + 1, round, tokenizer)
        );
    }
    let corrected = s
        .rounds
        .iter()
        .filter(|r| r.accepted < r.proposed.len())
        .count();
    eprintln!(
        "{}: {} rounds, {} corrected; {} of {} proposals kept; {} tokens in {} target passes",
        transcript.file,
        s.rounds.len(),
        corrected,
        s.accepted_tokens,
        s.draft_tokens,
        s.tokens,
        s.target_calls
    );
}
