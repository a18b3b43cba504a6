#!/usr/bin/env python3
"""Live captioning, measured: each file is played through `whisper-spec caption --input FILE`
at real-time pace (the same pipeline as a microphone) with each model, and compared with the
offline transcript of the same file and with the corpus reference.

    python3 benches/caption_latency.py [--models base,tiny.en] [--simulated]
        [--telephone DBFS] [FILE...]

Default files: ../shared/corpus/long/*.flac. Prints one row per (model, file): commit latency
median and p90 (commit wall time minus the word's end in the audio), rewrites of shown text,
WER of the committed text against the offline transcript and against the reference (and the
offline transcript's own WER against the reference), draft acceptance, mean decode time.
`--telephone -45` plays each (16-bit WAV) file as telephone audio instead: band-limited and
sampled at 8 kHz, with white hiss at -45 dBFS added (written to a temporary folder under the
same name, so the corpus reference still applies), e.g. for spontaneous speech at telephone
rate: `--telephone -45 ../shared/corpus/en_misc/picovoice_diarization_3spk.wav`.
Run it on an idle machine: decodes share the 2 cores with nothing else.
"""
import argparse
import glob
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("WHISPER_SPEC_SHARED", os.path.join(ROOT, "..", "shared"))


def words(text):
    """The tests' normaliser (src/text/wer.rs): lower case, punctuation dropped."""
    out = []
    for w in re.sub("[-\u2014\u2013]", " ", text.lower()).split():
        w = "".join(c for c in w if c.isalnum() or c == "'").strip("'")
        if w:
            out.append({"mr": "mister", "mrs": "missus", "dr": "doctor"}.get(w, w))
    return out


def wer(reference, hypothesis):
    r, h = words(reference), words(hypothesis)
    prev = list(range(len(h) + 1))
    for i, a in enumerate(r):
        cur = [i + 1] + [0] * len(h)
        for j, b in enumerate(h):
            cur[j + 1] = min(prev[j] + (a != b), prev[j + 1] + 1, cur[j] + 1)
        prev = cur
    return 100.0 * prev[-1] / max(1, len(r))


def references():
    refs = {}
    with open(os.path.join(SHARED, "corpus", "manifest.tsv"), encoding="utf-8") as f:
        for row in f.read().splitlines()[1:]:
            c = row.split("\t")
            if "APPROXIMATE" not in c[9] and "UNVERIFIED" not in c[9]:
                refs[os.path.basename(c[0])] = c[8]
    return refs


def telephone(path, out_dir, hiss_dbfs):
    """`path` (16-bit WAV) as 8 kHz telephone audio with white hiss at `hiss_dbfs`: a
    windowed-sinc low-pass at 3.4 kHz, every other sample of 16 kHz kept (other rates are
    refused), then the hiss (fixed seed)."""
    w = wave.open(path)
    if w.getsampwidth() != 2 or w.getframerate() != 16000:
        sys.exit(f"--telephone needs 16-bit 16 kHz WAV files: {path}")
    ch = w.getnchannels()
    raw = struct.unpack(f"<{w.getnframes() * ch}h", w.readframes(w.getnframes()))
    x = [sum(raw[i:i + ch]) / ch / 32768.0 for i in range(0, len(raw), ch)]
    taps, cut = 63, 3400.0 / 16000.0
    h = []
    for n in range(taps):
        m = n - taps // 2
        sinc = 2 * cut if m == 0 else math.sin(2 * math.pi * cut * m) / (math.pi * m)
        h.append(sinc * (0.54 - 0.46 * math.cos(2 * math.pi * n / (taps - 1))))
    rng = random.Random(1)
    level = 10 ** (hiss_dbfs / 20)
    y = []
    for i in range(0, len(x), 2):
        acc = sum(h[k] * x[i + k - taps // 2] for k in range(taps) if 0 <= i + k - taps // 2 < len(x))
        y.append(max(-1.0, min(1.0, acc + rng.gauss(0, level))))
    out = os.path.join(out_dir, os.path.basename(path))
    o = wave.open(out, "wb")
    o.setnchannels(1)
    o.setsampwidth(2)
    o.setframerate(8000)
    o.writeframes(b"".join(struct.pack("<h", int(v * 32767)) for v in y))
    o.close()
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*")
    p.add_argument("--models", default="base,tiny.en")
    p.add_argument("--simulated", action="store_true",
                   help="--realtime=false: as fast as possible, latency simulated")
    p.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "whisper-spec"))
    p.add_argument("--extra", default="", help="more caption flags, space-separated")
    p.add_argument("--telephone", type=float, metavar="DBFS",
                   help="play each file as 8 kHz telephone audio with hiss at this level")
    args = p.parse_args()
    files = args.files or sorted(glob.glob(os.path.join(SHARED, "corpus", "long", "*.flac")))
    if args.telephone is not None:
        out_dir = tempfile.mkdtemp(prefix="telephone-")
        files = [telephone(f, out_dir, args.telephone) for f in files]
    refs = references()
    print(f"{'model':8} {'file':34} {'audio s':>7} {'lat med':>7} {'lat p90':>7} {'rewrites':>8} "
          f"{'WER/off':>7} {'WER live':>8} {'WER off':>7} {'accept':>6} {'decode s':>8}")
    for model in args.models.split(","):
        for path in files:
            cmd = [args.binary, "caption", "-m", model, "--input", path, "--json",
                   "--compare-offline", "--realtime=" + ("false" if args.simulated else "true")]
            cmd += args.extra.split()
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{model} {path}: failed: {out.stderr.strip()[-500:]}", file=sys.stderr)
                continue
            v = json.loads(out.stdout.strip().splitlines()[-1])
            s = v["stats"]
            ref = refs.get(os.path.basename(path))
            live_ref = f"{wer(ref, v['text']):8.2f}" if ref else f"{'-':>8}"
            off_ref = f"{wer(ref, v['offline_text']):7.2f}" if ref else f"{'-':>7}"
            print(f"{model:8} {os.path.basename(path)[:34]:34} {s['audio_s']:7.1f} "
                  f"{s['latency_median_s']:7.2f} {s['latency_p90_s']:7.2f} {s['rewrites']:8d} "
                  f"{s['wer_vs_offline']:7.2f} {live_ref} {off_ref} "
                  f"{s['acceptance_rate']:6.2f} {s['mean_decode_s']:8.3f}", flush=True)


if __name__ == "__main__":
    main()
