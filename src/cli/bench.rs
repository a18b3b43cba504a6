//! `whisper-spec bench FILE...`: target-only vs speculative decoding in one process, on the
//! same files, runs interleaved (the machine is noisy), medians reported: decoder-phase and
//! end-to-end speed-up, acceptance, tokens per target call, real-time factor, peak RSS, and
//! whether the transcripts are identical. Greedy decoding without temperature fallback (see
//! `run`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use super::bench_stats::{median, peak_rss_mb};
use crate::audio::load_audio;
use crate::decoding::draft::{Draft, DraftSpec};
use crate::decoding::speculative::SpecConfig;
use crate::store::Store;
use crate::transcribe::{TranscribeOptions, Transcriber};

/// Arguments of `whisper-spec bench`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("peer").args(["vs_faster_whisper", "vs_whisper_cpp"])))]
pub struct BenchArgs {
    /// Audio files to decode.
    #[arg(required_unless_present = "synthetic")]
    pub files: Vec<PathBuf>,
    /// Instead: this catalog model (and its draft) with random weights of the real shapes, at
    /// full size, served by a hub on 127.0.0.1 and loaded through the hub path: load time,
    /// memory, encoder window, decoder step, verify passes, the draft's step, the step's bytes
    /// against the measured memory bandwidth, and whether speculative decoding is exact.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["vs_faster_whisper", "vs_whisper_cpp", "passes"])]
    pub synthetic: Option<String>,
    /// With --synthetic: quantize the target (its draft is exact relative to the quantized
    /// target).
    #[arg(long, value_enum, requires = "synthetic")]
    pub quantize: Option<super::model_args::Quantize>,
    /// Target model.
    #[arg(short, long, default_value = super::model_args::DEFAULT_MODEL)]
    pub model: String,
    /// Draft (as `transcribe --draft`; `auto` = the catalog's pairing).
    #[arg(long, default_value = "auto")]
    pub draft: String,
    /// Draft tokens proposed in the first round of each window (then adapted).
    #[arg(long, default_value_t = SpecConfig::default().gamma, value_parser = super::ranges::draft_tokens)]
    pub draft_tokens: usize,
    /// Most draft tokens adaptation may reach.
    #[arg(long, default_value_t = SpecConfig::default().max_gamma, value_parser = super::ranges::draft_tokens)]
    pub max_draft_tokens: usize,
    /// Keep the draft length fixed at --draft-tokens (no adaptation), to compare policies.
    #[arg(long)]
    pub fixed_draft_tokens: bool,
    /// Previous-text tokens the draft reads (default: the model's, see `SpecConfig::for_target`).
    #[arg(long, conflicts_with = "draft_reads_prompt", value_parser = super::ranges::prompt_tokens)]
    pub draft_prompt_tokens: Option<usize>,
    /// Stop drafting after a proposal the draft gives less than this probability (0: never;
    /// default: the model's, see `SpecConfig::for_target`).
    #[arg(long, value_parser = super::ranges::probability)]
    pub draft_confidence: Option<f32>,
    /// The draft reads the whole previous-text prompt, as the target does.
    #[arg(long)]
    pub draft_reads_prompt: bool,
    /// Runs of each mode per file (alternating).
    #[arg(long, default_value_t = 3, value_parser = super::ranges::runs)]
    pub runs: usize,
    /// Decode timestamps.
    #[arg(long)]
    pub no_timestamps: bool,
    /// Beam search with this many beams instead of greedy decoding: speculative beam search
    /// against the target's batched beam search (with --vs-faster-whisper: against
    /// faster-whisper's beam search, ours with the draft and without).
    #[arg(long, value_parser = super::ranges::candidates)]
    pub beam_size: Option<usize>,
    /// Print a JSON summary as the last line.
    #[arg(long)]
    pub json: bool,
    /// Instead: our transcription against faster-whisper's on the same CTranslate2 weights
    /// (float32), each as its own process per file, alternating: wall time (model load
    /// excluded on both sides), real-time factor, peak RSS, with the draft and without.
    #[arg(long)]
    pub vs_faster_whisper: bool,
    /// Instead: the decoder's passes (one-token step, verify passes, the 8-bit draft's step)
    /// and the encoder's window with the weights as published and widened to f32, side by
    /// side, on the first window of the first file, with each storage's resident memory.
    #[arg(long, conflicts_with_all = ["vs_faster_whisper", "vs_whisper_cpp"])]
    pub passes: bool,
    /// The whisper.cpp side-by-side (boxed: the flags would make every command's arguments as
    /// large as these).
    #[command(flatten)]
    pub whisper_cpp: Box<WhisperCppArgs>,
    /// With --vs-faster-whisper: the models to compare (comma list; default: -m).
    #[arg(long, value_delimiter = ',', requires = "vs_faster_whisper")]
    pub models: Vec<String>,
    /// With --vs-faster-whisper: our precisions (comma list of f32, q8_0, q4k); the quantized
    /// ones run against faster-whisper's int8.
    #[arg(long, value_delimiter = ',', default_value = "f32", value_parser = ["f32", "q8_0", "q4k"], requires = "vs_faster_whisper")]
    pub precisions: Vec<String>,
    /// With --vs-faster-whisper or --vs-whisper-cpp: threads on both sides (default: all
    /// cores).
    #[arg(short, long, requires = "peer", value_parser = super::ranges::threads)]
    pub threads: Option<usize>,
    /// With --vs-faster-whisper: the Python of a venv with faster-whisper (default:
    /// $WHISPER_SPEC_PEER_PYTHON, else ~/.cache/whisper-peers/venv/bin/python, which
    /// ../shared/peers/setup.sh creates).
    #[arg(long, requires = "vs_faster_whisper")]
    pub peer_python: Option<PathBuf>,
    /// With --vs-faster-whisper: the peers script (default:
    /// $WHISPER_SPEC_SHARED/peers/faster_whisper_run.py, else ../shared/peers/...).
    #[arg(long, requires = "vs_faster_whisper")]
    pub peer_script: Option<PathBuf>,
}

/// Arguments of `whisper-spec bench --vs-whisper-cpp`.
#[derive(Debug, Args)]
pub struct WhisperCppArgs {
    /// Instead: our transcription against whisper.cpp's `whisper-cli` at this path (built
    /// outside this repository) on the same weights, whole processes alternating: wall time,
    /// peak RSS and WER (where the corpus manifest has a reference) per decoding setting.
    #[arg(long, value_name = "PATH", conflicts_with = "vs_faster_whisper")]
    pub vs_whisper_cpp: Option<PathBuf>,
    /// With --vs-whisper-cpp: the ggml model whisper-cli reads, -m's CTranslate2 weights
    /// converted by ../shared/peers/whisper_cpp/ct2_to_ggml.py.
    #[arg(long, value_name = "FILE", requires = "vs_whisper_cpp")]
    pub whisper_cpp_model: Option<PathBuf>,
    /// With --vs-whisper-cpp: decoding settings (comma list of greedy, beamN, each optionally
    /// with -nf for no temperature fallback).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "greedy,greedy-nf,beam5,beam5-nf",
        requires = "vs_whisper_cpp"
    )]
    pub settings: Vec<String>,
}

/// The speculative settings the flags ask for.
fn spec_config(args: &BenchArgs, decoder_layers: usize) -> anyhow::Result<SpecConfig> {
    let base = SpecConfig::for_target(decoder_layers);
    anyhow::ensure!(args.draft_tokens >= 1, "--draft-tokens must be at least 1");
    let max_gamma = args.max_draft_tokens.max(args.draft_tokens);
    Ok(SpecConfig {
        gamma: args.draft_tokens,
        min_gamma: base.min_gamma.min(args.draft_tokens),
        max_gamma,
        adaptive: !args.fixed_draft_tokens,
        draft_confidence: args.draft_confidence.unwrap_or(base.draft_confidence),
        draft_prompt_tokens: if args.draft_reads_prompt {
            None
        } else {
            args.draft_prompt_tokens.or(base.draft_prompt_tokens)
        },
        ..base
    })
}

/// Runs `whisper-spec bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.runs >= 1, "--runs must be at least 1");
    if args.vs_faster_whisper {
        return vs_faster_whisper(&args);
    }
    if let Some(cli) = &args.whisper_cpp.vs_whisper_cpp {
        return vs_whisper_cpp(&args, cli);
    }
    if let Some(model) = &args.synthetic {
        let identical = super::bench_synthetic::run(&super::bench_synthetic::SyntheticPlan {
            model,
            draft: &args.draft,
            quantize: args.quantize.map(super::model_args::Quantize::kind),
            rounds: args.runs,
            json: args.json,
        })?;
        return Ok(if identical {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    if args.passes {
        super::bench_passes::run(&args.model, &args.files[0], args.runs)?;
        return Ok(ExitCode::SUCCESS);
    }
    let device = candle_core::Device::Cpu;
    let store = Store::from_env();
    let resolved = store.resolve(&args.model)?;
    let alone = Transcriber::load(&resolved.model, &args.model, &device)?;
    let spec: DraftSpec = args.draft.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let draft = Draft::build(
        &spec,
        alone.model(),
        &resolved.model,
        &args.model,
        &store,
        &device,
    )?
    .ok_or_else(|| {
        anyhow::anyhow!("bench compares against a draft: --draft none has nothing to compare")
    })?;
    let label = draft.label().to_string();
    let with = Transcriber::load(&resolved.model, &args.model, &device)?.with_draft(
        Some(draft),
        spec_config(&args, alone.model().config.decoder_layers)?,
    );
    // Greedy (or beam search), without temperature fallback: token identity is the contract
    // of both, and a sampled retry would draw different (equally exact) samples on the two
    // paths, so "identical" could not be judged; fallback windows are also not what the
    // speed-up of the draft is about.
    let opts = TranscribeOptions {
        language: None,
        timestamps: !args.no_timestamps,
        temperature_increment: None,
        beam_size: args.beam_size,
        speculative_beams: true,
        ..TranscribeOptions::default()
    };

    println!(
        "{:<40} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>6} {:>6} same",
        "file", "dec s", "dec spec", "e2e s", "e2e spec", "x dec", "x e2e", "accept", "tok/call"
    );
    let (mut all_dec, mut all_dec_spec, mut all_e2e, mut all_e2e_spec) = (0.0, 0.0, 0.0, 0.0);
    let (mut proposed, mut accepted, mut calls, mut tokens, mut audio_s) = (0, 0, 0, 0, 0.0);
    let mut identical = true;
    for file in &args.files {
        let audio = load_audio(file)?;
        let name = file.display().to_string();
        let (mut dec, mut dec_s, mut e2e, mut e2e_s) = (vec![], vec![], vec![], vec![]);
        let (mut a_text, mut s_text) = (String::new(), String::new());
        let mut last = None;
        for _ in 0..args.runs {
            let t0 = Instant::now();
            let a = alone.transcribe_samples(&audio.samples, &opts, &name)?;
            e2e.push(t0.elapsed().as_secs_f64());
            dec.push(a.stats.decoder_s);
            let t0 = Instant::now();
            let s = with.transcribe_samples(&audio.samples, &opts, &name)?;
            e2e_s.push(t0.elapsed().as_secs_f64());
            dec_s.push(s.stats.decoder_s);
            a_text = a.text;
            s_text = s.text.clone();
            last = Some(s);
        }
        let s = last.expect("at least one run");
        let same = a_text == s_text;
        identical &= same;
        let (d, ds, e, es) = (median(dec), median(dec_s), median(e2e), median(e2e_s));
        all_dec += d;
        all_dec_spec += ds;
        all_e2e += e;
        all_e2e_spec += es;
        proposed += s.stats.draft_tokens;
        accepted += s.stats.accepted_tokens;
        calls += s.stats.target_calls;
        tokens += s.stats.tokens;
        audio_s += s.duration_s;
        println!(
            "{:<40} {d:>8.3} {ds:>8.3} {e:>8.3} {es:>8.3} {:>7.2} {:>7.2} {:>6.3} {:>6.2} {same}",
            name.chars()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<String>(),
            d / ds,
            e / es,
            s.stats.acceptance_rate,
            s.stats.tokens as f64 / s.stats.target_calls.max(1) as f64,
        );
    }
    let acceptance = accepted as f64 / proposed.max(1) as f64;
    let per_call = tokens as f64 / calls.max(1) as f64;
    let rss = peak_rss_mb().unwrap_or(0.0);
    println!(
        "total ({} files, {audio_s:.1} s, target {}, draft {label}): decoder speed-up {:.2}x, end-to-end {:.2}x, \
         acceptance {acceptance:.3}, {per_call:.2} tokens per target call, RTF {:.3} -> {:.3}, peak RSS {rss:.0} MB, identical {identical}",
        args.files.len(),
        args.model,
        all_dec / all_dec_spec,
        all_e2e / all_e2e_spec,
        all_e2e / audio_s,
        all_e2e_spec / audio_s,
    );
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "model": args.model,
                "draft": label,
                "beam_size": args.beam_size.unwrap_or(1),
                "files": args.files.len(),
                "audio_s": audio_s,
                "speedup_decoder": all_dec / all_dec_spec,
                "speedup_end_to_end": all_e2e / all_e2e_spec,
                "acceptance_rate": acceptance,
                "tokens_per_target_call": per_call,
                "rtf_target": all_e2e / audio_s,
                "rtf_speculative": all_e2e_spec / audio_s,
                "peak_rss_mb": rss,
                "identical": identical,
            })
        );
    }
    Ok(if identical {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `bench --vs-faster-whisper`.
fn vs_faster_whisper(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    use super::bench_peer::{PeerSetup, Plan, compare, print};
    anyhow::ensure!(args.threads != Some(0), "--threads must be at least 1");
    let peer = PeerSetup::find(args.peer_python.as_deref(), args.peer_script.as_deref())?;
    let models = if args.models.is_empty() {
        vec![args.model.clone()]
    } else {
        args.models.clone()
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let precisions: Vec<&'static str> = args
        .precisions
        .iter()
        .map(|p| match p.as_str() {
            "q8_0" => "q8_0",
            "q4k" => "q4k",
            _ => "f32",
        })
        .collect();
    let plan = Plan {
        models: &models,
        files: &args.files,
        draft: &args.draft,
        precisions: &precisions,
        runs: args.runs,
        threads,
        timestamps: !args.no_timestamps,
        beam_size: args.beam_size,
    };
    let rows = compare(&plan, &peer)?;
    let totals = print(&rows);
    let f32_ratio = |draft: bool| {
        totals
            .iter()
            .find(|(k, _)| k.starts_with("f32 ") && (k != "f32 none") == draft)
            .map(|(_, r)| *r)
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                // The headline: f32 with speculative decoding (the default), ours / theirs.
                "ratio_vs_faster_whisper": f32_ratio(true).or(f32_ratio(false)),
                "ratio_vs_faster_whisper_no_draft": f32_ratio(false),
                "ratios": totals.iter().map(|(k, r)| (k.clone(), serde_json::json!(r))).collect::<serde_json::Map<_, _>>(),
                "threads": threads,
                "runs": args.runs,
                "beam_size": args.beam_size.unwrap_or(1),
                "rows": rows,
            })
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `bench --vs-whisper-cpp PATH`.
fn vs_whisper_cpp(args: &BenchArgs, whisper_cli: &std::path::Path) -> anyhow::Result<ExitCode> {
    use super::bench_whisper_cpp::{Plan, Setting, compare, print};
    anyhow::ensure!(args.threads != Some(0), "--threads must be at least 1");
    let ggml_model = args.whisper_cpp.whisper_cpp_model.as_deref().ok_or_else(|| {
        anyhow::anyhow!(
            "--vs-whisper-cpp needs --whisper-cpp-model FILE: -m's CTranslate2 weights converted \
             by ../shared/peers/whisper_cpp/ct2_to_ggml.py"
        )
    })?;
    let settings = args
        .whisper_cpp
        .settings
        .iter()
        .map(|s| Setting::parse(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let plan = Plan {
        whisper_cli,
        ggml_model,
        model: &args.model,
        files: &args.files,
        settings: &settings,
        runs: args.runs,
        threads,
    };
    // whisper-cli's OpenMP threads spin while they wait for each other; on a machine whose
    // cores are busy with other work that makes it many times slower, and
    // `OMP_WAIT_POLICY=passive` (inherited from this process) lets them sleep instead.
    let omp_wait_policy = std::env::var("OMP_WAIT_POLICY").unwrap_or_else(|_| "unset".into());
    println!(
        "whisper-cli {}, model {}, {threads} threads, OMP_WAIT_POLICY {omp_wait_policy}",
        whisper_cli.display(),
        ggml_model.display()
    );
    let rows = compare(&plan)?;
    let medians = print(&rows);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "ratios_vs_whisper_cpp": medians.iter().map(|(k, r)| (k.clone(), serde_json::json!(r))).collect::<serde_json::Map<_, _>>(),
                "threads": threads,
                "omp_wait_policy": omp_wait_policy,
                "runs": args.runs,
                "rows": rows,
            })
        );
    }
    Ok(ExitCode::SUCCESS)
}
