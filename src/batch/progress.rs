//! What a running batch shows on stderr: one overall bar in time of audio (with speed as a
//! multiple of real time, and ETA) and one line per running job (indicatif), or one plain line
//! per finished file for logs, or nothing but failures.
//!
//! Progress is counted in audio, not files: a batch of podcasts mixes 5-minute trailers and
//! 3-hour interviews, and only hours of audio give an honest ETA. The overall total starts from
//! each file's declared duration (or an estimate from its size) and is corrected to the exact
//! duration as each file finishes.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// The progress bars on screen, if any: log lines are printed above them instead of through
/// them (see [`LogWriter`]).
static BARS: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Standard error for log lines: while progress bars are drawn, each line is written with the
/// bars cleared and then redrawn under it, so warnings (a truncated file) stay readable.
#[derive(Debug, Clone, Copy)]
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bars = BARS.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match bars {
            Some(bars) => bars.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// How progress is shown (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Bars when stderr is a terminal, else plain lines.
    Auto,
    /// The overall bar and one line per job.
    Bar,
    /// One line per finished file (for logs).
    Plain,
    /// Only failures and the final report.
    None,
}

/// The progress display, shared by the workers.
#[derive(Debug)]
pub struct Progress {
    mode: ProgressMode,
    multi: MultiProgress,
    overall: ProgressBar,
    jobs: Vec<ProgressBar>,
    counts: Mutex<Counts>,
}

#[derive(Debug)]
struct Counts {
    /// Milliseconds of audio in finished files.
    finished_ms: u64,
    /// Each job's current file (`None`: idle).
    current: Vec<Option<Running>>,
    /// Files finished (ok or failed) and to do.
    files_done: usize,
    files_total: usize,
}

/// A file being transcribed.
#[derive(Debug, Clone)]
struct Running {
    name: String,
    /// Estimated duration, milliseconds of audio.
    estimate_ms: u64,
    /// Audio done so far, milliseconds.
    done_ms: u64,
}

/// How a file ended, for the display.
#[derive(Debug, Clone)]
pub enum Finished<'a> {
    /// Transcribed: audio seconds, wall seconds.
    Ok {
        /// Audio duration, seconds.
        audio_s: f64,
        /// Wall time, seconds.
        wall_s: f64,
    },
    /// Done by another task sharing the output tree first.
    Elsewhere,
    /// Failed with this message.
    Failed(&'a str),
}

impl Progress {
    /// A display for `jobs` workers over `files` files holding about `total_audio_s` seconds.
    pub fn new(mode: ProgressMode, jobs: usize, files: usize, total_audio_s: f64) -> Progress {
        let mode = match mode {
            ProgressMode::Auto if std::io::IsTerminal::is_terminal(&std::io::stderr()) => {
                ProgressMode::Bar
            }
            ProgressMode::Auto => ProgressMode::Plain,
            m => m,
        };
        let target = if mode == ProgressMode::Bar {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(ms(total_audio_s)));
        overall.set_style(overall_style());
        let jobs: Vec<ProgressBar> = (0..jobs)
            .map(|_| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {msg}").expect("a valid template"),
                );
                bar
            })
            .collect();
        let n = jobs.len();
        if mode == ProgressMode::Bar {
            overall.enable_steady_tick(Duration::from_millis(250));
            *BARS.lock().unwrap_or_else(|e| e.into_inner()) = Some(multi.clone());
        }
        let progress = Progress {
            mode,
            multi,
            overall,
            jobs,
            counts: Mutex::new(Counts {
                finished_ms: 0,
                current: vec![None; n],
                files_done: 0,
                files_total: files,
            }),
        };
        progress.redraw(&progress.counts.lock().expect("progress lock"));
        progress
    }

    /// Job `job` starts `name`, estimated at `estimate_s` seconds of audio.
    pub fn start(&self, job: usize, name: &str, estimate_s: f64) {
        let mut c = self.counts.lock().expect("progress lock");
        c.current[job] = Some(Running {
            name: name.to_string(),
            estimate_ms: ms(estimate_s),
            done_ms: 0,
        });
        self.redraw(&c);
    }

    /// Job `job` has done `seconds` of its current file.
    pub fn advance(&self, job: usize, seconds: f64) {
        let mut c = self.counts.lock().expect("progress lock");
        if let Some(running) = &mut c.current[job] {
            running.done_ms = ms(seconds);
        }
        self.redraw(&c);
    }

    /// Job `job` finished its file: the overall total is corrected from the estimate to the
    /// exact duration, and plain mode prints a line (failures are printed in every mode).
    pub fn finish(&self, job: usize, name: &str, how: &Finished<'_>) {
        let mut c = self.counts.lock().expect("progress lock");
        let estimate = c.current[job].take().map_or(0, |r| r.estimate_ms);
        c.files_done += 1;
        let exact = match how {
            Finished::Ok { audio_s, .. } => ms(*audio_s),
            Finished::Failed(_) | Finished::Elsewhere => 0,
        };
        c.finished_ms += exact;
        let len = self.overall.length().unwrap_or(0);
        self.overall
            .set_length((len + exact).saturating_sub(estimate).max(c.finished_ms));
        let line = match how {
            Finished::Ok { audio_s, wall_s } => format!(
                "[{}/{}] ok {name}: {} of audio in {} ({:.1}x real time)",
                c.files_done,
                c.files_total,
                clock(*audio_s),
                clock(*wall_s),
                audio_s / wall_s.max(1e-9)
            ),
            Finished::Elsewhere => format!(
                "[{}/{}] skipped {name}: another task recorded it first",
                c.files_done, c.files_total
            ),
            // The error names the file already.
            Finished::Failed(error) => {
                format!("[{}/{}] FAILED {error}", c.files_done, c.files_total)
            }
        };
        match (self.mode, how) {
            (ProgressMode::Bar, _) => {
                let _ = self.multi.println(line);
            }
            (ProgressMode::Plain, _) | (_, Finished::Failed(_)) => eprintln!("{line}"),
            _ => {}
        }
        self.redraw(&c);
    }

    /// A message above the bars, or a plain line (nothing in `none` mode).
    pub fn message(&self, text: &str) {
        match self.mode {
            ProgressMode::Bar => {
                let _ = self.multi.println(text);
            }
            ProgressMode::None => {}
            _ => eprintln!("{text}"),
        }
    }

    /// Removes the bars (before the report is printed).
    pub fn close(&self) {
        BARS.lock().unwrap_or_else(|e| e.into_inner()).take();
        for bar in &self.jobs {
            bar.finish_and_clear();
        }
        self.overall.finish_and_clear();
    }

    fn redraw(&self, c: &Counts) {
        if self.mode != ProgressMode::Bar {
            return;
        }
        let current: u64 = c.current.iter().flatten().map(|r| r.done_ms).sum();
        self.overall.set_position(c.finished_ms + current);
        self.overall
            .set_message(format!("{}/{} files", c.files_done, c.files_total));
        for (job, bar) in self.jobs.iter().enumerate() {
            match &c.current[job] {
                Some(r) => bar.set_message(format!(
                    "job {}: {}  {} / {}",
                    job + 1,
                    r.name,
                    clock(r.done_ms as f64 / 1000.0),
                    clock(r.estimate_ms as f64 / 1000.0)
                )),
                None => bar.set_message(format!("job {}: idle", job + 1)),
            }
            bar.tick();
        }
    }
}

/// The overall bar: elapsed, bar, hours done of total, files, speed, ETA.
fn overall_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {audio} audio  {msg}  {speed}  ETA {eta_precise}",
    )
    .expect("a valid template")
    .with_key("hours", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
        let len = s.len().unwrap_or(0);
        let _ = write!(w, "{:.2}/{:.2}", s.pos() as f64 / 3.6e6, len as f64 / 3.6e6);
    })
    .with_key("speed", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
        // Position is in milliseconds of audio: per second / 1000 = times real time.
        let _ = write!(w, "{:.1}x real time", s.per_sec() / 1000.0);
    })
    .progress_chars("=> ")
}

/// Seconds to whole milliseconds (negative and NaN give 0).
fn ms(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1000.0).round() as u64
}

/// `h:mm:ss`, or `m:ss` under an hour.
pub fn clock(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_formats() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(59.6), "1:00");
        assert_eq!(clock(3725.0), "1:02:05");
    }

    #[test]
    fn totals_are_corrected_to_exact_durations() {
        let p = Progress::new(ProgressMode::None, 2, 2, 100.0);
        p.start(0, "a", 60.0);
        p.start(1, "b", 40.0);
        p.advance(0, 30.0);
        p.finish(
            0,
            "a",
            &Finished::Ok {
                audio_s: 50.0,
                wall_s: 5.0,
            },
        );
        assert_eq!(p.overall.length(), Some(90_000));
        p.finish(1, "b", &Finished::Failed("bad"));
        assert_eq!(p.overall.length(), Some(50_000));
        assert_eq!(p.counts.lock().unwrap().files_done, 2);
    }
}
