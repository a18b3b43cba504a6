//! The `whisper-spec` binary: parse the command line, hand it to the library, report errors.

use std::process::ExitCode;

use clap::Parser;
use whisper_spec::cli::{self, Cli};

fn main() -> ExitCode {
    match cli::run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
