#!/usr/bin/env python3
"""faster-whisper with beam search, for `whisper-spec bench --vs-faster-whisper --beam-size N`.

The same command line and output as the shared peers script (../shared/peers/faster_whisper_run.py:
one JSON line per file, wall time without model load), plus --beam-size and --patience: beam
search at temperature 0, no fallback, no VAD, previous text as prompt. The bench writes this
file next to its run and calls it with the peers venv's Python.
"""
import argparse
import json
import os
import statistics
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", required=True)
    p.add_argument("--compute-type", default="float32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--language", default=None)
    p.add_argument("--timestamps", action="store_true")
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--patience", type=float, default=1.0)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("files", nargs="+")
    a = p.parse_args()
    # CTranslate2's float32 runs on its MKL backend here (as the shared peers script sets it).
    if a.compute_type == "float32":
        os.environ.setdefault("CT2_USE_MKL", "1")
    from faster_whisper import WhisperModel, decode_audio

    t0 = time.perf_counter()
    model = WhisperModel(a.model_dir, device="cpu", compute_type=a.compute_type,
                         cpu_threads=a.threads, num_workers=1)
    load_s = time.perf_counter() - t0
    for f in a.files:
        try:
            audio = decode_audio(f, sampling_rate=16000)
        except Exception as e:  # one bad file is reported, the others still run
            print(json.dumps({"file": f, "error": str(e)}), flush=True)
            continue
        times, result = [], None
        for _ in range(a.runs):
            t0 = time.perf_counter()
            segments, info = model.transcribe(
                audio, language=a.language, beam_size=a.beam_size, patience=a.patience,
                temperature=0.0, without_timestamps=not a.timestamps, vad_filter=False,
                condition_on_previous_text=True)
            segments = list(segments)
            times.append(time.perf_counter() - t0)
            result = (info, segments)
        info, segments = result
        print(json.dumps({
            "file": f,
            "audio_s": round(len(audio) / 16000, 3),
            "language": info.language,
            "text": "".join(s.text for s in segments).strip(),
            "tokens": [t for s in segments for t in s.tokens],
            "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in segments],
            "wall_s": round(statistics.median(times), 4),
            "load_s": round(load_s, 3),
        }, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    sys.exit(main())
