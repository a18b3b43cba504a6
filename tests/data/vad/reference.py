"""Reference outputs of faster-whisper's Silero VAD, for tests/vad_silero.rs.

For each corpus file (16 kHz 16-bit mono WAV or FLAC, read as int16 / 32768 like our decoder
reads them, so both sides see the very same samples: no resampling on either side), writes
NAME.json beside this script with:
- `probs`: the speech probability of every 512-sample chunk, computed by onnxruntime on
  faster-whisper's own silero_vad_v6.onnx through faster_whisper.vad.SileroVADModel (the
  audio padded to a multiple of 512 exactly as get_speech_timestamps pads it);
- `regions`: faster_whisper.vad.get_speech_timestamps for several option sets (defaults and
  settings that exercise the minimum speech and silence, the maximum speech duration split and
  the padding), as [start_sample, end_sample] pairs.

Run with the peers venv (faster-whisper 1.2.1, onnxruntime; ../shared/peers/setup.sh):
    ~/.cache/whisper-peers/venv/bin/python tests/data/vad/reference.py ../shared
"""

import json
import math
import pathlib
import sys
import wave

import av
import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps, get_vad_model

FILES = [
    "formats/jfk_16000_mono_s16.wav",
    "en_misc/picovoice_diarization_3spk.wav",
    "multilingual/picovoice_test_es.wav",
    # 5.6 minutes: more chunks than the encoder batches at once (1024), long regions.
    "long/en_read_all_concat_16k.flac",
]

OPTION_SETS = [
    {},
    {"min_silence_duration_ms": 100, "speech_pad_ms": 30, "min_speech_duration_ms": 250},
    {"threshold": 0.35, "min_silence_duration_ms": 300, "speech_pad_ms": 200},
    {"max_speech_duration_s": 2.0, "min_silence_duration_ms": 500, "speech_pad_ms": 100},
    {"threshold": 0.6, "neg_threshold": 0.5, "max_speech_duration_s": 1.5,
     "min_silence_duration_ms": 50, "speech_pad_ms": 0},
]


def read_16k_s16(path):
    if path.suffix == ".wav":
        with wave.open(str(path)) as w:
            assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    else:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            assert stream.rate == 16000 and stream.channels == 1
            assert stream.codec_context.format.name == "s16"
            data = np.concatenate([f.to_ndarray()[0] for f in container.decode(stream)])
    return data.astype(np.float32) / 32768.0


def main():
    shared = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "../shared")
    out_dir = pathlib.Path(__file__).resolve().parent
    model = get_vad_model()
    for rel in FILES:
        audio = read_16k_s16(shared / "corpus" / rel)
        # The padding of get_speech_timestamps (always at least one sample).
        padded = np.pad(audio, (0, 512 - audio.shape[0] % 512))
        probs = model(padded).reshape(-1)
        regions = []
        for options in OPTION_SETS:
            speeches = get_speech_timestamps(audio, VadOptions(**options))
            regions.append({
                "options": {k: (None if isinstance(v, float) and math.isinf(v) else v)
                            for k, v in options.items()},
                "regions": [[s["start"], s["end"]] for s in speeches],
            })
        name = pathlib.Path(rel).stem
        record = {
            "file": rel,
            "num_samples": int(audio.shape[0]),
            # Eight significant digits: far below the test's tolerance, half the file size.
            "probs": [float(f"{p:.8g}") for p in probs],
            "regions": regions,
        }
        (out_dir / f"{name}.json").write_text(json.dumps(record) + "\n")
        print(name, len(probs), [len(r["regions"]) for r in regions])


if __name__ == "__main__":
    main()
