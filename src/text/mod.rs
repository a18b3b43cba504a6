//! Text side of Whisper: the tokenizer (text <-> token ids, special tokens, languages,
//! timestamp tokens) and the table of languages Whisper knows.

pub mod languages;
pub mod tokenizer;
pub mod wer;

pub use languages::{LANGUAGES, language_name, resolve_language};
pub use tokenizer::{SpecialTokens, Task, TextError, WhisperTokenizer};
