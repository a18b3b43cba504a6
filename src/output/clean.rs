//! Making segment text safe for line-based formats. Whisper's text is usually one line with a
//! leading space, but nothing stops a segment from holding a newline, a tab or an arrow, and any
//! of those would break a format whose structure is lines (txt, tsv) or blank-line separated
//! blocks with a `-->` timing line (srt, vtt).

/// The text on one line: trimmed, every run of line breaks (with the blanks around it) joined
/// into a single space. A lone `\r` and Unicode's line and paragraph separators count as breaks
/// too, since some players honour them.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let lines = text.split(is_line_break).map(str::trim);
    for line in lines.filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(line);
    }
    out
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Text for a subtitle cue: [`one_line`], with every `-->` turned into `->` so no line of the
/// payload can be taken for a timing line. Repeated until none is left, because replacing once
/// turns `--->` back into `-->`.
pub fn cue_text(text: &str) -> String {
    let mut out = one_line(text);
    while out.contains("-->") {
        out = out.replace("-->", "->");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_lines() {
        assert_eq!(one_line("  Hello\r\n\n  world \n"), "Hello world");
        assert_eq!(one_line(" \n "), "");
        assert_eq!(one_line("a\rb\u{2028}c"), "a b c");
        assert_eq!(one_line(" a\tb "), "a\tb");
    }

    #[test]
    fn no_arrow_survives() {
        assert_eq!(cue_text("a --> b"), "a -> b");
        assert_eq!(cue_text("--->"), "->");
        assert_eq!(cue_text("----->>"), "->>");
    }
}
