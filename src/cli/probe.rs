//! `whisper-spec probe FILE...`: codec, sample rate, channels and exact duration of audio files
//! (or of standard input, `-`), one JSON object per line on stdout, so scripts can check a batch
//! before transcribing it.

use std::io::Write;
use std::process::ExitCode;

use clap::builder::{PathBufValueParser, TypedValueParser};
use serde_json::json;

use crate::audio::{self, AudioInput};

/// Arguments of `whisper-spec probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// Audio files to inspect; `-` reads standard input (once). Each is decoded completely, so
    /// the duration is exact.
    #[arg(
        required = true,
        value_name = "FILE",
        value_parser = PathBufValueParser::new().map(AudioInput::from_arg)
    )]
    pub files: Vec<AudioInput>,
}

/// Runs `whisper-spec probe`: prints
/// `{"file","container","codec","sample_rate","channels","duration_s","truncated"}` (plus
/// `"warnings"` when there are any) or `{"file","error"}` per file (`"file"` is `<stdin>` for
/// standard input); fails if any file failed.
pub fn run(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = false;
    for file in &args.files {
        let line = match audio::probe_input(file) {
            Ok(p) => {
                let mut obj = json!({
                    "file": file.to_string(),
                    "container": p.info.container,
                    "codec": p.info.codec,
                    "sample_rate": p.info.sample_rate,
                    "channels": p.info.channels,
                    "duration_s": round_us(p.duration_s()),
                    "truncated": p.report.truncated,
                });
                if !p.report.warnings.is_empty() {
                    obj["warnings"] = json!(p.report.warnings);
                }
                obj
            }
            Err(e) => {
                failed = true;
                json!({ "file": file.to_string(), "error": e.to_string() })
            }
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Durations to the microsecond: exact enough, and free of float noise in the JSON.
fn round_us(seconds: f64) -> f64 {
    (seconds * 1e6).round() / 1e6
}
