//! The output writers, checked byte for byte on small hand-made transcripts, and read back by
//! small SRT and WebVTT parsers written here (independently of the writers) so a round trip
//! proves the files are well-formed, not just that they match what the writers happen to emit.

use std::io;
use std::path::{Path, PathBuf};

use whisper_spec::output::{
    self, Format, OutputError, SubtitleOptions, check_stdout, output_path, parse_formats,
    write_file, write_outputs, write_stream,
};
use whisper_spec::transcript::{Segment, Stats, Transcript, Word};

// ---------------------------------------------------------------------------------------------
// Building transcripts

fn seg(start: f64, end: f64, text: &str) -> Segment {
    Segment {
        start,
        end,
        text: text.to_string(),
        tokens: vec![50364, 2425, 11, 50464],
        avg_logprob: -0.25,
        no_speech_prob: 0.01,
        temperature: 0.0,
        compression_ratio: 1.2,
        words: Vec::new(),
    }
}

fn transcript(file: &str, segments: Vec<Segment>) -> Transcript {
    let text = segments
        .iter()
        .map(|s| s.text.trim())
        .collect::<Vec<_>>()
        .join(" ");
    Transcript {
        file: file.to_string(),
        model: "tiny.en".to_string(),
        language: "en".to_string(),
        language_probability: None,
        duration_s: segments.last().map_or(0.0, |s| s.end),
        text,
        segments,
        stats: Stats {
            wall_s: 1.5,
            rtf: 0.125,
            encoder_s: 0.5,
            decoder_s: 0.75,
            tokens: 42,
            draft: Some("self-q8".into()),
            target_calls: 12,
            draft_tokens: 40,
            accepted_tokens: 30,
            acceptance_rate: 0.75,
            vad_s: 0.01,
            speech_s: Some(10.0),
            dropped_repeats: 0,
            fallbacks: 1,
            out_of_budget_windows: 0,
            verify_difference: None,
            exactness_warning: None,
            kernels: "avx2".into(),
            rounds: Vec::new(),
        },
    }
}

/// Two short segments: the "small case" every format is checked against exactly.
fn small() -> Transcript {
    transcript(
        "talks/intro.mp3",
        vec![
            seg(0.0, 2.5, " Hello world."),
            seg(2.5, 4.02, " How are you?"),
        ],
    )
}

/// Times that need care: rounding carry into minutes and hours, hours > 0, negative start, end
/// before start.
fn tricky_times() -> Transcript {
    transcript(
        "long.wav",
        vec![
            seg(-0.3, 1.9995, " carry into seconds"),
            seg(59.9995, 3599.9995, " carry into minutes and hours"),
            seg(3723.004, 3722.0, " end before start"),
            seg(36_000.0, 36_001.25, " ten hours"),
        ],
    )
}

/// Text that would break line- and block-based formats if written as is.
fn hostile() -> Transcript {
    transcript(
        "hostile.wav",
        vec![
            seg(0.0, 1.0, " tab\there"),
            seg(1.0, 2.0, " two\n\nparagraphs\r\nand lines "),
            seg(2.0, 3.0, " 1 --> 2 and ---> and --->>"),
            seg(3.0, 4.0, " AT&T <b>bold</b> &lt;"),
            seg(4.0, 5.0, "   "),
            seg(5.0, 6.0, " 42\n00:00:01,000 --> 00:00:02,000\nfake cue"),
        ],
    )
}

fn unicode() -> Transcript {
    transcript(
        "日本語.flac",
        vec![
            seg(0.0, 1.0, " こんにちは、世界。"),
            seg(1.0, 2.0, " Grüße 👋🏽 — «ça va?»"),
        ],
    )
}

fn render(format: Format, transcript: &Transcript) -> String {
    let mut out = Vec::new();
    output::write(format, transcript, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Exact output

#[test]
fn txt_exact() {
    assert_eq!(
        render(Format::Txt, &small()),
        "Hello world.\nHow are you?\n"
    );
    assert_eq!(
        render(Format::Txt, &unicode()),
        "こんにちは、世界。\nGrüße 👋🏽 — «ça va?»\n"
    );
    assert_eq!(
        render(Format::Txt, &hostile()),
        "tab\there\n\
         two paragraphs and lines\n\
         1 --> 2 and ---> and --->>\n\
         AT&T <b>bold</b> &lt;\n\
         \n\
         42 00:00:01,000 --> 00:00:02,000 fake cue\n"
    );
}

#[test]
fn srt_exact() {
    assert_eq!(
        render(Format::Srt, &small()),
        "1\n00:00:00,000 --> 00:00:02,500\nHello world.\n\n\
         2\n00:00:02,500 --> 00:00:04,020\nHow are you?\n\n"
    );
    assert_eq!(
        render(Format::Srt, &tricky_times()),
        "1\n00:00:00,000 --> 00:00:02,000\ncarry into seconds\n\n\
         2\n00:01:00,000 --> 01:00:00,000\ncarry into minutes and hours\n\n\
         3\n01:02:03,004 --> 01:02:03,004\nend before start\n\n\
         4\n10:00:00,000 --> 10:00:01,250\nten hours\n\n"
    );
}

#[test]
fn vtt_exact() {
    assert_eq!(
        render(Format::Vtt, &small()),
        "WEBVTT\n\n\
         00:00:00.000 --> 00:00:02.500\nHello world.\n\n\
         00:00:02.500 --> 00:00:04.020\nHow are you?\n\n"
    );
    assert_eq!(
        render(Format::Vtt, &tricky_times()),
        "WEBVTT\n\n\
         00:00:00.000 --> 00:00:02.000\ncarry into seconds\n\n\
         00:01:00.000 --> 01:00:00.000\ncarry into minutes and hours\n\n\
         01:02:03.004 --> 01:02:03.004\nend before start\n\n\
         10:00:00.000 --> 10:00:01.250\nten hours\n\n"
    );
}

#[test]
fn tsv_exact() {
    assert_eq!(
        render(Format::Tsv, &small()),
        "start\tend\ttext\n0\t2500\tHello world.\n2500\t4020\tHow are you?\n"
    );
    assert_eq!(
        render(Format::Tsv, &tricky_times()),
        "start\tend\ttext\n\
         0\t2000\tcarry into seconds\n\
         60000\t3600000\tcarry into minutes and hours\n\
         3723004\t3723004\tend before start\n\
         36000000\t36001250\tten hours\n"
    );
    // Every row has exactly three fields, whatever the text holds.
    let tsv = render(Format::Tsv, &hostile());
    let rows: Vec<&str> = tsv.lines().collect();
    assert_eq!(rows.len(), 1 + hostile().segments.len(), "{tsv}");
    for row in &rows {
        assert_eq!(row.split('\t').count(), 3, "{row:?}");
    }
    assert_eq!(rows[1], "0\t1000\ttab here");
    assert_eq!(rows[2], "1000\t2000\ttwo paragraphs and lines");
}

#[test]
fn empty_transcript() {
    let empty = transcript("silence.wav", vec![]);
    assert_eq!(render(Format::Txt, &empty), "");
    assert_eq!(render(Format::Srt, &empty), "");
    assert_eq!(render(Format::Vtt, &empty), "WEBVTT\n\n");
    assert_eq!(render(Format::Tsv, &empty), "start\tend\ttext\n");
    let back: Transcript = serde_json::from_str(&render(Format::Json, &empty)).unwrap();
    assert_eq!(back, empty);
}

#[test]
fn subtitle_text_is_made_safe() {
    let srt = render(Format::Srt, &hostile());
    assert!(srt.contains("\n1 -> 2 and -> and ->>\n"), "{srt}");
    assert!(
        srt.contains("\n42 00:00:01,000 -> 00:00:02,000 fake cue\n"),
        "{srt}"
    );
    let vtt = render(Format::Vtt, &hostile());
    assert!(
        vtt.contains("\nAT&amp;T &lt;b>bold&lt;/b> &amp;lt;\n"),
        "{vtt}"
    );
    // Every timing line is a real cue's: one per segment.
    assert_eq!(srt.matches("-->").count(), hostile().segments.len());
    assert_eq!(vtt.matches("-->").count(), hostile().segments.len());
}

// ---------------------------------------------------------------------------------------------
// JSON

#[test]
fn json_has_stable_field_names() {
    let value: serde_json::Value = serde_json::from_str(&render(Format::Json, &small())).unwrap();
    let keys = |v: &serde_json::Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(&value),
        [
            "duration_s",
            "file",
            "language",
            "model",
            "segments",
            "stats",
            "text"
        ]
    );
    assert_eq!(
        keys(&value["segments"][0]),
        [
            "avg_logprob",
            "compression_ratio",
            "end",
            "no_speech_prob",
            "start",
            "temperature",
            "text",
            "tokens"
        ]
    );
    assert_eq!(
        keys(&value["stats"]),
        [
            "acceptance_rate",
            "accepted_tokens",
            "decoder_s",
            "draft",
            "draft_tokens",
            "dropped_repeats",
            "encoder_s",
            "fallbacks",
            "kernels",
            "out_of_budget_windows",
            "rtf",
            "speech_s",
            "target_calls",
            "tokens",
            "vad_s",
            "wall_s"
        ]
    );
    assert_eq!(value["segments"][1]["end"], 4.02);
    assert_eq!(value["segments"][0]["tokens"][1], 2425);
}

#[test]
fn json_round_trips() {
    for original in [small(), tricky_times(), hostile(), unicode()] {
        let pretty = render(Format::Json, &original);
        assert!(pretty.ends_with("}\n"));
        assert_eq!(
            serde_json::from_str::<Transcript>(&pretty).unwrap(),
            original
        );

        let mut line = Vec::new();
        output::write_json_line(&original, &mut line).unwrap();
        let line = String::from_utf8(line).unwrap();
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        assert!(line.ends_with('\n'));
        assert_eq!(serde_json::from_str::<Transcript>(&line).unwrap(), original);
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips through independent SRT and WebVTT parsers

/// One cue as a parser sees it.
#[derive(Debug, PartialEq)]
struct Cue {
    index: Option<u32>,
    start_ms: u64,
    end_ms: u64,
    text: String,
}

/// `[HH:]MM:SS<marker>mmm` to milliseconds; panics on anything else.
fn parse_time(s: &str, marker: char) -> u64 {
    let (clock, millis) = s
        .split_once(marker)
        .unwrap_or_else(|| panic!("no {marker}: {s}"));
    assert_eq!(millis.len(), 3, "milliseconds need 3 digits: {s}");
    let parts: Vec<u64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
    let (h, m, sec) = match parts[..] {
        [h, m, sec] => (h, m, sec),
        [m, sec] => (0, m, sec),
        _ => panic!("bad timestamp {s}"),
    };
    assert!(m < 60 && sec < 60, "minutes/seconds out of range: {s}");
    ((h * 60 + m) * 60 + sec) * 1000 + millis.parse::<u64>().unwrap()
}

fn parse_timing(line: &str, marker: char) -> (u64, u64) {
    let (start, end) = line
        .split_once(" --> ")
        .unwrap_or_else(|| panic!("not a timing line: {line:?}"));
    (parse_time(start, marker), parse_time(end, marker))
}

/// Reads cue payload lines up to a blank line or the end. A payload line with `-->` would be
/// read as a timing line by real players, so it is an error here.
fn read_payload<'a>(lines: &mut impl Iterator<Item = &'a str>) -> String {
    let mut text = Vec::new();
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        assert!(!line.contains("-->"), "arrow in cue text: {line:?}");
        text.push(line);
    }
    text.join("\n")
}

/// A strict SubRip parser: index line, timing line, text lines, blank line.
fn parse_srt(srt: &str) -> Vec<Cue> {
    let mut cues = Vec::new();
    let mut lines = srt.split('\n');
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let index = line
            .parse()
            .unwrap_or_else(|_| panic!("expected a cue number: {line:?}"));
        let (start_ms, end_ms) = parse_timing(lines.next().expect("timing line"), ',');
        let text = read_payload(&mut lines);
        cues.push(Cue {
            index: Some(index),
            start_ms,
            end_ms,
            text,
        });
    }
    cues
}

/// A strict WebVTT parser: the header, then cues with an optional identifier, a timing line
/// and payload lines; character references unescaped.
fn parse_vtt(vtt: &str) -> Vec<Cue> {
    let mut lines = vtt.split('\n');
    assert_eq!(lines.next(), Some("WEBVTT"));
    assert_eq!(lines.next(), Some(""), "blank line after the header");
    let mut cues = Vec::new();
    while let Some(mut line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        if !line.contains("-->") {
            line = lines.next().expect("timing line after an identifier");
        }
        let (start_ms, end_ms) = parse_timing(line, '.');
        let text = read_payload(&mut lines);
        assert!(!text.contains('<'), "unescaped '<' starts a tag: {text:?}");
        let text = text
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        cues.push(Cue {
            index: None,
            start_ms,
            end_ms,
            text,
        });
    }
    cues
}

/// A multi-segment transcript and the cues it must read back as.
fn round_trip_case() -> (Transcript, Vec<(u64, u64, &'static str)>) {
    let t = transcript(
        "meeting.ogg",
        vec![
            seg(0.0, 2.5, " Good morning."),
            seg(2.5, 5.004, " Let's begin"),
            seg(61.2345, 65.0, " with the <agenda> & notes."),
            seg(3599.9996, 3605.0, " An hour in: ünïcødé ✓"),
            seg(7322.12, 7323.0, " one -> two --> three"),
            seg(7323.0, 7324.0, " first line\nsecond line"),
            seg(7324.0, 7325.0, ""),
        ],
    );
    let expected = vec![
        (0, 2500, "Good morning."),
        (2500, 5004, "Let's begin"),
        (61235, 65000, "with the <agenda> & notes."),
        (3_600_000, 3_605_000, "An hour in: ünïcødé ✓"),
        (7_322_120, 7_323_000, "one -> two -> three"),
        (7_323_000, 7_324_000, "first line second line"),
        (7_324_000, 7_325_000, ""),
    ];
    (t, expected)
}

#[test]
fn srt_round_trip() {
    let (t, expected) = round_trip_case();
    let cues = parse_srt(&render(Format::Srt, &t));
    assert_eq!(cues.len(), expected.len());
    for (i, (cue, &(start_ms, end_ms, text))) in cues.iter().zip(&expected).enumerate() {
        let want = Cue {
            index: Some(i as u32 + 1),
            start_ms,
            end_ms,
            text: text.to_string(),
        };
        assert_eq!(*cue, want);
    }
}

#[test]
fn vtt_round_trip() {
    let (t, expected) = round_trip_case();
    let cues = parse_vtt(&render(Format::Vtt, &t));
    assert_eq!(cues.len(), expected.len());
    for (cue, &(start_ms, end_ms, text)) in cues.iter().zip(&expected) {
        let want = Cue {
            index: None,
            start_ms,
            end_ms,
            text: text.to_string(),
        };
        assert_eq!(*cue, want);
    }
}

#[test]
fn hostile_text_keeps_cues_intact() {
    let t = hostile();
    let srt = parse_srt(&render(Format::Srt, &t));
    let vtt = parse_vtt(&render(Format::Vtt, &t));
    assert_eq!(srt.len(), t.segments.len());
    assert_eq!(vtt.len(), t.segments.len());
    assert_eq!(srt[1].text, "two paragraphs and lines");
    assert_eq!(vtt[3].text, "AT&T <b>bold</b> &lt;");
    assert_eq!(srt[4].text, "");
    for (i, (s, v)) in srt.iter().zip(&vtt).enumerate() {
        assert_eq!(s.index, Some(i as u32 + 1));
        assert_eq!((s.start_ms, s.end_ms), (v.start_ms, v.end_ms));
        assert_eq!(s.start_ms, i as u64 * 1000);
    }
}

// ---------------------------------------------------------------------------------------------
// Formats

#[test]
fn formats_parse_and_name_files() {
    assert_eq!("json".parse::<Format>().unwrap(), Format::Json);
    assert_eq!(parse_formats("all").unwrap(), Format::ALL);
    assert_eq!(Format::all().len(), 5);
    assert_eq!(
        parse_formats("tsv,srt").unwrap(),
        [Format::Tsv, Format::Srt]
    );
    let err = parse_formats("srt,docx").unwrap_err();
    assert!(matches!(err, OutputError::UnknownFormat(ref name) if name == "docx"));
    let exts: Vec<&str> = Format::ALL.iter().map(|f| f.extension()).collect();
    assert_eq!(exts, ["txt", "json", "srt", "vtt", "tsv"]);

    let dir = Path::new("out");
    assert_eq!(
        output_path(dir, "talks/intro.final.mp3", Format::Srt).unwrap(),
        Path::new("out/intro.final.srt")
    );
    assert_eq!(
        output_path(dir, "noext", Format::Vtt).unwrap(),
        Path::new("out/noext.vtt")
    );
    assert!(matches!(
        output_path(dir, "", Format::Txt),
        Err(OutputError::NoFileName { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Atomic files

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn write_file_replaces_existing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.srt");
    std::fs::write(&path, "old content that is longer than the new one").unwrap();
    let n = write_file(&path, |w| {
        w.write_all(b"new")?;
        Ok(3)
    })
    .unwrap();
    assert_eq!(n, 3);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    assert_eq!(dir_entries(tmp.path()), ["x.srt"]);
}

#[test]
fn failed_write_leaves_target_and_no_temp_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.txt");
    std::fs::write(&path, "complete old file").unwrap();
    let err = write_file(&path, |w| {
        w.write_all(b"half a fi")?;
        Err::<(), _>(io::Error::other("interrupted"))
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("interrupted"), "{msg}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "complete old file");
    assert_eq!(dir_entries(tmp.path()), ["x.txt"]);
}

#[test]
fn rename_over_a_directory_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.vtt");
    std::fs::create_dir(&path).unwrap();
    let err = write_file(&path, |w| w.write_all(b"WEBVTT\n\n")).unwrap_err();
    assert!(matches!(err, OutputError::Write { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot write {}: ", path.display()))
    );
    assert!(path.is_dir());
    assert_eq!(dir_entries(tmp.path()), ["x.vtt"]);
}

#[test]
fn write_into_a_non_directory_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let not_dir = tmp.path().join("plain-file");
    std::fs::write(&not_dir, "").unwrap();
    let err = write_file(&not_dir.join("x.srt"), |w| w.write_all(b"1\n")).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, OutputError::TempFile { .. }), "{err:?}");
    assert!(msg.contains(&format!("in {}:", not_dir.display())), "{msg}");
    assert_eq!(dir_entries(tmp.path()), ["plain-file"]);
}

/// Makes `dir` read-only; returns false where that does not stop this process from writing
/// (root ignores permission bits).
#[cfg(unix)]
fn make_read_only(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = dir.join("probe");
    if std::fs::write(&probe, "").is_ok() {
        std::fs::remove_file(&probe).unwrap();
        return false;
    }
    true
}

#[cfg(unix)]
fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn write_into_unwritable_dir_names_it_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let ro = tmp.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    // A mode-0555 dir stops an ordinary user; root (as in CI) ignores modes, and there sysfs,
    // which refuses new files even to root, stands in.
    let dir = if make_read_only(&ro) {
        ro.clone()
    } else {
        make_writable(&ro);
        PathBuf::from("/sys")
    };
    let file_err = write_file(&dir.join("x.srt"), |w| w.write_all(b"1\n")).unwrap_err();
    let outputs_err = write_outputs(&small(), &Format::all(), &dir).unwrap_err();
    let leftovers: Vec<String> = dir_entries(&dir)
        .into_iter()
        .filter(|n| n.ends_with(".tmp") || n.starts_with("intro."))
        .collect();
    make_writable(&ro);

    for err in [file_err, outputs_err] {
        let msg = err.to_string();
        assert!(msg.contains(&dir.display().to_string()), "{msg}");
        assert!(msg.contains("ermission denied"), "{msg}");
    }
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[cfg(unix)]
#[test]
fn new_files_get_normal_permissions_and_replaced_files_keep_theirs() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tmp = tempfile::tempdir().unwrap();

    // What File::create gives under this process's umask.
    let probe = tmp.path().join("probe");
    std::fs::File::create(&probe).unwrap();
    let path = tmp.path().join("new.txt");
    write_file(&path, |w| w.write_all(b"x")).unwrap();
    assert_eq!(mode(&path), mode(&probe));

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    write_file(&path, |w| w.write_all(b"y")).unwrap();
    assert_eq!(mode(&path), 0o640);
}

// ---------------------------------------------------------------------------------------------
// Output directories

#[test]
fn write_outputs_creates_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested/out");
    let t = small();
    let written = write_outputs(&t, &parse_formats("all,srt").unwrap(), &dir).unwrap();
    let expected: Vec<PathBuf> = ["txt", "json", "srt", "vtt", "tsv"]
        .iter()
        .map(|ext| dir.join(format!("intro.{ext}")))
        .collect();
    assert_eq!(written, expected);
    assert_eq!(
        dir_entries(&dir),
        [
            "intro.json",
            "intro.srt",
            "intro.tsv",
            "intro.txt",
            "intro.vtt"
        ]
    );
    for format in Format::ALL {
        let on_disk = std::fs::read_to_string(dir.join(format!("intro.{format}"))).unwrap();
        assert_eq!(on_disk, render(format, &t), "{format}");
    }
}

#[test]
fn write_outputs_names_a_dir_it_cannot_create() {
    let tmp = tempfile::tempdir().unwrap();
    let blocker = tmp.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let dir = blocker.join("out");
    let err = write_outputs(&small(), &[Format::Srt], &dir).unwrap_err();
    assert!(matches!(err, OutputError::CreateDir { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "cannot create output directory {}: ",
            dir.display()
        )),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------------------------
// Stdout

fn stream(format: Format, transcripts: &[Transcript]) -> Result<String, OutputError> {
    let mut out = Vec::new();
    write_stream(format, transcripts, &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn stdout_conventions() {
    let two = [small(), unicode()];

    let jsonl = stream(Format::Json, &two).unwrap();
    let lines: Vec<&str> = jsonl.lines().collect();
    assert_eq!(lines.len(), 2);
    for (line, original) in lines.iter().zip(&two) {
        assert_eq!(serde_json::from_str::<Transcript>(line).unwrap(), *original);
    }

    assert_eq!(
        stream(Format::Txt, &two).unwrap(),
        "Hello world.\nHow are you?\nこんにちは、世界。\nGrüße 👋🏽 — «ça va?»\n"
    );

    for format in [Format::Srt, Format::Vtt, Format::Tsv] {
        assert_eq!(stream(format, &two[..1]).unwrap(), render(format, &two[0]));
        let err = stream(format, &two).unwrap_err();
        assert!(
            matches!(err, OutputError::StdoutNeedsOneFile { count: 2, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(&format.to_string()));
        assert!(check_stdout(format, 2).is_err());
        assert!(check_stdout(format, 1).is_ok());
    }
    assert!(check_stdout(Format::Json, 100).is_ok());
    assert!(check_stdout(Format::Txt, 100).is_ok());
}

/// A transcript with word timings, and a hostile word among them.
fn with_words() -> Transcript {
    let words = [
        (" Good", 0.0, 0.4),
        (" morning,", 0.4, 1.0),
        (" <team>", 1.2, 1.8),
        (" &", 1.8, 2.0),
        (" friends.", 2.0, 2.6),
        (" Today", 3.0, 3.4),
        (" -->", 3.4, 3.6),
        (" plans.", 3.6, 4.2),
    ];
    let mut s = seg(0.0, 4.2, "");
    s.words = words
        .iter()
        .map(|&(w, start, end)| Word {
            word: w.into(),
            start,
            end,
            probability: 0.9,
        })
        .collect();
    s.text = words.iter().map(|w| w.0).collect();
    transcript("words.wav", vec![s])
}

fn render_with(format: Format, t: &Transcript, subs: &SubtitleOptions) -> String {
    let mut out = Vec::new();
    output::write_with(format, t, subs, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn word_cues_wrap_lines_and_round_trip() {
    let t = with_words();
    let subs = SubtitleOptions {
        max_line_width: Some(16),
        max_line_count: Some(2),
        highlight_words: false,
    };
    let cues = parse_srt(&render_with(Format::Srt, &t, &subs));
    let texts: Vec<&str> = cues.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        ["Good morning,\n<team> &", "friends. Today\n-> plans."]
    );
    assert_eq!((cues[0].start_ms, cues[0].end_ms), (0, 2000));
    assert_eq!((cues[1].start_ms, cues[1].end_ms), (2000, 4200));
    for line in texts.iter().flat_map(|t| t.lines()) {
        assert!(line.chars().count() <= 16, "{line:?}");
    }
    // WebVTT: the same cues, escaped on the way out and unescaped by the parser.
    let vtt = parse_vtt(&render_with(Format::Vtt, &t, &subs));
    let vtexts: Vec<&str> = vtt.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(vtexts, texts);
}

#[test]
fn highlighted_words_get_a_cue_each() {
    let t = with_words();
    let subs = SubtitleOptions {
        highlight_words: true,
        ..SubtitleOptions::default()
    };
    let cues = parse_srt(&render_with(Format::Srt, &t, &subs));
    // One cue per word, plus the two gaps between words (1.0-1.2 s and 2.6-3.0 s).
    assert_eq!(cues.len(), 10);
    let underlined: Vec<usize> = cues.iter().map(|c| c.text.matches("<u>").count()).collect();
    assert_eq!(underlined.iter().sum::<usize>(), 8);
    assert!(
        cues[0].text.starts_with("<u>Good</u> morning,"),
        "{:?}",
        cues[0]
    );
    assert!(cues.windows(2).all(|w| w[0].end_ms <= w[1].start_ms));
    // WebVTT keeps the tags and escapes the text inside them.
    let vtt = render_with(Format::Vtt, &t, &subs);
    assert!(
        vtt.contains("<u>&lt;team&gt;</u>") || vtt.contains("<u>&lt;team></u>"),
        "{vtt}"
    );
    let plain = vtt.replace("<u>", "").replace("</u>", "");
    assert_eq!(parse_vtt(&plain).len(), 10);
}
