//! openai/whisper's logit filters: every rule of SuppressBlank, SuppressTokens and
//! ApplyTimestampRules on hand-built rows of a small synthetic vocabulary, the row helpers, and
//! a walk over transformers' golden token sequences checking that the filters never forbid a
//! token transformers produced.

mod common;

use whisper_spec::decoding::{
    FilterOptions, LogitFilters, TimestampRules, argmax, language_probs, log_softmax, logsumexp,
    no_speech_prob, softmax,
};
use whisper_spec::store::ModelDir;
use whisper_spec::text::{SpecialTokens, Task, WhisperTokenizer};

const NEG: f32 = f32::NEG_INFINITY;

/// A small vocabulary laid out like Whisper's: text 0..10, specials 10..18, 60 timestamps.
fn specials() -> SpecialTokens {
    SpecialTokens {
        eot: 10,
        sot: 11,
        translate: 12,
        transcribe: 13,
        sot_lm: Some(14),
        prev: 15,
        no_speech: Some(16),
        no_timestamps: 17,
        timestamp_begin: 18,
        vocab_size: 78,
    }
}

const BLANK: u32 = 3;
const TB: u32 = 18;
const EOT: u32 = 10;

fn ts(i: u32) -> u32 {
    TB + i
}

/// Filters with prompt `[sot]`, blank token 3, suppress list [1], timestamp rules on.
fn filters(timestamps: Option<TimestampRules>) -> LogitFilters {
    let options = FilterOptions {
        sample_begin: 1,
        suppress_tokens: Some(vec![1]),
        suppress_blank: true,
        timestamps,
    };
    LogitFilters::with_specials(specials(), &[BLANK], &options)
}

fn with_ts() -> LogitFilters {
    filters(Some(TimestampRules::default()))
}

/// The ids left allowed after applying `f` to a row of `row` values after `tokens`.
fn allowed_with(f: &LogitFilters, tokens: &[u32], mut row: Vec<f32>) -> Vec<u32> {
    f.apply(tokens, &mut row);
    (0..row.len() as u32)
        .filter(|&i| row[i as usize].is_finite())
        .collect()
}

/// Row where text tokens are likelier than all timestamps together, so the timestamp-mass rule
/// stays quiet and the structural rules show.
fn text_favoured() -> Vec<f32> {
    let mut row = vec![0.0; 78];
    row[..TB as usize].fill(10.0);
    row
}

fn allowed(f: &LogitFilters, tokens: &[u32]) -> Vec<u32> {
    allowed_with(f, tokens, text_favoured())
}

fn range(a: u32, b: u32) -> Vec<u32> {
    (a..b).collect()
}

const ALWAYS_SUPPRESSED: [u32; 7] = [1, 11, 12, 13, 14, 15, 16];

#[test]
fn suppress_blank_only_at_sample_begin() {
    let f = filters(None);
    let first = allowed(&f, &[11]);
    assert!(!first.contains(&BLANK) && !first.contains(&EOT));
    let later = allowed(&f, &[11, 5]);
    assert!(later.contains(&BLANK) && later.contains(&EOT));

    let no_blank = LogitFilters::with_specials(
        specials(),
        &[BLANK],
        &FilterOptions {
            suppress_blank: false,
            ..FilterOptions::new(1, &[1], false)
        },
    );
    let first = allowed(&no_blank, &[11]);
    assert!(first.contains(&BLANK) && first.contains(&EOT));
}

#[test]
fn suppress_list_plus_openai_specials_everywhere() {
    let f = filters(None);
    for tokens in [&[11][..], &[11, 5], &[11, 5, 6, 7]] {
        let a = allowed(&f, tokens);
        for t in ALWAYS_SUPPRESSED {
            assert!(!a.contains(&t), "{t} allowed after {tokens:?}");
        }
        // Without timestamp rules, <|notimestamps|> and timestamps are not touched.
        assert!(a.contains(&17) && a.contains(&ts(0)) && a.contains(&ts(59)));
    }
    assert_eq!(f.suppressed(), &ALWAYS_SUPPRESSED);

    // No suppress list at all (openai's empty option): specials are not suppressed either.
    let none = LogitFilters::with_specials(
        specials(),
        &[BLANK],
        &FilterOptions {
            suppress_tokens: None,
            ..FilterOptions::new(1, &[], false)
        },
    );
    assert_eq!(allowed(&none, &[11, 5]), range(0, 78));

    // Ids past the vocabulary are ignored, not a panic.
    let big = LogitFilters::with_specials(
        specials(),
        &[BLANK],
        &FilterOptions::new(1, &[2, 500], false),
    );
    assert!(!big.suppressed().contains(&500));
}

#[test]
fn no_timestamps_token_is_forbidden_with_timestamps() {
    let f = with_ts();
    for tokens in [&[11][..], &[11, ts(0), 5], &[11, ts(0), 5, ts(3)]] {
        assert!(!allowed(&f, tokens).contains(&17), "after {tokens:?}");
    }
}

#[test]
fn first_token_is_an_early_timestamp() {
    let f = with_ts();
    // Only timestamps, and none after <|1.00|> (index 50).
    assert_eq!(allowed(&f, &[11]), range(ts(0), ts(51)));
    let unlimited = filters(Some(TimestampRules {
        max_initial_timestamp_index: None,
    }));
    assert_eq!(allowed(&unlimited, &[11]), range(ts(0), 78));
    let limit3 = filters(Some(TimestampRules {
        max_initial_timestamp_index: Some(3),
    }));
    assert_eq!(allowed(&limit3, &[11]), range(ts(0), ts(4)));
}

#[test]
fn lone_first_timestamp_is_followed_by_text() {
    // openai: fewer than two sampled tokens count as "penultimate was a timestamp".
    let f = with_ts();
    let a = allowed(&f, &[11, ts(0)]);
    assert!(a.iter().all(|&t| t < TB), "{a:?}");
    assert!(a.contains(&5) && a.contains(&EOT));
}

#[test]
fn after_text_timestamps_strictly_increase() {
    let f = with_ts();
    let a = allowed(&f, &[11, ts(4), 5]);
    assert!(a.contains(&5) && a.contains(&EOT));
    assert!(!a.contains(&ts(4)) && !a.contains(&ts(0)));
    assert!(a.contains(&ts(5)) && a.contains(&ts(59)));
}

#[test]
fn closing_timestamp_forbids_text_and_allows_same_time() {
    // [.. text, ts5]: the segment is closed: the next is the opening timestamp of the next
    // segment (which may equal ts5) or eot; no text.
    let f = with_ts();
    let a = allowed(&f, &[11, ts(0), 5, ts(5)]);
    assert!(a.iter().all(|&t| t >= EOT), "{a:?}");
    assert!(a.contains(&EOT));
    assert!(!a.contains(&ts(4)));
    assert!(a.contains(&ts(5)) && a.contains(&ts(6)));
}

#[test]
fn timestamp_pair_is_followed_by_text() {
    let f = with_ts();
    let a = allowed(&f, &[11, ts(0), 5, ts(5), ts(5)]);
    assert!(a.iter().all(|&t| t < TB), "{a:?}");
    assert!(a.contains(&5) && a.contains(&EOT));
    // Then text, after which timestamps resume strictly after the last one.
    let a = allowed(&f, &[11, ts(0), 5, ts(5), ts(5), 6]);
    assert!(!a.contains(&ts(5)) && a.contains(&ts(6)));
}

#[test]
fn prompt_tokens_do_not_count() {
    // Previous text (with its timestamps) before sot is prompt, not sampled.
    let options = FilterOptions::new(4, &[1], true);
    let f = LogitFilters::with_specials(specials(), &[BLANK], &options);
    let prompt = [15, ts(30), 5, 11];
    assert_eq!(allowed(&f, &prompt), range(ts(0), ts(51)));
    let a = allowed(&f, &[15, ts(30), 5, 11, ts(2)]);
    assert!(a.iter().all(|&t| t < TB));
    let a = allowed(&f, &[15, ts(30), 5, 11, ts(2), 6]);
    assert!(a.contains(&ts(3)) && !a.contains(&ts(2)));
}

#[test]
fn timestamp_mass_rule() {
    let f = with_ts();
    let tokens = [11, ts(0), 5]; // timestamps ts(1)..=ts(59) allowed: 59 of them
    let lse = (59f32).ln(); // ~4.077
    // Timestamps win: every text token (eot too) is forbidden.
    let mut row = vec![0.0; 78];
    row[..TB as usize].fill(-5.0);
    row[7] = lse - 0.05;
    let a = allowed_with(&f, &tokens, row);
    assert_eq!(a, range(ts(1), 78));
    // Text wins: nothing more is forbidden.
    let mut row = vec![0.0; 78];
    row[..TB as usize].fill(-5.0);
    row[7] = lse + 0.05;
    let a = allowed_with(&f, &tokens, row);
    assert!(a.contains(&7) && a.contains(&EOT) && a.contains(&ts(1)));
    // Only tokens the earlier filters left count: a suppressed token's huge logit does not.
    let mut row = vec![0.0; 78];
    row[..TB as usize].fill(-5.0);
    row[1] = 100.0;
    row[11] = 100.0;
    let a = allowed_with(&f, &tokens, row);
    assert_eq!(a, range(ts(1), 78));
    // Neither side when everything is forbidden: no NaN, nothing more.
    let row = vec![NEG; 78];
    assert!(allowed_with(&f, &tokens, row).is_empty());
}

#[test]
fn apply_is_a_pure_function_of_its_inputs() {
    // The same prefix gives the same row, whatever was applied before (no hidden state).
    let f = with_ts();
    let seq = [11, ts(0), 5, 6, ts(7), ts(7), 8];
    let reference: Vec<Vec<u32>> = (1..=seq.len()).map(|n| allowed(&f, &seq[..n])).collect();
    for n in (1..=seq.len()).rev() {
        assert_eq!(allowed(&f, &seq[..n]), reference[n - 1]);
    }
}

#[test]
fn row_math() {
    let row = [1.0f32, 3.0, 3.0, NEG, 2.0];
    assert_eq!(argmax(&row), 1, "first maximum wins");
    assert_eq!(argmax(&[NEG, NEG]), 0);
    assert_eq!(argmax(&[f32::NAN, 1.0]), 1);

    let mut lp = [0.0; 5];
    log_softmax(&row, &mut lp);
    let total: f32 = lp.iter().map(|x| x.exp()).sum();
    assert!((total - 1.0).abs() < 1e-6);
    assert_eq!(lp[3], NEG);
    assert!((lp[1] - lp[0] - 2.0).abs() < 1e-6);

    let mut p = [0.0; 5];
    softmax(&row, &mut p);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert_eq!(p[3], 0.0);

    assert_eq!(logsumexp(&[NEG, NEG]), NEG);
    assert!((logsumexp(&[0.0, 0.0]) - 2f32.ln()).abs() < 1e-7);
    // Stable with large logits.
    assert!((logsumexp(&[1000.0, 1000.0]) - (1000.0 + 2f32.ln())).abs() < 1e-3);
    let mut lp = [0.0; 2];
    log_softmax(&[NEG, NEG], &mut lp);
    assert_eq!(lp, [NEG, NEG]);
}

fn real(name: &str) -> (ModelDir, WhisperTokenizer) {
    let model = ModelDir::open(&common::models::store_model(name)).unwrap();
    let tok = WhisperTokenizer::from_model(&model).unwrap();
    (model, tok)
}

#[test]
fn language_and_no_speech_probabilities() {
    let (_, base) = real("base");
    let s = *base.specials();
    let mut logits = vec![0.0f32; s.vocab_size];
    let fr = base.language_token("fr").unwrap();
    logits[fr as usize] = 5.0;
    logits[100] = 50.0; // a text token: masked out of language detection
    let probs = language_probs(&logits, &base);
    assert_eq!(probs.len(), 99);
    assert_eq!(probs[0].0, "en");
    let best = probs.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert_eq!(best.0, "fr");
    let expected = 5f32.exp() / (5f32.exp() + 98.0);
    assert!((best.1 - expected).abs() < 1e-5);
    assert!((probs.iter().map(|p| p.1).sum::<f32>() - 1.0).abs() < 1e-5);

    let p = no_speech_prob(&logits, &s).unwrap();
    let z = 50f32.exp() + 5f32.exp() + (s.vocab_size as f32 - 2.0);
    assert!((p / (1.0 / z) - 1.0).abs() < 1e-3);

    let (_, tiny) = real("tiny.en");
    let logits = vec![0.0f32; tiny.vocab_size()];
    assert_eq!(
        language_probs(&logits, &tiny),
        vec![("en".to_string(), 1.0)]
    );
}

#[test]
fn real_blank_and_specials() {
    let (model, tok) = real("tiny.en");
    let s = *tok.specials();
    let f = LogitFilters::new(
        &tok,
        &FilterOptions::new(1, &model.generation.suppress_tokens, false),
    );
    let mut row = vec![0.0; s.vocab_size];
    f.apply(&[s.sot], &mut row);
    assert_eq!(row[220], NEG, "the blank ' '");
    assert_eq!(row[s.eot as usize], NEG);
    for t in [s.sot, s.translate, s.transcribe, s.prev] {
        assert_eq!(row[t as usize], NEG);
    }
    assert!(row[s.no_timestamps as usize].is_finite());
    let mut row = vec![0.0; s.vocab_size];
    f.apply(&[s.sot, 1000], &mut row);
    assert!(row[220].is_finite() && row[s.eot as usize].is_finite());
}

/// Replays transformers' greedy output through our filters: at each position, with a row that
/// favours the golden token (every other logit 0), that token must stay allowed and be the
/// argmax; after the last token, eot must be allowed. A row of plain zeros would not do: with
/// timestamps allowed, their summed mass beats any single text token and the last rule of
/// ApplyTimestampRules would (rightly) forbid all text.
fn walk_golden(model_name: &str, file: &str, with_timestamps: bool) {
    let (model, tok) = real(model_name);
    let s = *tok.specials();
    let language = tok.is_multilingual().then_some("en");
    let mut prompt = tok.sot_sequence(language, Task::Transcribe).unwrap();
    if !with_timestamps {
        prompt.push(s.no_timestamps);
    }
    let filters = LogitFilters::new(
        &tok,
        &FilterOptions::new(
            prompt.len(),
            &model.generation.suppress_tokens,
            with_timestamps,
        ),
    );
    let path = common::shared_dir().join("golden/transformers").join(file);
    let text = std::fs::read_to_string(path).unwrap();
    let mut row = vec![0.0f32; s.vocab_size];
    let mut checked = 0;
    for (line_no, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let golden: Vec<u32> = v["token_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap() as u32)
            .collect();
        let mut tokens = prompt.clone();
        for &g in golden.iter().chain([&s.eot]) {
            row.fill(0.0);
            row[g as usize] = 20.0;
            filters.apply(&tokens, &mut row);
            assert!(
                row[g as usize].is_finite() && argmax(&row) == g as usize,
                "{file} line {}: token {g} at position {} forbidden after {:?}",
                line_no + 1,
                tokens.len() - prompt.len(),
                &tokens[prompt.len()..]
            );
            tokens.push(g);
            checked += 1;
        }
    }
    assert!(checked > 100, "{file}: only {checked} tokens");
}

#[test]
fn golden_tiny_en_timestamps_are_allowed() {
    walk_golden("tiny.en", "tiny.en.timestamps.jsonl", true);
}

#[test]
fn golden_tiny_en_notimestamps_are_allowed() {
    walk_golden("tiny.en", "tiny.en.notimestamps.jsonl", false);
}

#[test]
fn golden_base_timestamps_are_allowed() {
    walk_golden("base", "base.timestamps.jsonl", true);
}

#[test]
fn golden_base_notimestamps_are_allowed() {
    walk_golden("base", "base.notimestamps.jsonl", false);
}
