//! A safetensors file read tensor by tensor with positioned reads, as a `VarBuilder` backend.
//!
//! candle's own backend memory-maps the file. Every page a load touches then stays in the
//! process's resident set until the map is dropped, on top of the converted tensors (the file
//! and its f32 copy at once). Reading each tensor into its own buffer
//! instead leaves the file's pages to the kernel's page cache, where they are not ours, and the
//! peak is the converted weights plus one tensor in flight. Loading is no slower: the bytes are
//! copied once either way (from the cache, or out of the map), and the conversion is the same.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Result, Shape, Tensor, WithDType};
use candle_nn::var_builder::SimpleBackend;
use serde::Deserialize;

/// One tensor's place in the file.
#[derive(Debug, Clone)]
struct Entry {
    dtype: DType,
    shape: Vec<usize>,
    /// Absolute byte offset of its data.
    start: u64,
    len: usize,
}

/// A header entry as safetensors writes it.
#[derive(Deserialize)]
struct HeaderEntry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: (usize, usize),
}

/// An open safetensors file and its parsed header.
#[derive(Debug)]
pub struct WeightsFile {
    file: File,
    path: PathBuf,
    tensors: HashMap<String, Entry>,
    /// Hand out half-precision weight matrices as stored when f32 is asked for (see
    /// [`WeightsFile::keeping_half_matrices`]).
    keep_half_matrices: bool,
}

/// The largest header accepted (safetensors' own limit).
const MAX_HEADER: u64 = 100_000_000;

impl WeightsFile {
    /// Opens `path` and reads its header; the data is read later, one tensor per
    /// [`SimpleBackend::get`].
    pub fn open(path: &Path) -> Result<Self> {
        let fail = |why: String| candle_core::Error::Msg(format!("{}: {why}", path.display()));
        let file = File::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
        let size = file
            .metadata()
            .map_err(|e| fail(format!("cannot stat: {e}")))?
            .len();
        let mut n = [0u8; 8];
        read_exact_at(&file, &mut n, 0).map_err(|e| fail(format!("no header: {e}")))?;
        let n = u64::from_le_bytes(n);
        if n > MAX_HEADER || 8 + n > size {
            return Err(fail(format!("header of {n} bytes in a {size}-byte file")));
        }
        let mut header = vec![0u8; n as usize];
        read_exact_at(&file, &mut header, 8).map_err(|e| fail(format!("no header: {e}")))?;
        let raw: HashMap<String, serde_json::Value> = serde_json::from_slice(&header)
            .map_err(|e| fail(format!("header is not valid JSON: {e}")))?;
        let data_start = 8 + n;
        let mut tensors = HashMap::with_capacity(raw.len());
        for (name, value) in raw {
            if name == "__metadata__" {
                continue;
            }
            let e: HeaderEntry = serde_json::from_value(value)
                .map_err(|e| fail(format!("bad header entry {name}: {e}")))?;
            let dtype = parse_dtype(&e.dtype)
                .ok_or_else(|| fail(format!("{name} has unsupported dtype {}", e.dtype)))?;
            let (begin, end) = e.data_offsets;
            let bytes = (e.shape.iter()).try_fold(dtype.size_in_bytes(), |n, &d| n.checked_mul(d));
            let len = end.checked_sub(begin).unwrap_or(usize::MAX);
            if Some(len) != bytes || data_start.saturating_add(end as u64) > size {
                return Err(fail(format!(
                    "{name}: offsets {begin}..{end} do not hold {:?} {:?} in a {size}-byte file",
                    e.shape, dtype
                )));
            }
            tensors.insert(
                name,
                Entry {
                    dtype,
                    shape: e.shape,
                    start: data_start + begin as u64,
                    len,
                },
            );
        }
        Ok(WeightsFile {
            file,
            path: path.to_path_buf(),
            tensors,
            keep_half_matrices: false,
        })
    }

    /// This file handing out its half-precision (f16, bf16) weight matrices as stored when
    /// the model asks for f32: every 2-D tensor except the position tables, which are added to
    /// activations rather than multiplied. The projections and the token table then take half
    /// the memory and are widened to f32 exactly where the kernels read them; vectors (biases,
    /// norms) and convolutions are small and are widened here as before.
    pub fn keeping_half_matrices(mut self) -> Self {
        self.keep_half_matrices = true;
        self
    }

    /// Whether `name` is handed out as stored when `asked` is requested.
    fn keeps_as_stored(&self, name: &str, e: &Entry, asked: DType) -> bool {
        self.keep_half_matrices
            && asked == DType::F32
            && matches!(e.dtype, DType::F16 | DType::BF16)
            && e.shape.len() == 2
            && !name.contains("embed_positions")
    }

    /// The names of every tensor in the file.
    pub fn names(&self) -> Vec<String> {
        self.tensors.keys().cloned().collect()
    }

    /// Reads tensor `name` as stored (its own dtype), on the CPU.
    fn read(&self, name: &str) -> Result<Tensor> {
        let e = self.tensors.get(name).ok_or_else(|| {
            candle_core::Error::Msg(format!(
                "{}: cannot find tensor {name}",
                self.path.display()
            ))
        })?;
        match e.dtype {
            DType::U8 => self.read_as::<u8>(e),
            DType::U32 => self.read_as::<u32>(e),
            DType::I64 => self.read_as::<i64>(e),
            DType::BF16 => self.read_as::<half::bf16>(e),
            DType::F16 => self.read_as::<half::f16>(e),
            DType::F32 => self.read_as::<f32>(e),
            DType::F64 => self.read_as::<f64>(e),
            other => candle_core::bail!("{name}: unsupported dtype {other:?}"),
        }
    }

    /// Reads `e`'s bytes straight into a buffer of its element type (aligned, one copy).
    fn read_as<T: WithDType>(&self, e: &Entry) -> Result<Tensor> {
        let mut data = vec![T::zero(); e.len / size_of::<T>()];
        // SAFETY: `data` is `e.len` bytes of plain numbers (every bit pattern is a valid
        // value of these types); the file stores them little-endian like the targets we run
        // on, as candle's own loader assumes.
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(data.as_mut_ptr().cast::<u8>(), e.len) };
        read_exact_at(&self.file, bytes, e.start).map_err(|err| {
            candle_core::Error::Msg(format!("{}: cannot read: {err}", self.path.display()))
        })?;
        Tensor::from_vec(data, e.shape.as_slice(), &Device::Cpu)
    }
}

impl SimpleBackend for WeightsFile {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> Result<Tensor> {
        let t = self.get_unchecked(name, dtype, dev)?;
        if t.shape() != &s {
            candle_core::bail!(
                "shape mismatch for {name}, got {:?}, expected {s:?}",
                t.shape()
            );
        }
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> Result<Tensor> {
        let stored = self.read(name)?;
        let kept = self
            .tensors
            .get(name)
            .is_some_and(|e| self.keeps_as_stored(name, e, dtype));
        let dtype = if kept { stored.dtype() } else { dtype };
        stored.to_dtype(dtype)?.to_device(dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

fn parse_dtype(s: &str) -> Option<DType> {
    Some(match s {
        "U8" => DType::U8,
        "U32" => DType::U32,
        "I64" => DType::I64,
        "BF16" => DType::BF16,
        "F16" => DType::F16,
        "F32" => DType::F32,
        "F64" => DType::F64,
        _ => return None,
    })
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_safetensors_wrote_in_every_float_type() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let a = Tensor::arange(0f32, 12.0, &Device::Cpu)
            .unwrap()
            .reshape((3, 4))
            .unwrap();
        let tensors: HashMap<String, Tensor> = [
            ("a32".to_string(), a.clone()),
            ("a16".to_string(), a.to_dtype(DType::F16).unwrap()),
            ("abf".to_string(), a.to_dtype(DType::BF16).unwrap()),
            (
                "one".to_string(),
                Tensor::new(&[7u32], &Device::Cpu).unwrap(),
            ),
        ]
        .into_iter()
        .collect();
        candle_core::safetensors::save(&tensors, &path).unwrap();
        let w = WeightsFile::open(&path).unwrap();
        for name in ["a32", "a16", "abf"] {
            let t = w
                .get(
                    (3, 4).into(),
                    name,
                    candle_nn::Init::Const(0.),
                    DType::F32,
                    &Device::Cpu,
                )
                .unwrap();
            assert_eq!(
                t.to_vec2::<f32>().unwrap(),
                a.to_vec2::<f32>().unwrap(),
                "{name}"
            );
        }
        let one = w.get_unchecked("one", DType::U32, &Device::Cpu).unwrap();
        assert_eq!(one.to_vec1::<u32>().unwrap(), vec![7]);
        assert!(w.contains_tensor("a16") && !w.contains_tensor("b"));
        let wrong = w.get(
            (4, 3).into(),
            "a32",
            candle_nn::Init::Const(0.),
            DType::F32,
            &Device::Cpu,
        );
        assert!(
            wrong
                .unwrap_err()
                .to_string()
                .contains("shape mismatch for a32")
        );
        let missing = w.get_unchecked("b", DType::F32, &Device::Cpu);
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("cannot find tensor b")
        );
    }

    /// Kept as stored: half-precision matrices asked for as f32. Widened as before: vectors,
    /// position tables, f32 matrices, and anything asked for in another dtype.
    #[test]
    fn half_matrices_are_kept_as_stored_only_where_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let m = Tensor::arange(0f32, 12.0, &Device::Cpu)
            .unwrap()
            .reshape((3, 4))
            .unwrap();
        let tensors: HashMap<String, Tensor> = [
            ("fc1.weight", m.to_dtype(DType::F16).unwrap()),
            ("fc2.weight", m.to_dtype(DType::BF16).unwrap()),
            (
                "fc1.bias",
                m.flatten_all().unwrap().to_dtype(DType::F16).unwrap(),
            ),
            ("embed_positions.weight", m.to_dtype(DType::F16).unwrap()),
            ("f32.weight", m.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        candle_core::safetensors::save(&tensors, &path).unwrap();
        let w = WeightsFile::open(&path).unwrap().keeping_half_matrices();
        let dtype_of = |name: &str, asked: DType| {
            let t = w.get_unchecked(name, asked, &Device::Cpu).unwrap();
            assert_eq!(
                t.to_dtype(DType::F32)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap(),
                m.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            );
            t.dtype()
        };
        assert_eq!(dtype_of("fc1.weight", DType::F32), DType::F16);
        assert_eq!(dtype_of("fc2.weight", DType::F32), DType::BF16);
        assert_eq!(dtype_of("fc1.bias", DType::F32), DType::F32);
        assert_eq!(dtype_of("embed_positions.weight", DType::F32), DType::F32);
        assert_eq!(dtype_of("f32.weight", DType::F32), DType::F32);
        assert_eq!(dtype_of("fc2.weight", DType::F16), DType::F16);
        let widened = WeightsFile::open(&path).unwrap();
        let t = widened
            .get_unchecked("fc1.weight", DType::F32, &Device::Cpu)
            .unwrap();
        assert_eq!(t.dtype(), DType::F32);
    }

    #[test]
    fn a_truncated_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let t: HashMap<String, Tensor> = [(
            "x".to_string(),
            Tensor::zeros((64, 64), DType::F32, &Device::Cpu).unwrap(),
        )]
        .into_iter()
        .collect();
        candle_core::safetensors::save(&t, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
        let err = WeightsFile::open(&path).unwrap_err().to_string();
        assert!(
            err.contains("w.safetensors") && err.contains("do not hold"),
            "{err}"
        );
        std::fs::write(&path, b"12").unwrap();
        assert!(WeightsFile::open(&path).is_err());
    }
}
