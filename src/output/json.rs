//! JSON: the whole [`Transcript`] as serde writes it. Its field names are the interface that
//! other tools read, so they come from `transcript.rs` and nowhere else.
//!
//! Note: JSON has no NaN or infinity; serde_json writes such a float as `null`, which does not
//! read back into an `f64`. Producers of a [`Transcript`] should keep its numbers finite.

use std::io::{self, Write};

use crate::transcript::Transcript;

/// Writes the transcript as one indented JSON object followed by a newline: the form for
/// `<name>.json` files, readable by a person as well as a program.
pub fn write_json<W: Write + ?Sized>(transcript: &Transcript, out: &mut W) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, transcript)?;
    writeln!(out)
}

/// Writes the transcript as one compact JSON object on a single line, newline-terminated: a
/// JSON Lines record, the form for stdout, where several files give several lines.
pub fn write_json_line<W: Write + ?Sized>(transcript: &Transcript, out: &mut W) -> io::Result<()> {
    serde_json::to_writer(&mut *out, transcript)?;
    writeln!(out)
}
