//! The terminal side of `caption`: finished lines scroll up; the line being spoken (its
//! committed words, then the tentative ones dimmed) is one status line rewritten in place.
//! When stdout is not a terminal only finished lines are printed, one per line.

use std::io::{self, Write};

use crate::output::captions::CaptionLine;

/// Where captions are shown.
#[derive(Debug)]
pub struct Display {
    terminal: Option<console::Term>,
    status_shown: bool,
}

impl Display {
    /// A display on stdout: live status line when it is a terminal, plain lines otherwise.
    pub fn stdout() -> Self {
        let term = console::Term::stdout();
        Display {
            terminal: term.is_term().then_some(term),
            status_shown: false,
        }
    }

    /// Prints a finished line.
    pub fn line(&mut self, line: &CaptionLine) -> io::Result<()> {
        self.clear()?;
        let mut out = io::stdout().lock();
        writeln!(out, "{}", line.text)?;
        out.flush()
    }

    /// Shows the open line: `committed` words as they will stay, `tentative` dimmed (terminal
    /// only). The start is cut when it does not fit the width.
    pub fn status(&mut self, committed: &str, tentative: &str) -> io::Result<()> {
        let Some(term) = &self.terminal else {
            return Ok(());
        };
        let width = usize::from(term.size().1).max(20) - 1;
        let committed = committed.trim_start();
        let tentative = if committed.is_empty() {
            tentative.trim_start()
        } else {
            tentative
        };
        let total = committed.chars().count() + tentative.chars().count();
        let skip = total.saturating_sub(width);
        let skip_committed = skip.min(committed.chars().count());
        let committed: String = committed.chars().skip(skip_committed).collect();
        let tentative: String = tentative.chars().skip(skip - skip_committed).collect();
        let mut out = io::stdout().lock();
        write!(
            out,
            "\r\x1b[2K{}{}",
            committed,
            console::style(tentative).dim()
        )?;
        out.flush()?;
        self.status_shown = true;
        Ok(())
    }

    /// Removes the status line (before other output, and at the end).
    pub fn clear(&mut self) -> io::Result<()> {
        if self.status_shown {
            let mut out = io::stdout().lock();
            write!(out, "\r\x1b[2K")?;
            out.flush()?;
            self.status_shown = false;
        }
        Ok(())
    }
}
