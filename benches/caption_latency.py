#!/usr/bin/env python3
"""Live captioning, measured: each file is played through `whisper-spec caption --input FILE`
at real-time pace (the same pipeline as a microphone) with each model, and compared with the
offline transcript of the same file and with the corpus reference.

    python3 benches/caption_latency.py [--models base,tiny.en] [--simulated] [FILE...]

Default files: ../shared/corpus/long/*.flac. Prints one row per (model, file): commit latency
median and p90 (commit wall time minus the word's end in the audio), rewrites of shown text,
WER of the committed text against the offline transcript and against the reference (and the
offline transcript's own WER against the reference), draft acceptance, mean decode time.
Run it on an idle machine: decodes share the 2 cores with nothing else.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

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


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*")
    p.add_argument("--models", default="base,tiny.en")
    p.add_argument("--simulated", action="store_true",
                   help="--realtime=false: as fast as possible, latency simulated")
    p.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "whisper-spec"))
    p.add_argument("--extra", default="", help="more caption flags, space-separated")
    args = p.parse_args()
    files = args.files or sorted(glob.glob(os.path.join(SHARED, "corpus", "long", "*.flac")))
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
