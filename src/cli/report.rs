//! `whisper-spec report OUT [--json]`: one report for an output tree, merged from every shard
//! that wrote there (see [`crate::batch::merged_report`]).

use std::process::ExitCode;

use clap::Args;

use crate::batch::OutputTree;
use crate::batch::merged_report::merge;
use crate::objects::Location;

/// Arguments of `whisper-spec report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The batch's output directory or bucket prefix (`s3://bucket/out`).
    pub output: String,
    /// Print the report as JSON on standard output instead of the summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs `whisper-spec report`.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let location = Location::parse(&args.output).map_err(anyhow::Error::msg)?;
    if let Location::Local(dir) = &location {
        anyhow::ensure!(dir.is_dir(), "{}: no such directory", dir.display());
    }
    let tree = OutputTree::open(&location)?;
    let report = merge(&tree)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.summary());
    }
    Ok(ExitCode::SUCCESS)
}
