//! A minimal `.npy` reader for the golden files: little-endian f32, C order, format 1.0-3.0.
//! Enough for numpy.save of a float32 array; anything else fails loudly.

use std::path::Path;

/// An array read from a `.npy` file.
#[derive(Debug, Clone)]
pub struct NpyF32 {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Values in C (row-major) order.
    pub data: Vec<f32>,
}

/// Reads a little-endian float32 C-order `.npy` file, panicking with the path on any problem.
pub fn read_f32(path: &Path) -> NpyF32 {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_f32(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses `.npy` bytes (see [`read_f32`]).
pub fn parse_f32(bytes: &[u8]) -> Result<NpyF32, String> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (bad magic)".into());
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated header length".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let data_start = header_start + header_len;
    let header = bytes
        .get(header_start..data_start)
        .ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not UTF-8")?;

    let descr = dict_value(header, "descr").ok_or("header has no 'descr'")?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    if descr != "<f4" {
        return Err(format!(
            "dtype {descr} is not little-endian float32 ('<f4')"
        ));
    }
    let fortran = dict_value(header, "fortran_order").ok_or("header has no 'fortran_order'")?;
    if fortran.trim() != "False" {
        return Err("Fortran-ordered arrays are not supported".into());
    }
    let shape = dict_value(header, "shape").ok_or("header has no 'shape'")?;
    let shape = shape.trim().trim_start_matches('(').trim_end_matches(')');
    let shape: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| format!("bad shape entry {s:?}")))
        .collect::<Result<_, _>>()?;

    let count: usize = shape.iter().product();
    let payload = &bytes[data_start..];
    if payload.len() != count * 4 {
        return Err(format!(
            "data is {} bytes, shape {shape:?} needs {}",
            payload.len(),
            count * 4
        ));
    }
    let data = payload
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(NpyF32 { shape, data })
}

/// The text of `key`'s value in a Python dict literal: up to the next top-level comma or brace.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pos = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[pos + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?;
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    None
}
