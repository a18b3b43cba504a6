#!/usr/bin/env python3
"""Two decoding settings side by side, ours and faster-whisper's on the same weights: WER and
time over the corpus sets.

    python3 benches/corpus_wer.py --compare vad|beam [--model base]
        [--sets en_read,long,multilingual,en_misc] [--no-peer] [--fillers]

`--compare vad`: with the Silero VAD (our default) and without it (`--no-vad`); faster-whisper
with `vad_filter=True` and `False`. `--compare beam`: greedy and beam 5 (patience 1), both
without VAD on both sides, to compare decodings alone.

Ours: one `whisper-spec transcribe -f json` process per set and setting (model load
included), default decoding (greedy with temperature fallback). faster-whisper: the peers venv
(../shared/peers/setup.sh), the CTranslate2 copy of the same model, float32, the same
decoding (beam 1, fallback on), in one process. WER uses the tests' normaliser
(src/text/wer.rs) against the corpus manifest's references; multilingual is scored with it
too (the same for both sides). `--fillers` adds JFK / 3 minutes of non-speech / JFK, the
non-speech being -50 dBFS brown room tone, -45 dBFS white hiss or -25 dBFS plucked music (the
tests' signals, written to temporary files): words, edits against the 44 spoken and time
(in-process for ours, `stats.wall_s`, against twice the sentence transcribed alone, model load
left out). Run it on an idle machine.
"""
import argparse
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("WHISPER_SPEC_SHARED", os.path.join(ROOT, "..", "shared"))
sys.path.insert(0, os.path.join(ROOT, "benches"))
from caption_latency import wer, words  # noqa: E402  (the tests' normaliser)

BIN = os.path.join(ROOT, "target", "release", "whisper-spec")


def corpus_wer(pairs):
    """Total edits over total reference words, in percent."""
    e = n = 0
    for ref, hyp in pairs:
        r = len(words(ref))
        e += wer(ref, hyp) * r / 100.0
        n += r
    return 100.0 * e / max(n, 1)


def manifest():
    rows = {}
    with open(os.path.join(SHARED, "corpus", "manifest.tsv"), encoding="utf-8") as f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(head, line.rstrip("\n").split("\t")))
            rows[row["file"]] = row
    return rows


# Per comparison: (label, our extra flags, faster-whisper's transcribe() arguments) x 2.
SETTINGS = {
    "vad": [("VAD", [], {"vad_filter": True, "beam_size": 1}),
            ("no VAD", ["--no-vad"], {"vad_filter": False, "beam_size": 1})],
    "beam": [("greedy", ["--no-vad"], {"vad_filter": False, "beam_size": 1}),
             ("beam 5", ["--no-vad", "--beam-size", "5"], {"vad_filter": False, "beam_size": 5})],
}


def ours(model, files, flags, in_process=False):
    """Texts by file, wall time (the process's, or with `in_process` the transcriptions' own,
    without the model load) and time in the VAD."""
    cmd = [BIN, "transcribe", "-m", model, "-f", "json"] + flags + files
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    res = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    vad_s = sum(r["stats"].get("vad_s", 0.0) for r in res)
    if in_process:
        wall = sum(r["stats"]["wall_s"] for r in res)
    return {r["file"]: r["text"] for r in res}, wall, vad_s


def peer(python, model_dir, files, kwargs):
    code = r"""
import json, sys, time
from faster_whisper import WhisperModel
model_dir, kwargs, files = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
m = WhisperModel(model_dir, device="cpu", compute_type="float32", cpu_threads=2)
for f in files:
    segs, info = m.transcribe(f, best_of=5, **kwargs)
    print(json.dumps({"file": f, "text": "".join(s.text for s in segs).strip()}), flush=True)
"""
    t0 = time.perf_counter()
    out = subprocess.run([python, "-c", code, model_dir, json.dumps(kwargs)] + files,
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "CT2_USE_MKL": "1"})
    wall = time.perf_counter() - t0
    res = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return {r["file"]: r["text"] for r in res}, wall


JFK_TEXT = ("And so my fellow Americans ask not what your country can do for you "
            "ask what you can do for your country")


def room_tone(n):
    """Brown noise at -50 dBFS RMS (tests/common/room_tone.rs's kind, Python's generator)."""
    rng = random.Random(1)
    x, raw = 0.0, []
    for _ in range(n):
        x = 0.98 * x + rng.gauss(0, 1)
        raw.append(x)
    return scaled(raw, -50)


def hiss(n):
    """White (uniform) noise at -45 dBFS RMS."""
    rng = random.Random(2)
    return scaled([rng.uniform(-1, 1) for _ in range(n)], -45)


def music(n):
    """A plucked A-major arpeggio at -25 dBFS RMS, one note each half second with its second
    and third harmonics (tests/common/room_tone.rs's `music`)."""
    notes = [220.0, 277.18, 329.63, 440.0, 329.63, 277.18]
    raw = []
    for i in range(n):
        f = notes[(i // 8000) % len(notes)]
        t, since = i / 16000, (i % 8000) / 16000
        tone = lambda h: math.sin(2 * math.pi * f * h * t)  # noqa: E731
        raw.append(math.exp(-3 * since) * (tone(1) + 0.5 * tone(2) + 0.25 * tone(3)))
    return scaled(raw, -25)


def scaled(raw, dbfs):
    rms = (sum(v * v for v in raw) / len(raw)) ** 0.5
    amp = 10 ** (dbfs / 20) * 32768 / rms
    return b"".join(struct.pack("<h", int(max(-32768, min(32767, v * amp)))) for v in raw)


def filler_files(d):
    """(label, path) of JFK twice with room tone, hiss or music between."""
    w = wave.open(os.path.join(SHARED, "corpus", "formats", "jfk_16000_mono_s16.wav"))
    jfk = w.readframes(w.getnframes())
    n = 16000 * 180
    out = []
    for label, between in [("room tone", room_tone(n)), ("hiss", hiss(n)), ("music", music(n))]:
        path = os.path.join(d, f"jfk_{label.replace(' ', '')}_jfk.wav")
        f = wave.open(path, "wb")
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(16000)
        f.writeframes(jfk + between + jfk)
        f.close()
        out.append((label, path))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--compare", choices=sorted(SETTINGS), required=True)
    p.add_argument("--model", default="base")
    p.add_argument("--sets", default="en_read,long,multilingual,en_misc")
    p.add_argument("--no-peer", action="store_true")
    p.add_argument("--fillers", action="store_true")
    a = p.parse_args()
    settings = SETTINGS[a.compare]
    rows = manifest()
    python = None
    if not a.no_peer:
        python = subprocess.run([os.path.join(SHARED, "peers", "setup.sh")],
                                capture_output=True, text=True, check=True).stdout.strip()
    model_dir = os.path.join(ROOT, "models", "ct2", a.model)
    x, y = settings[0][0], settings[1][0]
    print(f"set\tfiles\tWER ours {x} / {y}\tWER fw {x} / {y}\t"
          f"time ours {x} / {y} (s)\ttime fw {x} / {y} (s)\tour VAD share")
    for name in filter(None, a.sets.split(",")):
        files = sorted(f for f in rows if f.startswith(name + "/") and rows[f]["transcript"])
        paths = [os.path.join(SHARED, "corpus", f) for f in files]
        refs = {os.path.join(SHARED, "corpus", f): rows[f]["transcript"] for f in files}
        wers, times, fw_wers, fw_times, vad_share = [], [], [], [], 0.0
        for _, flags, kwargs in settings:
            texts, wall, vad_s = ours(a.model, paths, flags)
            wers.append(corpus_wer([(refs[f], texts.get(f, "")) for f in paths]))
            times.append(wall)
            vad_share = max(vad_share, vad_s / wall)
            if python is not None:
                texts, wall = peer(python, model_dir, paths, kwargs)
                fw_wers.append(corpus_wer([(refs[f], texts.get(f, "")) for f in paths]))
                fw_times.append(wall)
        pair = lambda v, fmt: " / ".join(fmt.format(x) for x in v) or "-"  # noqa: E731
        print("\t".join([name, str(len(files)), pair(wers, "{:.2f}"), pair(fw_wers, "{:.2f}"),
                         pair(times, "{:.1f}"), pair(fw_times, "{:.1f}"),
                         f"{100 * vad_share:.2f} %"]), flush=True)
    if a.fillers:
        reference = JFK_TEXT + " " + JFK_TEXT
        with tempfile.TemporaryDirectory() as d:
            files = filler_files(d)
            jfk = os.path.join(SHARED, "corpus", "formats", "jfk_16000_mono_s16.wav")
            for label, flags, kwargs in settings:
                # The speeches alone: the sentence's own transcription, twice (one file with
                # the sentence twice in a row decodes the repetition as a loop and falls back).
                alone = 2 * ours(a.model, [jfk], flags, in_process=True)[1]
                print(f"JFK alone, twice: ours, {label}: {alone:.2f} s", flush=True)
                for between, path in files:
                    texts, wall, vad_s = ours(a.model, [path], flags, in_process=True)
                    edits = round(wer(reference, texts[path]) * 0.44)
                    print(f"JFK, {between}, JFK: ours, {label}: {len(words(texts[path]))} "
                          f"words (44 spoken), {edits} edits, {wall:.2f} s "
                          f"({wall / alone:.2f}x the sentences alone, VAD {vad_s:.2f} s)",
                          flush=True)
                    if python is not None:
                        texts, wall = peer(python, model_dir, [path], kwargs)
                        edits = round(wer(reference, texts[path]) * 0.44)
                        print(f"JFK, {between}, JFK: faster-whisper, {label}: "
                              f"{len(words(texts[path]))} words, {edits} edits, "
                              f"{wall:.1f} s (load included)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
