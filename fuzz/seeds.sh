#!/usr/bin/env bash
# Builds the seed corpus of every fuzz target under fuzz/corpus/ at run time: the heads of the
# shared audio files (../shared/corpus/formats, read in place, never copied into the repo) and
# small configs, weights files and command lines written here.
set -euo pipefail
cd "$(dirname "$0")"
shared="${WHISPER_SPEC_SHARED:-../../shared}"
formats="$shared/corpus/formats"
[ -d "$formats" ] || { echo "no $formats (set WHISPER_SPEC_SHARED)" >&2; exit 1; }
mkdir -p corpus/{audio_pipeline,audio_headers,model_config,weights,cli_args}

# Audio: the first 8 KiB of each file (headers and the first frames; libFuzzer mutates
# small inputs much faster than whole recordings).
for f in "$formats"/*; do
  name=$(basename "$f")
  head -c 8192 "$f" > "corpus/audio_pipeline/$name"
  case "$name" in
    *.wav) { printf '\x00'; head -c 4096 "$f"; } > "corpus/audio_headers/$name" ;;
    *.flac) { printf '\x01'; head -c 4096 "$f"; } > "corpus/audio_headers/$name" ;;
  esac
done

python3 - <<'PY'
import json, struct
cfg = {
    "model_type": "whisper", "vocab_size": 51864, "num_mel_bins": 80, "d_model": 384,
    "encoder_layers": 4, "encoder_attention_heads": 6, "decoder_layers": 4,
    "decoder_attention_heads": 6, "encoder_ffn_dim": 1536, "decoder_ffn_dim": 1536,
    "max_source_positions": 1500, "max_target_positions": 448,
    "activation_function": "gelu", "eos_token_id": 50256, "decoder_start_token_id": 50257,
}
open("corpus/model_config/tiny_en.json", "w").write(json.dumps(cfg))
cfg.update(d_model=8, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
           decoder_attention_heads=2, encoder_ffn_dim=16, decoder_ffn_dim=16, vocab_size=64)
open("corpus/model_config/small.json", "w").write(json.dumps(cfg))

# A safetensors file of three small tensors (f32, f16, u32).
def safetensors(tensors):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data
st = safetensors({
    "a": ("F32", [2, 3], struct.pack("<6f", *range(6))),
    "b": ("F16", [4], b"\x00\x3c" * 4),
    "c": ("U32", [1], struct.pack("<I", 7)),
})
open("corpus/weights/small.safetensors", "wb").write(st)

# A CTranslate2 model.bin (format version 6): one f32 variable, one int32 scalar, no aliases.
def ct2_string(s):
    b = s.encode() + b"\0"
    return struct.pack("<H", len(b)) + b
def ct2(vars_):
    out = struct.pack("<I", 6) + ct2_string("WhisperSpec") + struct.pack("<I", 1)
    out += struct.pack("<I", len(vars_))
    for name, (shape, dtype, raw) in vars_.items():
        out += ct2_string(name) + struct.pack("<B", len(shape))
        out += b"".join(struct.pack("<I", d) for d in shape)
        out += struct.pack("<B", dtype) + struct.pack("<I", len(raw)) + raw
    return out + struct.pack("<I", 0)
open("corpus/weights/small_model.bin", "wb").write(ct2({
    "encoder/num_heads": ([], 3, struct.pack("<i", 6)),
    "encoder/layer_0/ffn/linear_0/weight": ([2, 2], 0, struct.pack("<4f", 1, 2, 3, 4)),
}))

lines = [
    "transcribe\na.wav\n--beam-size\n5\n--patience\n2",
    "transcribe\na.wav\n--temperature\n0.4\n--best-of\n3\n-l\nde",
    "batch\nin\n-o\nout\n--jobs\n1\n--max-hours\n2\n-f\nall",
    "caption\n--step-ms\n500\n--audio-context\nnone",
    "bench\na.wav\n--runs\n1\n--draft-tokens\n4",
    "transcribe\na.wav\n--word-timestamps\n--max-line-width\n42\n--max-line-count\n2",
]
for i, l in enumerate(lines):
    open(f"corpus/cli_args/{i}.txt", "w").write(l)
PY
echo "seeds: $(for t in corpus/*; do printf '%s %s  ' "$(basename "$t")" "$(ls "$t" | wc -l)"; done)"
