//! `whisper-spec serve`: the OpenAI-compatible transcription server, live captions over a
//! WebSocket and the web page (see [`crate::serve`]).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::decode_args::DecodeArgs;
use super::model_args::ModelArgs;
use super::vad_args::VadArgs;
use super::{ranges, setup};
use crate::serve::decode_pool::DecodePool;
use crate::serve::{AppState, router};
use crate::transcribe::stream::LiveConfig;

/// Arguments of `whisper-spec serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Model and speculative draft.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Require `Authorization: Bearer KEY` on /v1/* (also read from WHISPER_SPEC_API_KEY).
    #[arg(long, env = "WHISPER_SPEC_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Largest upload accepted, MB (OpenAI's limit is 25).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_upload_mb: u64,
    /// Longest audio accepted in one request, hours.
    #[arg(long, default_value_t = 3.0, value_parser = ranges::hours)]
    pub max_hours: f64,
    /// Decodes run at once (default: one per core).
    #[arg(long, value_parser = ranges::threads)]
    pub workers: Option<usize>,
    /// Threads per decode (default: the cores divided among the workers).
    #[arg(short, long, value_parser = ranges::threads)]
    pub threads: Option<usize>,
    /// Requests that may wait for a worker; beyond them the server answers 503 at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub queue: u64,
    /// Live WebSocket sessions at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub max_live: u64,
    /// Live sessions decode after every this much new audio (ms).
    #[arg(long, default_value_t = super::caption::DEFAULT_STEP_MS, value_parser = ranges::step_ms)]
    pub step_ms: u64,
    /// How to decode (every request starts from these; a request's own fields override them).
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Voice activity detection.
    #[command(flatten)]
    pub vad: VadArgs,
}

/// Runs `whisper-spec serve` until Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let defaults = crate::TranscribeOptions {
        vad: args.vad.options(),
        ..args.decode.options()?
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = args.workers.unwrap_or(cores);
    let threads = args.threads.unwrap_or((cores / workers).max(1));
    setup::set_threads(Some(threads))?;
    let transcriber = args.vad.attach(args.model.load()?)?;
    transcriber.check_options(&defaults)?;
    // The model lives as long as the server.
    let transcriber = Box::leak(Box::new(transcriber));
    let pool = DecodePool::start(workers, threads, args.queue as usize)?;
    let state = Arc::new(AppState {
        transcriber,
        model_name: args.model.describe(),
        pool,
        api_key: args.api_key.filter(|k| !k.is_empty()),
        max_upload_mb: args.max_upload_mb,
        max_audio_s: args.max_hours * 3600.0,
        defaults,
        live: LiveConfig::default(),
        live_step_s: args.step_ms as f64 / 1000.0,
        live_slots: Arc::new(tokio::sync::Semaphore::new(args.max_live as usize)),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("serve")
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let address = SocketAddr::new(args.host, args.port);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let bound = listener.local_addr()?;
        eprintln!(
            "whisper-spec serve: {} on http://{bound}/ ({workers} workers of {threads} threads, \
             queue {}, {})",
            state.model_name,
            args.queue,
            if state.api_key.is_some() {
                "key required"
            } else {
                "no key"
            }
        );
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the server stopped")
    })?;
    Ok(ExitCode::SUCCESS)
}
