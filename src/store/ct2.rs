//! Reader for CTranslate2's `model.bin`, the format faster-whisper ships its Whisper weights in.
//!
//! The file is little-endian and unaligned: a header (binary version, spec name, spec revision),
//! then variables (name, shape, dtype, raw bytes), then aliases (`decoder/projection/weight` ->
//! `decoder/embeddings/weight`, the tied output projection). Every field is bounds-checked
//! against the file size before it is used, so a truncated or foreign file produces an error
//! naming the offset where it went wrong instead of a panic or a huge allocation.
//!
//! The file is memory-mapped; variables are slices of the mapping, never copies.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::ModelError;

/// The only binary version this reader understands (CTranslate2 >= 3 writes 6).
const BINARY_VERSION: u32 = 6;
/// Spec name of Whisper models.
const WHISPER_SPEC: &str = "WhisperSpec";
/// Upper bound on a tensor's rank; real files use at most 3.
const MAX_RANK: u8 = 8;

/// Element type of a CTranslate2 variable, with the codes of its file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ct2Dtype {
    /// 32-bit float (code 0).
    F32,
    /// 8-bit signed integer, a quantized weight with a `weight_scale` beside it (code 1).
    I8,
    /// 16-bit signed integer (code 2): quantized weights or small scalars.
    I16,
    /// 32-bit signed integer (code 3).
    I32,
    /// IEEE half precision (code 4).
    F16,
    /// bfloat16 (code 5).
    BF16,
}

impl Ct2Dtype {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Ct2Dtype::F32,
            1 => Ct2Dtype::I8,
            2 => Ct2Dtype::I16,
            3 => Ct2Dtype::I32,
            4 => Ct2Dtype::F16,
            5 => Ct2Dtype::BF16,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Ct2Dtype::I8 => 1,
            Ct2Dtype::I16 | Ct2Dtype::F16 | Ct2Dtype::BF16 => 2,
            Ct2Dtype::F32 | Ct2Dtype::I32 => 4,
        }
    }
}

/// One variable of the file: its place in the mapping, shape and type.
#[derive(Debug, Clone)]
pub struct Ct2Variable {
    /// Dimensions; empty for a scalar.
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: Ct2Dtype,
    offset: usize,
    len: usize,
}

impl Ct2Variable {
    /// Number of elements (1 for a scalar).
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A parsed, memory-mapped `model.bin`.
pub struct Ct2Model {
    path: PathBuf,
    map: Mmap,
    /// Spec revision from the header (3 for current Whisper files).
    pub revision: u32,
    variables: BTreeMap<String, Ct2Variable>,
    aliases: BTreeMap<String, String>,
}

impl std::fmt::Debug for Ct2Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ct2Model")
            .field("path", &self.path)
            .field("revision", &self.revision)
            .field("variables", &self.variables.len())
            .field("aliases", &self.aliases)
            .finish()
    }
}

impl Ct2Model {
    /// Opens and parses a `model.bin`. Fails with [`ModelError::Ct2Format`] naming the file and
    /// the byte offset for a wrong magic, a truncated file or inconsistent sizes.
    pub fn open(path: &Path) -> Result<Self, ModelError> {
        let file = File::open(path).map_err(|e| ModelError::io(path, e))?;
        // SAFETY: the mapping is read-only and the file is not modified while the model is open;
        // this is the same contract as memory-mapped safetensors.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| ModelError::io(path, e))?;
        let mut reader = Reader {
            bytes: &map,
            pos: 0,
            path,
        };

        let version = reader.u32("binary version")?;
        if version != BINARY_VERSION {
            return Err(ModelError::ct2(
                path,
                format!(
                    "wrong magic: binary version {version} (0x{version:08x}), expected {BINARY_VERSION}"
                ),
            ));
        }
        let spec = reader.string("spec name")?;
        if spec != WHISPER_SPEC {
            return Err(ModelError::ct2(
                path,
                format!("spec is '{spec}', expected '{WHISPER_SPEC}'"),
            ));
        }
        let revision = reader.u32("spec revision")?;

        let count = reader.u32("variable count")? as usize;
        let mut variables = BTreeMap::new();
        for index in 0..count {
            let name = reader.string("variable name")?;
            let rank = reader.u8("rank")?;
            if rank > MAX_RANK {
                return Err(reader.error(format!("variable {index} '{name}' has rank {rank}")));
            }
            let mut shape = Vec::with_capacity(rank as usize);
            for _ in 0..rank {
                shape.push(reader.u32("dimension")? as usize);
            }
            let code = reader.u8("dtype")?;
            let dtype = Ct2Dtype::from_code(code).ok_or_else(|| {
                reader.error(format!("variable '{name}' has unknown dtype code {code}"))
            })?;
            let len = reader.u32("byte count")? as usize;
            let expected = shape
                .iter()
                .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d));
            if expected != Some(len) {
                return Err(reader.error(format!(
                    "variable '{name}' of shape {shape:?} and dtype {dtype:?} claims {len} bytes"
                )));
            }
            let offset = reader.skip(len, &name)?;
            variables.insert(
                name,
                Ct2Variable {
                    shape,
                    dtype,
                    offset,
                    len,
                },
            );
        }

        let alias_count = reader.u32("alias count")? as usize;
        let mut aliases = BTreeMap::new();
        for _ in 0..alias_count {
            let alias = reader.string("alias name")?;
            let target = reader.string("alias target")?;
            if !variables.contains_key(&target) {
                return Err(reader.error(format!(
                    "alias '{alias}' points to missing variable '{target}'"
                )));
            }
            aliases.insert(alias, target);
        }
        if reader.pos != map.len() {
            tracing::warn!(
                "{}: {} unexpected bytes after the last alias",
                path.display(),
                map.len() - reader.pos
            );
        }

        Ok(Ct2Model {
            path: path.to_path_buf(),
            map,
            revision,
            variables,
            aliases,
        })
    }

    /// The file this model was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All variables by name (aliases excluded), in name order.
    pub fn variables(&self) -> impl Iterator<Item = (&str, &Ct2Variable)> {
        self.variables.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Aliases: alias name -> the variable it stands for.
    pub fn aliases(&self) -> &BTreeMap<String, String> {
        &self.aliases
    }

    /// A variable by name, following an alias if the name is one.
    pub fn get(&self, name: &str) -> Option<&Ct2Variable> {
        let name = self.aliases.get(name).map_or(name, String::as_str);
        self.variables.get(name)
    }

    /// A variable that must exist; its absence is a format error naming the variable.
    pub fn require(&self, name: &str) -> Result<&Ct2Variable, ModelError> {
        self.get(name)
            .ok_or_else(|| ModelError::ct2(&self.path, format!("missing variable '{name}'")))
    }

    /// The raw little-endian bytes of a variable.
    pub fn bytes(&self, var: &Ct2Variable) -> &[u8] {
        &self.map[var.offset..var.offset + var.len]
    }

    /// Reads an integer scalar (`decoder/num_heads`, ...), whatever its integer width.
    pub fn scalar_int(&self, name: &str) -> Result<i64, ModelError> {
        let var = self.require(name)?;
        let b = self.bytes(var);
        let value = match (var.dtype, b.len()) {
            (Ct2Dtype::I8, 1) => b[0] as i8 as i64,
            (Ct2Dtype::I16, 2) => i16::from_le_bytes([b[0], b[1]]) as i64,
            (Ct2Dtype::I32, 4) => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => {
                return Err(ModelError::ct2(
                    &self.path,
                    format!("'{name}' is not an integer scalar"),
                ));
            }
        };
        Ok(value)
    }

    /// Number of `layer_{i}` scopes under `encoder` or `decoder` (layer counts are not stored).
    pub fn layer_count(&self, stack: &str) -> usize {
        let prefix = format!("{stack}/layer_");
        let mut count = 0;
        while self
            .variables
            .keys()
            .any(|k| k.starts_with(&format!("{prefix}{count}/")))
        {
            count += 1;
        }
        count
    }
}

/// Bounds-checked little-endian cursor over the mapped file.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl Reader<'_> {
    fn error(&self, reason: String) -> ModelError {
        ModelError::ct2(self.path, format!("{reason} (at byte {})", self.pos))
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], ModelError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let slice = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(slice)
            }
            None => Err(self.error(format!(
                "truncated: {what} needs {n} bytes but the file has {} left of {}",
                self.bytes.len() - self.pos,
                self.bytes.len()
            ))),
        }
    }

    fn skip(&mut self, n: usize, what: &str) -> Result<usize, ModelError> {
        let start = self.pos;
        self.take(n, &format!("data of '{what}'"))?;
        Ok(start)
    }

    fn u8(&mut self, what: &str) -> Result<u8, ModelError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, ModelError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A u16 byte length (including a trailing NUL) followed by the bytes.
    fn string(&mut self, what: &str) -> Result<String, ModelError> {
        let b = self.take(2, what)?;
        let len = u16::from_le_bytes([b[0], b[1]]) as usize;
        let raw = self.take(len, what)?;
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        String::from_utf8(raw.to_vec()).map_err(|_| self.error(format!("{what} is not UTF-8")))
    }
}
