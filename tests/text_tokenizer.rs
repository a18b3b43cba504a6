//! The Whisper tokenizer on the real tiny.en and base vocabularies: special token ids found by
//! name, languages, prompts, encode/decode (checked against transformers' golden transcripts),
//! timestamps, openai's non-speech tokens, and clear errors for broken tokenizer files.

mod common;

use std::path::{Path, PathBuf};

use whisper_spec::store::{ModelDir, ModelError};
use whisper_spec::text::{LANGUAGES, Task, TextError, WhisperTokenizer};

fn model(name: &str) -> ModelDir {
    ModelDir::open(&common::models::store_model(name)).expect("open model dir")
}

fn tokenizer(name: &str) -> WhisperTokenizer {
    WhisperTokenizer::from_model(&model(name)).expect("load tokenizer")
}

/// (token_ids, text) of every line of a transformers golden file.
fn golden(file: &str) -> Vec<(Vec<u32>, String)> {
    let path = common::shared_dir().join("golden/transformers").join(file);
    let text = std::fs::read_to_string(&path).expect("read golden file");
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("golden JSON");
            let ids = v["token_ids"]
                .as_array()
                .expect("token_ids")
                .iter()
                .map(|t| t.as_u64().expect("id") as u32)
                .collect();
            (ids, v["text"].as_str().expect("text").to_string())
        })
        .collect()
}

#[test]
fn tiny_en_special_tokens() {
    let tok = tokenizer("tiny.en");
    let s = *tok.specials();
    assert_eq!(s.vocab_size, 51864);
    assert!(!tok.is_multilingual());
    assert_eq!(s.eot, 50256);
    assert_eq!(s.sot, 50257);
    assert_eq!(s.translate, 50357);
    assert_eq!(s.transcribe, 50358);
    assert_eq!(s.sot_lm, Some(50359));
    assert_eq!(s.prev, 50360);
    assert_eq!(s.no_speech, Some(50361));
    assert_eq!(s.no_timestamps, 50362);
    assert_eq!(s.timestamp_begin, 50363);
    // The no-speech token of the older vocabularies is called <|nocaptions|>.
    assert_eq!(tok.decode_with_timestamps(&[50361]), "<|nocaptions|>");
    // English-only: the tokenizer.json lists language tokens, the model does not use them.
    assert!(tok.languages().is_empty());
    assert_eq!(tok.language_token("en"), None);
}

#[test]
fn base_special_tokens_and_languages() {
    let tok = tokenizer("base");
    let s = *tok.specials();
    assert_eq!(s.vocab_size, 51865);
    assert!(tok.is_multilingual());
    assert_eq!(s.eot, 50257);
    assert_eq!(s.sot, 50258);
    assert_eq!(s.translate, 50358);
    assert_eq!(s.transcribe, 50359);
    assert_eq!(s.sot_lm, Some(50360));
    assert_eq!(s.prev, 50361);
    assert_eq!(s.no_speech, Some(50362));
    assert_eq!(s.no_timestamps, 50363);
    assert_eq!(s.timestamp_begin, 50364);
    assert_eq!(s.vocab_size - s.timestamp_begin as usize, 1501);

    let langs = tok.languages();
    assert_eq!(langs.len(), 99);
    assert_eq!(langs[0], ("en".to_string(), 50259));
    // openai's order: by token id, which is the order of its LANGUAGES table.
    let codes: Vec<&str> = langs.iter().map(|(c, _)| c.as_str()).collect();
    let table: Vec<&str> = LANGUAGES[..99].iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, table);
    assert!(langs.windows(2).all(|w| w[1].1 == w[0].1 + 1));
    assert_eq!(tok.language_token("en"), Some(50259));
    assert_eq!(tok.language_token("su"), Some(50357));
    assert_eq!(tok.language_token("yue"), None);
    assert_eq!(tok.language_code(50260), Some("zh"));
    assert_eq!(tok.language_code(50258), None);
    assert_eq!(whisper_spec::text::language_name("haw"), Some("hawaiian"));
}

#[test]
fn encode_decode_round_trip() {
    for name in ["tiny.en", "base"] {
        let tok = tokenizer(name);
        let text = " And so my fellow Americans";
        let ids = tok.encode(text);
        assert!(!ids.is_empty());
        assert!(
            ids.iter().all(|&t| t < tok.specials().eot),
            "{name}: {ids:?}"
        );
        assert_eq!(tok.decode(&ids), text, "{name}");
        // Text that spells a special token stays text.
        let ids = tok.encode("<|endoftext|>");
        assert!(ids.len() > 1 && ids.iter().all(|&t| t < tok.specials().eot));
        assert_eq!(tok.decode(&ids), "<|endoftext|>");
    }
    // GPT-2's ids for the English vocabulary.
    assert_eq!(tokenizer("tiny.en").encode(" Hello"), vec![18435]);
}

#[test]
fn decode_drops_specials_and_timestamps() {
    let tok = tokenizer("base");
    let s = *tok.specials();
    let text = tok.encode(" And so my fellow Americans");
    let mut ids = vec![s.sot, 50259, s.transcribe, s.timestamp_begin];
    ids.extend(&text);
    ids.extend([s.timestamp_begin + 54, s.eot]);
    assert_eq!(tok.decode(&ids), " And so my fellow Americans");
    assert_eq!(
        tok.decode_with_timestamps(&ids),
        "<|startoftranscript|><|en|><|transcribe|><|0.00|> And so my fellow Americans<|1.08|>\
         <|endoftext|>"
    );
}

#[test]
fn timestamps() {
    for name in ["tiny.en", "base"] {
        let tok = tokenizer(name);
        let s = *tok.specials();
        let last = s.vocab_size as u32 - 1;
        assert!(!tok.is_timestamp(s.no_timestamps));
        assert!(tok.is_timestamp(s.timestamp_begin));
        assert!(tok.is_timestamp(last));
        assert!(!tok.is_timestamp(last + 1));
        assert_eq!(tok.timestamp_seconds(s.timestamp_begin), 0.0);
        assert!((tok.timestamp_seconds(s.timestamp_begin + 54) - 1.08).abs() < 1e-6);
        assert!((tok.timestamp_seconds(last) - 30.0).abs() < 1e-4);
        assert_eq!(tok.decode_with_timestamps(&[last]), "<|30.00|>");
        assert_eq!(
            tok.decode_with_timestamps(&[s.timestamp_begin + 3]),
            "<|0.06|>"
        );
        assert_eq!(s.timestamp_token(50), Some(s.timestamp_begin + 50));
        assert_eq!(s.timestamp_token(1501), None);
    }
}

#[test]
fn sot_sequence_english_only() {
    let tok = tokenizer("tiny.en");
    let sot = tok.specials().sot;
    assert_eq!(tok.sot_sequence(None, Task::Transcribe), Ok(vec![sot]));
    assert_eq!(
        tok.sot_sequence(Some("en"), Task::Transcribe),
        Ok(vec![sot])
    );
    assert_eq!(
        tok.sot_sequence(Some("English"), Task::Transcribe),
        Ok(vec![sot])
    );
    assert_eq!(
        tok.sot_sequence(None, Task::Translate),
        Err(TextError::TranslateEnglishOnly)
    );
    assert!(matches!(
        tok.sot_sequence(Some("fr"), Task::Transcribe),
        Err(TextError::EnglishOnly { .. })
    ));
}

#[test]
fn sot_sequence_multilingual() {
    let tok = tokenizer("base");
    let s = *tok.specials();
    let fr = tok.language_token("fr").expect("fr");
    assert_eq!(
        tok.sot_sequence(Some("en"), Task::Transcribe),
        Ok(vec![50258, 50259, 50359])
    );
    assert_eq!(
        tok.sot_sequence(Some("French"), Task::Translate),
        Ok(vec![s.sot, fr, s.translate])
    );
    assert_eq!(
        tok.sot_sequence(Some("castilian"), Task::Transcribe),
        Ok(vec![s.sot, tok.language_token("es").unwrap(), s.transcribe])
    );
    assert_eq!(
        tok.sot_sequence(None, Task::Transcribe),
        Err(TextError::LanguageRequired)
    );
    let err = tok
        .sot_sequence(Some("xx"), Task::Transcribe)
        .expect_err("unknown language");
    let msg = err.to_string();
    assert!(matches!(err, TextError::UnknownLanguage { .. }));
    assert!(msg.contains("'xx'") && msg.contains("en, zh, de"), "{msg}");
    // base has 99 languages: Cantonese came with large-v3.
    assert!(tok.sot_sequence(Some("yue"), Task::Transcribe).is_err());
}

#[test]
fn decode_matches_transformers_golden_text() {
    let cases = [
        ("tiny.en", "tiny.en.notimestamps.jsonl"),
        ("tiny.en", "tiny.en.timestamps.jsonl"),
        ("base", "base.notimestamps.jsonl"),
        ("base", "base.timestamps.jsonl"),
        ("base", "base.multilingual.autolang.jsonl"),
    ];
    for (name, file) in cases {
        let tok = tokenizer(name);
        let lines = golden(file);
        assert!(!lines.is_empty(), "{file} is empty");
        for (i, (ids, text)) in lines.iter().enumerate() {
            assert_eq!(tok.decode(ids).trim(), text.trim(), "{file} line {}", i + 1);
        }
    }
}

#[test]
fn non_speech_tokens_match_generation_config() {
    for name in ["tiny.en", "base"] {
        let model = model(name);
        let tok = WhisperTokenizer::from_model(&model).unwrap();
        let s = *tok.specials();
        let non_speech = tok.non_speech_tokens();
        assert!(non_speech.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
        assert!(non_speech.iter().all(|&t| t < s.eot));
        // generation_config.json's suppress_tokens = openai's "-1" list: the non-speech tokens
        // plus the special tokens openai always suppresses (transcribe, translate, sot, prev,
        // sot_lm, no_speech).
        let mut expected: Vec<u32> = non_speech.clone();
        expected.extend([s.transcribe, s.translate, s.sot, s.prev]);
        expected.extend(s.sot_lm);
        expected.extend(s.no_speech);
        expected.sort_unstable();
        let mut listed = model.generation.suppress_tokens.clone();
        listed.sort_unstable();
        assert_eq!(expected, listed, "{name}");
        // " -" and " '" are suppressed, "-" and "'" are not.
        assert!(non_speech.contains(&tok.encode(" -")[0]));
        assert!(!non_speech.contains(&tok.encode("-")[0]));
        assert!(!non_speech.contains(&tok.encode("'")[0]));
    }
}

/// A copy of base's tokenizer.json turned into large-v3's layout: `<|yue|>` after `<|su|>`,
/// every later special shifted by one, `<|nocaptions|>` renamed `<|nospeech|>`.
fn large_v3_like(dir: &Path) -> PathBuf {
    let src = model("base").dir.join("tokenizer.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src).unwrap()).unwrap();
    let added = json["added_tokens"].as_array_mut().unwrap();
    let su = 50357;
    for entry in added.iter_mut() {
        let id = entry["id"].as_u64().unwrap();
        if id > su {
            entry["id"] = (id + 1).into();
        }
        if entry["content"] == "<|nocaptions|>" {
            entry["content"] = "<|nospeech|>".into();
        }
    }
    let mut yue = added.iter().find(|e| e["id"] == su).unwrap().clone();
    yue["id"] = (su + 1).into();
    yue["content"] = "<|yue|>".into();
    added.push(yue);
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
    path
}

#[test]
fn large_v3_layout_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = large_v3_like(dir.path());
    let tok = WhisperTokenizer::from_file(&path, 51866).expect("large-v3 layout");
    let s = *tok.specials();
    assert!(tok.is_multilingual());
    assert_eq!(tok.languages().len(), 100);
    assert_eq!(tok.languages()[99], ("yue".to_string(), 50358));
    assert_eq!(s.translate, 50359);
    assert_eq!(s.transcribe, 50360);
    assert_eq!(s.sot_lm, Some(50361));
    assert_eq!(s.prev, 50362);
    assert_eq!(s.no_speech, Some(50363));
    assert_eq!(s.no_timestamps, 50364);
    assert_eq!(s.timestamp_begin, 50365);
    assert_eq!(s.vocab_size - s.timestamp_begin as usize, 1501);
    assert_eq!(
        tok.sot_sequence(Some("cantonese"), Task::Transcribe),
        Ok(vec![50258, 50358, 50360])
    );
    assert_eq!(tok.decode_with_timestamps(&[51865]), "<|30.00|>");
}

#[test]
fn missing_tokenizer_is_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = WhisperTokenizer::from_file(&dir.path().join("tokenizer.json"), 51865)
        .expect_err("no file");
    assert!(
        matches!(&err, ModelError::MissingFile { file, .. } if file == "tokenizer.json"),
        "{err}"
    );
    assert!(err.to_string().contains("tokenizer.json"));
}

#[test]
fn corrupt_tokenizer_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, "{ this is not json").unwrap();
    let err = WhisperTokenizer::from_file(&path, 51865).expect_err("corrupt");
    assert!(matches!(err, ModelError::Invalid { .. }), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    std::fs::write(&path, r#"{"added_tokens": [], "model": 3}"#).unwrap();
    let err = WhisperTokenizer::from_file(&path, 51865).expect_err("not a tokenizer");
    assert!(matches!(err, ModelError::Invalid { .. }), "{err}");
}

#[test]
fn tokenizer_without_a_special_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = model("tiny.en").dir.join("tokenizer.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src).unwrap()).unwrap();
    json["added_tokens"]
        .as_array_mut()
        .unwrap()
        .retain(|e| e["content"] != "<|notimestamps|>");
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
    let err = WhisperTokenizer::from_file(&path, 51864).expect_err("no <|notimestamps|>");
    let msg = err.to_string();
    assert!(matches!(err, ModelError::Invalid { .. }));
    assert!(
        msg.contains("<|notimestamps|>") && msg.contains("tokenizer.json"),
        "{msg}"
    );
}

#[test]
fn tokenizer_and_vocab_size_must_agree() {
    let path = model("base").dir.join("tokenizer.json");
    // base's tokenizer with a vocabulary too small for its timestamps.
    let err = WhisperTokenizer::from_file(&path, 50300).expect_err("vocab too small");
    assert!(matches!(err, ModelError::Invalid { .. }), "{err}");
}
