//! The live commit policies on real audio (tiny.en, JFK's sentence: 3 s, then half a second at
//! a time): LocalAgreement-2 never commits on a word's first decode, the attention-guided policy
//! commits words after a single decode once they end well before the audio heard, and both
//! end with the sentence. A decode's token budget bounds what a decode of a short buffer may
//! produce, and a session that falls behind jumps to the newest audio.

mod common;

use candle_core::Device;
use whisper_spec::store::ModelDir;
use whisper_spec::text::wer::wer;
use whisper_spec::transcribe::agreement::LiveWord;
use whisper_spec::transcribe::commit_policy::CommitPolicy;
use whisper_spec::transcribe::stream::{LiveConfig, LiveSession};
use whisper_spec::{TranscribeOptions, Transcriber};

const JFK_TEXT: &str = "And so my fellow Americans, ask not what your country can do for you, \
                        ask what you can do for your country.";

fn tiny_en() -> Transcriber {
    let dir = ModelDir::open(&common::models::store_model("tiny.en")).unwrap();
    Transcriber::load(&dir, "tiny.en", &Device::Cpu).unwrap()
}

fn jfk() -> Vec<f32> {
    whisper_spec::audio::load_audio(common::shared_dir().join("corpus/jfk.flac"))
        .unwrap()
        .samples
}

/// English, greedy, no fallback (the caption's defaults).
fn options() -> TranscribeOptions {
    TranscribeOptions {
        language: Some("en".into()),
        temperature_increment: None,
        ..TranscribeOptions::default()
    }
}

/// Runs a session over JFK with `policy`; returns, per step that decoded, the committed words
/// and the audio heard, and the whole committed text.
fn run(t: &Transcriber, policy: CommitPolicy) -> (Vec<(Vec<LiveWord>, f64)>, String) {
    let audio = jfk();
    let mut session = LiveSession::new(
        t,
        &options(),
        LiveConfig {
            policy,
            ..LiveConfig::default()
        },
    );
    let mut steps = Vec::new();
    let mut text = String::new();
    // The first step hears 3 s (several words), then half a second at a time.
    let (head, tail) = audio.split_at(48_000);
    for chunk in std::iter::once(head).chain(tail.chunks(8_000)) {
        session.push(chunk);
        let update = session.step().unwrap();
        for w in &update.committed {
            text.push_str(&w.text);
        }
        if update.decoded {
            steps.push((update.committed, session.audio_end_s()));
        }
    }
    for w in session.finish().unwrap().committed {
        text.push_str(&w.text);
    }
    (steps, text)
}

#[test]
fn alignatt_commits_after_one_decode_and_agreement_after_two() {
    let t = tiny_en();

    let first_commit =
        |steps: &[(Vec<LiveWord>, f64)]| steps.iter().position(|(w, _)| !w.is_empty()).unwrap();
    let (agreed, text) = run(&t, CommitPolicy::Agreement);
    assert!(wer(JFK_TEXT, &text) <= 10.0, "agreement: {text}");
    // The first decode with words commits nothing: there is nothing to agree with yet.
    assert!(
        first_commit(&agreed) >= 1,
        "agreement committed on its first decode"
    );

    let margin = 0.5;
    let (aligned, text) = run(&t, CommitPolicy::AlignAtt { margin_s: margin });
    assert!(wer(JFK_TEXT, &text) <= 10.0, "alignatt: {text}");
    // Until the first commit both sessions decode the same buffers, so the same hypotheses:
    // the attention-guided one commits sooner, on words heard to their end.
    let first = first_commit(&aligned);
    assert!(
        first < first_commit(&agreed),
        "alignatt first committed at decode {first}, agreement at {}",
        first_commit(&agreed)
    );
    let (words, heard) = &aligned[first];
    assert!(
        words.iter().all(|w| w.end <= heard - margin),
        "{words:?} at {heard}"
    );
    // No word commits before it is heard.
    for (words, heard) in &aligned {
        assert!(
            words.iter().all(|w| w.end <= heard + 1e-9),
            "{words:?} at {heard}"
        );
    }
}

#[test]
fn a_live_decode_stops_at_its_token_budget() {
    let t = tiny_en();
    // 2 s of audio and 0.5 tokens per second: 16 + 1 tokens at most per decode.
    let mut session = LiveSession::new(
        &t,
        &options(),
        LiveConfig {
            tokens_per_s: 0.5,
            ..LiveConfig::default()
        },
    );
    session.push(&jfk()[..32_000]);
    let update = session.step().unwrap();
    assert!(update.decoded);
    let stats = session.stats();
    assert_eq!(stats.decodes, 1);
    assert!(
        stats.tokens <= 17,
        "{} tokens in a 17-token budget",
        stats.tokens
    );
    assert!(stats.tokens > 0);
}

/// JFK twice (22 s): the first step hears 3 s, the second gets the next 14 s at once (a decode
/// that took that long), then half a second at a time. Returns the committed words, the
/// seconds skipped and the jumps.
fn run_behind(t: &Transcriber, max_lag_s: Option<f64>) -> (Vec<LiveWord>, f64, usize) {
    let mut audio = jfk();
    audio.extend(jfk());
    let mut session = LiveSession::new(
        t,
        &options(),
        LiveConfig {
            max_lag_s,
            ..LiveConfig::default()
        },
    );
    let mut words = Vec::new();
    let mut skipped = 0.0;
    let (head, rest) = audio.split_at(48_000);
    let (late, tail) = rest.split_at(14 * 16_000);
    for chunk in [head, late].into_iter().chain(tail.chunks(8_000)) {
        session.push(chunk);
        let update = session.step().unwrap();
        skipped += update.skipped_s;
        words.extend(update.committed);
    }
    words.extend(session.finish().unwrap().committed);
    let stats = session.stats();
    assert_eq!(stats.skipped_s, skipped);
    (words, skipped, stats.jumps)
}

#[test]
fn a_session_that_falls_behind_jumps_to_the_newest_audio_and_keeps_what_it_heard() {
    let t = tiny_en();
    let text = |w: &[LiveWord]| w.iter().map(|w| w.text.as_str()).collect::<String>();

    let (words, skipped, jumps) = run_behind(&t, Some(6.0));
    // 14 s waited after the 3 s decoded: all but the newest 3 s are skipped, once.
    assert_eq!(jumps, 1);
    assert!((skipped - 11.0).abs() < 1e-6, "skipped {skipped} s");
    // What the first decode heard is committed, nothing from the skipped stretch (3-14 s),
    // and the end of the second sentence, heard after the jump.
    let all = text(&words);
    assert!(all.trim_start().starts_with("And so"), "{all}");
    assert!(
        words
            .iter()
            .all(|w| w.end <= 3.0 + 1e-6 || w.start >= 14.0 - 0.2),
        "{words:?}"
    );
    assert!(all.trim_end().ends_with("your country."), "{all}");
    assert!(
        words.windows(2).all(|p| p[0].start <= p[1].start),
        "{words:?}"
    );

    // Without a lag limit the same pushes lose nothing: both sentences.
    let (words, skipped, jumps) = run_behind(&t, None);
    assert_eq!((skipped, jumps), (0.0, 0));
    let both = format!("{JFK_TEXT} {JFK_TEXT}");
    assert!(wer(&both, &text(&words)) <= 10.0, "{}", text(&words));
}
