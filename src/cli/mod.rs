//! Command-line layer: one file per command. Each command parses its own arguments (clap),
//! calls the library and prints; no audio or model logic lives here.

pub mod batch;
pub mod bench;
mod bench_passes;
mod bench_peer;
mod bench_stats;
mod bench_synthetic;
mod bench_whisper_cpp;
pub mod caption;
mod caption_display;
pub mod decode_args;
pub mod model_args;
pub mod models;
pub mod probe;
pub mod ranges;
pub mod report;
pub mod serve;
pub mod setup;
pub mod transcribe;
pub mod vad_args;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

/// whisper-spec: Whisper speech-to-text with exact speculative decoding.
#[derive(Debug, Parser)]
#[command(name = "whisper-spec", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace). RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Write a Chrome trace (chrome://tracing, Perfetto) of where the time goes: loading, mel,
    /// each encoder layer, every decoder pass, draft rounds and verify passes.
    #[arg(long, global = true, value_name = "FILE")]
    pub trace: Option<std::path::PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Transcribe audio files (or translate them into English).
    Transcribe(Box<transcribe::TranscribeArgs>),
    /// Live captions from a microphone (or a file played at real time).
    Caption(Box<caption::CaptionArgs>),
    /// Transcribe whole archives: resumable, parallel, with progress and a report.
    Batch(Box<batch::BatchArgs>),
    /// An OpenAI-compatible transcription server, live captions over a WebSocket, a web page.
    Serve(Box<serve::ServeArgs>),
    /// One report for a batch's output, merged from every shard that wrote there.
    Report(report::ReportArgs),
    /// Target alone vs speculative decoding on the same files: speed-up, acceptance, identity.
    Bench(Box<bench::BenchArgs>),
    /// List, fetch, inspect and import Whisper models.
    Models(models::ModelsArgs),
    /// Print codec, sample rate, channels and duration of audio files, one JSON line per file.
    Probe(probe::ProbeArgs),
}

impl Cli {
    /// Checks what clap cannot see one value at a time: standard input (`-`) appears at most
    /// once among the inputs of `transcribe` and `probe`, since it can be read only once. The
    /// error is a usage error like clap's own (exit status 2, with the command's usage).
    pub fn check(&self) -> Result<(), clap::Error> {
        let (name, inputs) = match &self.command {
            Command::Transcribe(args) => ("transcribe", &args.files),
            Command::Probe(args) => ("probe", &args.files),
            _ => return Ok(()),
        };
        if inputs.iter().filter(|input| input.is_stdin()).count() <= 1 {
            return Ok(());
        }
        let mut cli = Cli::command();
        cli.build();
        let command = cli
            .find_subcommand_mut(name)
            .expect("transcribe and probe are subcommands");
        Err(command.error(
            ErrorKind::ArgumentConflict,
            "`-` (standard input) was given more than once; it can be read only once",
        ))
    }
}

/// Runs a parsed command line and returns the process exit status.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Kept to the end of the command: dropping it writes the end of the trace.
    let _trace = init_logging(cli.verbose, cli.trace.as_deref())?;
    match cli.command {
        Command::Transcribe(args) => transcribe::run(*args, cli.verbose),
        Command::Caption(args) => caption::run(*args, cli.verbose),
        Command::Batch(args) => batch::run(*args),
        Command::Report(args) => report::run(args),
        Command::Serve(args) => serve::run(*args),
        Command::Bench(args) => bench::run(*args),
        Command::Models(args) => models::run(args),
        Command::Probe(args) => probe::run(args),
    }
}

/// Logs go to stderr so that stdout stays clean for JSON and transcripts. Warnings are always
/// shown (a truncated file, a fallback to the offline model source). With `trace`, every span
/// (whatever the log level) is also written to that file as a Chrome trace.
fn init_logging(
    verbose: u8,
    trace: Option<&std::path::Path>,
) -> anyhow::Result<Option<tracing_chrome::FlushGuard>> {
    use tracing_subscriber::prelude::*;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // symphonia logs recoverable stream quirks ("skipped junk") at warn; the decoder
        // reports what matters to the user itself (RUST_LOG=symphonia=debug shows them).
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{default},symphonia=off")));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(|| crate::batch::progress::LogWriter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter);
    let (chrome, guard) = match trace {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("--trace: cannot create {}: {e}", path.display()))?;
            let (layer, guard) = tracing_chrome::ChromeLayerBuilder::new()
                .writer(std::io::BufWriter::new(file))
                .include_args(true)
                .build();
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(chrome)
        .try_init();
    Ok(guard)
}
