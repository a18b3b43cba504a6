//! Whisper's tokenizer: GPT-2 byte-level BPE for text, plus the special tokens that steer the
//! decoder (start of transcript, language, task, timestamps).
//!
//! Every special token is looked up by name in the model's `tokenizer.json`, never by a
//! hard-coded id: English-only, multilingual and large-v3 vocabularies put the same names at
//! different ids. Timestamp tokens are not in `tokenizer.json` at all; as in openai/whisper they
//! are the ids from `<|notimestamps|>` + 1 up to the model's vocabulary size, `<|0.00|>` to
//! `<|30.00|>` in 0.02 s steps.
//!
//! Text is encoded and decoded by a BPE-only copy of the tokenizer (added tokens removed), so
//! text that happens to spell a special token ("<|endoftext|>") stays text, and decoding a
//! sequence never depends on the tokenizers crate's handling of added tokens.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tokenizers::Tokenizer;

use super::languages;
use crate::store::layout::TOKENIZER;
use crate::store::{ModelDir, ModelError};

/// The smallest multilingual vocabulary (openai/whisper: `is_multilingual = n_vocab >= 51865`).
pub const MULTILINGUAL_MIN_VOCAB: usize = 51865;

/// Seconds per timestamp step: 30 s over the encoder's 1500 positions.
pub const TIMESTAMP_STEP_SECONDS: f32 = 0.02;

/// Timestamp tokens every Whisper vocabulary has: `<|0.00|>` to `<|30.00|>`.
pub const TIMESTAMP_COUNT: usize = 1501;

/// What the decoder is asked to produce (openai: `task`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Task {
    /// Speech to text in the spoken language.
    #[default]
    Transcribe,
    /// Speech to English text (multilingual models only).
    Translate,
}

/// Mistakes in what was asked of a tokenizer (as opposed to a broken `tokenizer.json`, which is a
/// [`ModelError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// A language that this model's vocabulary has no token for.
    #[error("unknown language '{given}'; valid codes: {valid}")]
    UnknownLanguage {
        /// What was asked for.
        given: String,
        /// The codes this model knows, comma-separated.
        valid: String,
    },
    /// A multilingual model needs a language in its prompt (detect one first).
    #[error("a multilingual model needs a language (give one, or detect it first)")]
    LanguageRequired,
    /// An English-only model was asked for another language.
    #[error("this model is English-only; it cannot transcribe '{given}'")]
    EnglishOnly {
        /// The language asked for.
        given: String,
    },
    /// An English-only model was asked to translate.
    #[error("this model is English-only; it cannot translate (use a multilingual model)")]
    TranslateEnglishOnly,
}

/// Ids of the special tokens of one vocabulary. Plain data (`Copy`) so that logit filters and
/// decoders can hold their own copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialTokens {
    /// `<|endoftext|>`: ends a transcript; every id from here up is special or a timestamp.
    pub eot: u32,
    /// `<|startoftranscript|>`: first token of every prompt.
    pub sot: u32,
    /// `<|transcribe|>`.
    pub transcribe: u32,
    /// `<|translate|>`.
    pub translate: u32,
    /// `<|startoflm|>`, when the vocabulary has it.
    pub sot_lm: Option<u32>,
    /// `<|startofprev|>`: opens the previous-text part of a prompt.
    pub prev: u32,
    /// `<|nospeech|>` (`<|nocaptions|>` in older vocabularies), when present: its probability
    /// at the start of transcript is the no-speech probability.
    pub no_speech: Option<u32>,
    /// `<|notimestamps|>`: asks for text without timestamps.
    pub no_timestamps: u32,
    /// `<|0.00|>`, the first timestamp token (`no_timestamps + 1`).
    pub timestamp_begin: u32,
    /// The model's vocabulary size (config.json `vocab_size`): logits rows have this length
    /// and the last id is `<|30.00|>`.
    pub vocab_size: usize,
}

impl SpecialTokens {
    /// Whether `id` is a timestamp token.
    pub fn is_timestamp(&self, id: u32) -> bool {
        id >= self.timestamp_begin && (id as usize) < self.vocab_size
    }

    /// The time of a timestamp token in seconds (`<|1.08|>` -> 1.08). Meaningless for other
    /// ids (text and specials give 0.0).
    pub fn timestamp_seconds(&self, id: u32) -> f32 {
        debug_assert!(self.is_timestamp(id), "{id} is not a timestamp token");
        id.saturating_sub(self.timestamp_begin) as f32 * TIMESTAMP_STEP_SECONDS
    }

    /// The timestamp token for step `index` (0 = `<|0.00|>`, 50 = `<|1.00|>`), or `None` past
    /// the end of the vocabulary.
    pub fn timestamp_token(&self, index: usize) -> Option<u32> {
        let id = self.timestamp_begin as usize + index;
        (id < self.vocab_size).then_some(id as u32)
    }

    /// Whether the vocabulary has language and task tokens in its prompts.
    pub fn is_multilingual(&self) -> bool {
        self.vocab_size >= MULTILINGUAL_MIN_VOCAB
    }
}

/// A Whisper tokenizer: text <-> ids, special tokens, languages and timestamps.
#[derive(Debug, Clone)]
pub struct WhisperTokenizer {
    /// BPE + byte-level pre-tokenizer and decoder, without added tokens.
    text: Tokenizer,
    specials: SpecialTokens,
    /// (code, id) of every language token, by id; empty for English-only models.
    languages: Vec<(String, u32)>,
    /// Names of the special tokens by id (`tokenizer.json` added tokens), for rendering.
    special_names: HashMap<u32, String>,
    /// Where the tokenizer came from, for error messages.
    path: PathBuf,
}

impl WhisperTokenizer {
    /// Loads the tokenizer of a Hugging Face layout model dir, with its config's vocabulary size.
    pub fn from_model(model: &ModelDir) -> Result<Self, ModelError> {
        let path = model.dir.join(TOKENIZER);
        if !path.is_file() {
            return Err(ModelError::MissingFile {
                dir: model.dir.clone(),
                file: TOKENIZER.to_string(),
                why: "the vocabulary and special tokens",
            });
        }
        Self::from_file(&path, model.config.vocab_size)
    }

    /// Loads a `tokenizer.json` for a model whose vocabulary has `vocab_size` ids (config.json
    /// `vocab_size`; it decides English-only vs multilingual and where timestamps end).
    pub fn from_file(path: &Path, vocab_size: usize) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ModelError::MissingFile {
                    dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                    file: file_name(path),
                    why: "the vocabulary and special tokens",
                }
            } else {
                ModelError::io(path, e)
            }
        })?;
        Self::from_json(&bytes, vocab_size, path)
    }

    /// Parses `tokenizer.json` content; `path` only names the source in errors.
    pub fn from_json(bytes: &[u8], vocab_size: usize, path: &Path) -> Result<Self, ModelError> {
        let invalid = |reason: String| ModelError::invalid(path, reason);
        let mut json: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
        let added = take_added_tokens(&mut json).map_err(invalid)?;
        // The BPE-only copy: no added tokens, no template that would add <|startoftranscript|>.
        if let Some(obj) = json.as_object_mut() {
            obj.insert("post_processor".into(), serde_json::Value::Null);
        }
        let text: Tokenizer = serde_json::from_value(json)
            .map_err(|e| invalid(format!("not a tokenizers tokenizer: {e}")))?;

        let by_name: HashMap<&str, u32> = added.iter().map(|(id, s)| (s.as_str(), *id)).collect();
        let need = |name: &str| {
            by_name
                .get(name)
                .copied()
                .ok_or_else(|| invalid(format!("lacks the special token {name}")))
        };
        let eot = need("<|endoftext|>")?;
        let sot = need("<|startoftranscript|>")?;
        let translate = need("<|translate|>")?;
        let transcribe = need("<|transcribe|>")?;
        let prev = need("<|startofprev|>")?;
        let no_timestamps = need("<|notimestamps|>")?;
        let sot_lm = by_name.get("<|startoflm|>").copied();
        let no_speech = by_name
            .get("<|nospeech|>")
            .or_else(|| by_name.get("<|nocaptions|>"))
            .copied();
        let timestamp_begin = no_timestamps + 1;

        // The filters and decode rely on Whisper's layout: text below <|endoftext|>, specials
        // after it, <|notimestamps|> last, then the timestamps.
        let ordered = [sot, translate, transcribe, prev]
            .into_iter()
            .chain(sot_lm)
            .chain(no_speech)
            .all(|id| id > eot && id < no_timestamps);
        if !ordered {
            return Err(invalid(
                "special tokens are not laid out as Whisper's (<|endoftext|> first, \
                 <|notimestamps|> last)"
                    .into(),
            ));
        }

        if (timestamp_begin as usize) >= vocab_size {
            return Err(invalid(format!(
                "<|notimestamps|> is id {no_timestamps} but the model's vocabulary has only \
                 {vocab_size} ids: no room for timestamp tokens (tokenizer and model do not match)"
            )));
        }
        if vocab_size - timestamp_begin as usize != TIMESTAMP_COUNT {
            tracing::warn!(
                path = %path.display(),
                "{} timestamp tokens between <|notimestamps|> and the vocabulary size {vocab_size} \
                 (Whisper has {TIMESTAMP_COUNT})",
                vocab_size - timestamp_begin as usize
            );
        }
        if text.get_vocab_size(false) < eot as usize {
            return Err(invalid(format!(
                "the BPE vocabulary has {} entries but <|endoftext|> is id {eot}",
                text.get_vocab_size(false)
            )));
        }

        let specials = SpecialTokens {
            eot,
            sot,
            transcribe,
            translate,
            sot_lm,
            prev,
            no_speech,
            no_timestamps,
            timestamp_begin,
            vocab_size,
        };
        let languages = if specials.is_multilingual() {
            let found: Vec<(String, u32)> = added
                .iter()
                .filter(|(id, _)| *id > sot && *id < translate)
                .filter_map(|(id, name)| language_code_of(name).map(|c| (c.to_string(), *id)))
                .collect();
            if found.is_empty() {
                return Err(invalid(format!(
                    "a multilingual model (vocabulary {vocab_size}) but no language tokens \
                     between <|startoftranscript|> and <|translate|>"
                )));
            }
            found
        } else {
            Vec::new()
        };
        let special_names = added.into_iter().filter(|(id, _)| *id >= eot).collect();
        Ok(WhisperTokenizer {
            text,
            specials,
            languages,
            special_names,
            path: path.to_path_buf(),
        })
    }

    /// The special token ids.
    pub fn specials(&self) -> &SpecialTokens {
        &self.specials
    }

    /// The model's vocabulary size (length of a logits row).
    pub fn vocab_size(&self) -> usize {
        self.specials.vocab_size
    }

    /// Whether prompts carry language and task tokens (vocabulary >= 51865).
    pub fn is_multilingual(&self) -> bool {
        self.specials.is_multilingual()
    }

    /// The `tokenizer.json` this was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// (code, token id) of every language, in token-id order (openai's order). Empty for
    /// English-only models: their `tokenizer.json` lists language tokens too, but the model was
    /// never trained to use them.
    pub fn languages(&self) -> &[(String, u32)] {
        &self.languages
    }

    /// The token of a language code (`"fr"` -> `<|fr|>`), on multilingual models.
    pub fn language_token(&self, code: &str) -> Option<u32> {
        self.languages
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, id)| *id)
    }

    /// The language code of a language token.
    pub fn language_code(&self, token: u32) -> Option<&str> {
        self.languages
            .iter()
            .find(|(_, id)| *id == token)
            .map(|(c, _)| c.as_str())
    }

    /// The first tokens of every prompt, as openai/whisper's `sot_sequence`: `[sot]` for an
    /// English-only model, `[sot, language, task]` for a multilingual one. `language` is a code
    /// ("fr") or an English name ("French"); a multilingual model requires it, an English-only
    /// one accepts only English (or none).
    pub fn sot_sequence(&self, language: Option<&str>, task: Task) -> Result<Vec<u32>, TextError> {
        let sot = self.specials.sot;
        if !self.is_multilingual() {
            if task == Task::Translate {
                return Err(TextError::TranslateEnglishOnly);
            }
            if let Some(given) = language
                && languages::resolve_language(given) != Some("en")
            {
                return Err(TextError::EnglishOnly {
                    given: given.to_string(),
                });
            }
            return Ok(vec![sot]);
        }
        let given = language.ok_or(TextError::LanguageRequired)?;
        let lang = self.resolve_language_token(given)?;
        let task = match task {
            Task::Transcribe => self.specials.transcribe,
            Task::Translate => self.specials.translate,
        };
        Ok(vec![sot, lang, task])
    }

    /// A language code or name to this model's language token; the error lists the valid codes.
    fn resolve_language_token(&self, given: &str) -> Result<u32, TextError> {
        let lower = given.trim().to_lowercase();
        self.language_token(&lower)
            .or_else(|| languages::resolve_language(&lower).and_then(|c| self.language_token(c)))
            .ok_or_else(|| TextError::UnknownLanguage {
                given: given.to_string(),
                valid: self
                    .languages
                    .iter()
                    .map(|(c, _)| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Text to token ids, without any special token. Text that spells a special token is
    /// encoded as ordinary text.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        // Byte-level BPE covers every byte, so encoding cannot fail.
        self.text
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .unwrap_or_else(|e| panic!("byte-level BPE failed to encode {text:?}: {e}"))
    }

    /// Token ids to text, dropping every special and timestamp token (ids >= eot), as
    /// openai/whisper's transcribe does before showing text.
    pub fn decode(&self, ids: &[u32]) -> String {
        let eot = self.specials.eot;
        let text: Vec<u32> = ids.iter().copied().filter(|&t| t < eot).collect();
        self.decode_text(&text)
    }

    /// Token ids to text with timestamps rendered as `<|1.08|>` and other special tokens by
    /// their names (`<|endoftext|>`), as openai/whisper's `decode_with_timestamps`.
    pub fn decode_with_timestamps(&self, ids: &[u32]) -> String {
        let mut out = String::new();
        let mut run: Vec<u32> = Vec::new();
        for &id in ids {
            if id < self.specials.eot {
                run.push(id);
                continue;
            }
            out.push_str(&self.decode_text(&run));
            run.clear();
            out.push_str(&self.token_name(id));
        }
        out.push_str(&self.decode_text(&run));
        out
    }

    /// The text form of a token at or above eot: `<|1.08|>` for a timestamp (formatted from
    /// integer centiseconds, so it matches openai's `f"{i * 0.02:.2f}"` exactly), the
    /// `tokenizer.json` name of a special token, `<|special:ID|>` for an id it does not name.
    fn token_name(&self, id: u32) -> String {
        if self.specials.is_timestamp(id) {
            let centis = (id - self.specials.timestamp_begin) * 2;
            format!("<|{}.{:02}|>", centis / 100, centis % 100)
        } else if let Some(name) = self.special_names.get(&id) {
            name.clone()
        } else {
            format!("<|special:{id}|>")
        }
    }

    /// Decodes ids that are all text tokens (< eot).
    fn decode_text(&self, ids: &[u32]) -> String {
        if ids.is_empty() {
            return String::new();
        }
        // The byte-level decoder maps every known id to bytes and replaces invalid UTF-8.
        self.text
            .decode(ids, false)
            .unwrap_or_else(|e| panic!("byte-level BPE failed to decode {ids:?}: {e}"))
    }

    /// Whether `id` is a timestamp token.
    pub fn is_timestamp(&self, id: u32) -> bool {
        self.specials.is_timestamp(id)
    }

    /// Seconds of a timestamp token (`<|1.08|>` -> 1.08).
    pub fn timestamp_seconds(&self, id: u32) -> f32 {
        self.specials.timestamp_seconds(id)
    }

    /// openai/whisper's `non_speech_tokens`: tokens of symbols that only appear in non-speech
    /// annotations (`♪♪♪`, `( SPEAKING FOREIGN LANGUAGE )`, `[DAVID]`), suppressed so that the
    /// model writes what is said. Basic punctuation stays; " -" and " '" are suppressed only at
    /// the start of a word (their spaced forms), so hyphens and apostrophes inside words survive.
    /// Sorted, without duplicates.
    pub fn non_speech_tokens(&self) -> Vec<u32> {
        let mut symbols: Vec<String> = "\"#()*+/:;<=>@[\\]^_`{|}~「」『』"
            .chars()
            .map(String::from)
            .collect();
        symbols.extend(
            "<< >> <<< >>> -- --- -( -[ (' (\" (( )) ((( ))) [[ ]] {{ }} ♪♪ ♪♪♪"
                .split(' ')
                .map(String::from),
        );
        // Miscellaneous symbols U+2640..U+267F: when one is several tokens, its first token
        // (two of its three UTF-8 bytes, shared by the whole block) is safe to suppress.
        let miscellaneous = ["♩", "♪", "♫", "♬", "♭", "♮", "♯"];

        let mut out = Vec::new();
        out.extend(self.encode(" -").first().copied());
        out.extend(self.encode(" '").first().copied());
        let all = symbols
            .iter()
            .map(|s| (s.as_str(), false))
            .chain(miscellaneous.iter().map(|s| (*s, true)));
        for (symbol, misc) in all {
            for tokens in [self.encode(symbol), self.encode(&format!(" {symbol}"))] {
                if tokens.len() == 1 || (misc && !tokens.is_empty()) {
                    out.push(tokens[0]);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The file name of `path` for messages (`tokenizer.json` when it has none).
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| TOKENIZER.to_string())
}

/// Removes `added_tokens` from a tokenizer.json value and returns them as (id, content), sorted
/// by id. The ids in the file are authoritative (the tokenizers crate would renumber them).
fn take_added_tokens(json: &mut serde_json::Value) -> Result<Vec<(u32, String)>, String> {
    let obj = json
        .as_object_mut()
        .ok_or("not a JSON object (expected a tokenizers tokenizer.json)")?;
    let list = match obj.insert("added_tokens".into(), serde_json::Value::Array(Vec::new())) {
        Some(serde_json::Value::Array(list)) => list,
        Some(_) => return Err("\"added_tokens\" is not a list".into()),
        None => return Err("no \"added_tokens\": not a Whisper tokenizer".into()),
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let id = entry.get("id").and_then(serde_json::Value::as_u64);
        let content = entry.get("content").and_then(serde_json::Value::as_str);
        match (id.and_then(|id| u32::try_from(id).ok()), content) {
            (Some(id), Some(content)) => out.push((id, content.to_string())),
            _ => {
                return Err(format!(
                    "added_tokens[{i}] lacks an integer id or a content"
                ));
            }
        }
    }
    out.sort_by_key(|(id, _)| *id);
    Ok(out)
}

/// The code of a language token's name (`<|fr|>` -> `fr`): two or three lowercase ASCII
/// letters between `<|` and `|>`.
fn language_code_of(name: &str) -> Option<&str> {
    let code = name.strip_prefix("<|")?.strip_suffix("|>")?;
    let ok = (2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase());
    ok.then_some(code)
}
