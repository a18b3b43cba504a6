//! The `whisper-spec` binary: parse the command line, hand it to the library, report errors.

use std::process::ExitCode;

use clap::Parser;
use whisper_spec::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(usage) = cli.check() {
        usage.exit();
    }
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
