//! Word error rate with a simple English normaliser (lower case, punctuation dropped, hyphens
//! as spaces, a few spellings unified), applied to reference and hypothesis alike. Used by the
//! tests against reference transcripts and by `caption` to compare live text with the offline
//! transcript of the same file.

/// Normalised words of `text`.
pub fn words(text: &str) -> Vec<String> {
    let lowered = text.to_lowercase().replace(['-', '—', '–'], " ");
    lowered
        .split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .collect::<String>()
                .trim_matches('\'')
                .to_string()
        })
        .filter(|w| !w.is_empty())
        .map(|w| match w.as_str() {
            "mr" => "mister".to_string(),
            "mrs" => "missus".to_string(),
            "dr" => "doctor".to_string(),
            _ => w,
        })
        .collect()
}

/// Word-level edit distance between two word lists.
pub fn edits(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    let mut cur = vec![0; hypothesis.len() + 1];
    for (i, r) in reference.iter().enumerate() {
        cur[0] = i + 1;
        for (j, h) in hypothesis.iter().enumerate() {
            let sub = prev[j] + usize::from(r != h);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[hypothesis.len()]
}

/// Corpus WER in percent over (reference, hypothesis) pairs: total edits / total reference words.
pub fn corpus_wer(pairs: &[(String, String)]) -> f64 {
    let (mut e, mut n) = (0, 0);
    for (r, h) in pairs {
        let (r, h) = (words(r), words(h));
        e += edits(&r, &h);
        n += r.len();
    }
    100.0 * e as f64 / n.max(1) as f64
}

/// WER in percent of one hypothesis against one reference.
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    corpus_wer(&[(reference.to_string(), hypothesis.to_string())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_punctuation_and_titles() {
        assert_eq!(
            words("Mr. Smith -- well, OK!"),
            ["mister", "smith", "well", "ok"]
        );
        assert_eq!(wer("Hello, world.", "hello world"), 0.0);
    }

    #[test]
    fn counts_substitutions_insertions_and_deletions() {
        let r = words("a b c d");
        assert_eq!(edits(&r, &words("a x c d")), 1);
        assert_eq!(edits(&r, &words("a b c d e")), 1);
        assert_eq!(edits(&r, &words("b c d")), 1);
        assert_eq!(wer("a b c d", "a x c"), 50.0);
    }
}
