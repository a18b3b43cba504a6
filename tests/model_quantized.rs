//! int8 CTranslate2 files (what `ct2-transformers-converter --quantization int8` writes) import
//! as float32 with `w = q / scale`, per output row; float32 files import unchanged.

mod common;

use common::ct2_writer::{self, WeightKind};
use safetensors::{Dtype, SafeTensors};
use whisper_spec::model::WhisperConfig;
use whisper_spec::store::ModelDir;
use whisper_spec::store::import::{import_ct2, name_map, row_block};

/// A miniature Whisper with the real English vocabulary (so tiny.en's tokenizer fits).
fn mini_config() -> WhisperConfig {
    serde_json::from_value(serde_json::json!({
        "vocab_size": 51864, "num_mel_bins": 80, "d_model": 8,
        "encoder_layers": 1, "encoder_attention_heads": 2,
        "decoder_layers": 2, "decoder_attention_heads": 2,
        "encoder_ffn_dim": 16, "decoder_ffn_dim": 16,
        "eos_token_id": 50256, "decoder_start_token_id": 50257
    }))
    .unwrap()
}

fn write_ct2(
    dir: &std::path::Path,
    kind: WeightKind,
) -> std::collections::BTreeMap<String, ct2_writer::Var> {
    std::fs::create_dir_all(dir).unwrap();
    let vars = ct2_writer::synthetic_variables(&mini_config(), kind, 7);
    std::fs::write(dir.join("model.bin"), ct2_writer::model_bin(&vars)).unwrap();
    let tiny = common::models::ct2_model("tiny.en");
    std::fs::copy(tiny.join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
    std::fs::write(
        dir.join("config.json"),
        r#"{"alignment_heads": [[1, 0], [1, 1]], "lang_ids": [], "suppress_ids": [1, 2], "suppress_ids_begin": [220, 50256]}"#,
    )
    .unwrap();
    vars
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn int8_weights_are_dequantized_per_row() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("ct2");
    let vars = write_ct2(&src, WeightKind::Int8);
    let summary = import_ct2(&src, &tmp.path().join("out")).unwrap();
    assert_eq!(summary.config.d_model, 8);
    assert_eq!(summary.config.decoder_layers, 2);
    assert!(
        summary.source_dtype.contains("I8"),
        "{}",
        summary.source_dtype
    );

    let dir = ModelDir::open(&summary.dir).unwrap();
    assert_eq!(dir.generation.alignment_heads, vec![[1, 0], [1, 1]]);
    let bytes = std::fs::read(dir.weights()).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut quantized = 0;
    for (hf, src) in name_map(&mini_config()) {
        let t = st.tensor(&hf).unwrap();
        let var = &vars[&src.ct2_name];
        assert_eq!(t.dtype(), Dtype::F32, "{hf}");
        let Some(scale) = vars.get(&format!("{}_scale", src.ct2_name)) else {
            // Not quantized: float32 copied unchanged.
            let raw = match src.part {
                None => &var.data[..],
                Some((i, n)) => row_block(&var.data, &var.shape, i, n).unwrap(),
            };
            assert!(t.data() == raw, "{hf}");
            continue;
        };
        quantized += 1;
        let scales = f32s(&scale.data);
        let rows = var.shape[0];
        let per_row = var.data.len() / rows;
        let expect: Vec<f32> = var
            .data
            .iter()
            .enumerate()
            .map(|(i, &q)| q as i8 as f32 / scales[i / per_row])
            .collect();
        let expect_bytes: Vec<u8> = expect.iter().flat_map(|v| v.to_le_bytes()).collect();
        let expect_part = match src.part {
            None => &expect_bytes[..],
            Some((i, n)) => row_block(&expect_bytes, &var.shape, i, n).unwrap(),
        };
        assert!(t.data() == expect_part, "{hf}: not q / scale");
        // And the values are not trivially zero.
        assert!(f32s(t.data()).iter().any(|v| v.abs() > 0.1), "{hf}");
    }
    assert!(quantized > 10, "only {quantized} quantized tensors checked");
}

#[test]
fn float32_files_import_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("ct2");
    write_ct2(&src, WeightKind::F32);
    let summary = import_ct2(&src, &tmp.path().join("out")).unwrap();
    assert_eq!(summary.source_dtype, "F32");
    assert_eq!(summary.config.torch_dtype.as_deref(), Some("float32"));
    ModelDir::open(&summary.dir).unwrap().verify().unwrap();
}
