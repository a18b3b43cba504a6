//! Transcribing only the speech: JFK's sentence, 3 minutes of room tone (seeded brown noise at
//! -50 dBFS), hiss or music, the sentence again. With the Silero VAD (the CLI's default
//! settings) both sentences come out whole, each at its own place in the file (segments and
//! words mapped back from the joined speech, segments split at the cut), and the non-speech is
//! never decoded; room tone alone gives no text;
//! asking for the VAD without a model is an error. With 3 minutes of music in place of the room
//! tone and the detector told to keep pauses of up to 10 minutes (so the music is decoded),
//! Whisper loops over the music; the loops (the previous text again, far from any speech) are
//! dropped and counted, and both real sentences stay.

mod common;

use candle_core::Device;
use whisper_spec::cli::vad_args::{DEFAULT_SPEECH_PAD_MS, DEFAULT_THRESHOLD};
use whisper_spec::store::ModelDir;
use whisper_spec::vad::{SileroVad, VadOptions};
use whisper_spec::{TranscribeOptions, Transcriber};

const RATE: usize = 16_000;

fn transcriber() -> Transcriber {
    let dir = ModelDir::open(&common::models::store_model("base")).unwrap();
    let vad = SileroVad::load(common::models::vad_model()).unwrap();
    Transcriber::load(&dir, "base", &Device::Cpu)
        .unwrap()
        .with_vad(Some(vad))
}

fn options() -> TranscribeOptions {
    TranscribeOptions {
        language: Some("en".into()),
        word_timestamps: true,
        vad: Some(VadOptions {
            threshold: DEFAULT_THRESHOLD,
            speech_pad_ms: DEFAULT_SPEECH_PAD_MS,
            ..VadOptions::default()
        }),
        ..TranscribeOptions::default()
    }
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
                .to_lowercase()
        })
        .collect()
}

/// JFK's sentence, 16 kHz.
fn jfk() -> Vec<f32> {
    whisper_spec::audio::load_audio(
        common::shared_dir().join("corpus/formats/jfk_16000_mono_s16.wav"),
    )
    .unwrap()
    .samples
}

/// The words of JFK's sentence.
fn jfk_words() -> Vec<String> {
    words(
        "And so my fellow Americans ask not what your country can do for you \
         ask what you can do for your country",
    )
}

/// JFK, `filler` (non-speech), JFK again: both sentences come out whole, every segment on one
/// side of the filler, and with word timestamps every word inside its own sentence.
fn speech_around(filler: &[f32], name: &str, word_timestamps: bool) {
    let jfk = jfk();
    let jfk_s = jfk.len() as f64 / RATE as f64;
    let second_at = jfk_s + filler.len() as f64 / RATE as f64;
    let mut audio = jfk.clone();
    audio.extend_from_slice(filler);
    audio.extend_from_slice(&jfk);
    let t = transcriber();
    let opts = TranscribeOptions {
        word_timestamps,
        ..options()
    };
    let transcript = t.transcribe_samples(&audio, &opts, name).unwrap();
    let expected = jfk_words();
    let twice = [expected.clone(), expected.clone()].concat();
    assert_eq!(
        words(&transcript.text),
        twice,
        "{name}: {}",
        transcript.text
    );
    assert!((transcript.duration_s - audio.len() as f64 / RATE as f64).abs() < 1e-9);
    let speech = transcript.stats.speech_s.expect("the VAD ran");
    assert!(
        speech < 2.0 * jfk_s + 4.0,
        "{name}: {speech} s kept as speech"
    );
    for s in &transcript.segments {
        assert!(
            s.end <= jfk_s + 0.5 || s.start >= second_at - 0.5,
            "{name}: segment {:.2}-{:.2} s '{}' spans the cut",
            s.start,
            s.end,
            s.text
        );
    }
    // The second sentence's words are in the second half's segments.
    let second_half: String = transcript
        .segments
        .iter()
        .filter(|s| s.start >= second_at - 0.5)
        .map(|s| s.text.as_str())
        .collect();
    assert_eq!(
        words(&second_half).len(),
        expected.len(),
        "{name}: {second_half}"
    );
    if !word_timestamps {
        return;
    }
    let all: Vec<_> = transcript.segments.iter().flat_map(|s| &s.words).collect();
    assert_eq!(all.len(), twice.len());
    for (i, w) in all.iter().enumerate() {
        let (lo, hi) = if i < expected.len() {
            (0.0, jfk_s + 0.5)
        } else {
            (second_at - 0.5, second_at + jfk_s + 0.5)
        };
        assert!(
            w.start >= lo && w.end <= hi && w.start <= w.end,
            "{name}: word {i} '{}' at {:.2}-{:.2} s, expected within {lo:.2}-{hi:.2}",
            w.word,
            w.start,
            w.end
        );
    }
}

/// Three minutes apart, each sentence is a stretch of its own, decoded in its own windows.
#[test]
fn speech_around_room_tone_is_transcribed_whole_and_in_place() {
    speech_around(
        &common::room_tone::room_tone(180),
        "jfk_roomtone_jfk",
        false,
    );
}

/// Seconds apart, both sentences share a window, and Whisper writes one segment from the end of
/// the first into the start of the second: it is split at the cut, with the words found for the
/// split alone (no word timestamps asked for) or with those the transcript keeps.
#[test]
fn a_segment_across_a_short_cut_is_split_there() {
    let tone = common::room_tone::room_tone(4);
    speech_around(&tone, "jfk_4s_roomtone_jfk", false);
    let tone = common::room_tone::room_tone(8);
    speech_around(&tone, "jfk_8s_roomtone_jfk", true);
}

#[test]
fn speech_around_hiss_is_transcribed_whole_and_in_place() {
    speech_around(&common::room_tone::hiss(180), "jfk_hiss_jfk", true);
}

/// After 3 minutes of loud music the detector is slow to hear speech again: it crosses its
/// threshold a second into the sentence (from the crossing, the region began inside the first
/// "And", and the word was lost; it now reaches back to where the probability began to rise),
/// and it hears "ask not" after the pause that follows as non-speech (a gap of 1.7 s, now kept
/// since it is under 2 s).
#[test]
fn speech_around_music_is_transcribed_whole_and_in_place() {
    speech_around(&common::room_tone::music(180), "jfk_music_jfk", true);
}

#[test]
fn room_tone_alone_gives_no_text_and_missing_model_is_an_error() {
    let tone = common::room_tone::room_tone(60);
    let t = transcriber();
    let transcript = t.transcribe_samples(&tone, &options(), "roomtone").unwrap();
    assert!(transcript.segments.is_empty(), "{}", transcript.text);
    assert_eq!(transcript.stats.speech_s, Some(0.0));
    assert!((transcript.duration_s - 60.0).abs() < 1e-9);

    let dir = ModelDir::open(&common::models::store_model("base")).unwrap();
    let without = Transcriber::load(&dir, "base", &Device::Cpu).unwrap();
    let err = without
        .transcribe_samples(&tone[..RATE], &options(), "x")
        .unwrap_err();
    assert!(err.to_string().contains("no VAD model"), "{err}");
}

#[test]
fn loops_over_music_the_detector_kept_are_dropped_and_counted() {
    let jfk = jfk();
    let mut audio = jfk.clone();
    audio.extend_from_slice(&common::room_tone::music(180));
    audio.extend_from_slice(&jfk);
    let mut opts = options();
    opts.word_timestamps = false;
    if let Some(vad) = opts.vad.as_mut() {
        vad.min_silence_duration_ms = 600_000;
    }
    let transcript = transcriber()
        .transcribe_samples(&audio, &opts, "jfk_music_jfk")
        .unwrap();
    let expected = jfk_words();
    let twice = [expected.clone(), expected.clone()].concat();
    assert!(
        transcript.stats.dropped_repeats >= 1,
        "no loop dropped: {}",
        transcript.text
    );
    assert_eq!(words(&transcript.text), twice, "{}", transcript.text);
    let json = serde_json::to_value(&transcript.stats).unwrap();
    assert_eq!(
        json["dropped_repeats"].as_u64(),
        Some(transcript.stats.dropped_repeats as u64)
    );
}

/// A file with no long pause loses nothing to the detector: the French test sentence (speech
/// from a fraction of a second in, which faster-whisper's regions trim) keeps its lead-in, so
/// its transcript, segments and words are those of the run without the VAD.
#[test]
fn a_file_without_long_pauses_decodes_as_without_the_vad() {
    let t = transcriber();
    let audio = whisper_spec::audio::load_audio(
        common::shared_dir().join("corpus/multilingual/picovoice_test_fr.wav"),
    )
    .unwrap()
    .samples;
    let regions = whisper_spec::vad::speech_regions(
        &SileroVad::load(common::models::vad_model())
            .unwrap()
            .speech_probs(&audio)
            .unwrap(),
        audio.len(),
        &options().vad.unwrap(),
    );
    assert!(
        regions[0].start > 0,
        "the detector's own regions trim the lead-in: {regions:?}"
    );
    let opts = TranscribeOptions {
        language: Some("fr".into()),
        ..options()
    };
    let with = t.transcribe_samples(&audio, &opts, "fr").unwrap();
    let without = t
        .transcribe_samples(&audio, &TranscribeOptions { vad: None, ..opts }, "fr")
        .unwrap();
    assert_eq!(with.stats.speech_s, Some(with.duration_s));
    assert!(!with.text.trim().is_empty());
    assert_eq!(with.text, without.text);
    assert_eq!(with.segments, without.segments);
}
