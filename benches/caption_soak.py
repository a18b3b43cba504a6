#!/usr/bin/env python3
"""Live captions over a long session: a corpus file looped to MINUTES of audio is fed to
`whisper-spec caption --input ... --realtime` (the microphone's pipeline at real-time pace), and
every few minutes of the session the resident memory and the caption lines' latency are read,
so memory growth and latency drift show.

    python3 benches/caption_soak.py [--minutes 30] [--model base] [--every 5] [FILE]

FILE defaults to ../shared/corpus/long/ljspeech_LJ001-0001_to_0032_concat.flac. A line's
latency is the wall time since the process started when the line was written to the caption
file (each line is flushed as it is committed) minus the session time its audio ends; it
includes the model's load time, the same in every period, so compare periods with each other
(the per-word latency of the whole session, from the caption's own report, is printed last). Prints one row per period: lines, median
and p90 line latency, and resident memory (VmRSS) at the end of the period; then the peak.
Needs an idle machine: the session runs the model on the cores in real time.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("WHISPER_SPEC_SHARED", os.path.join(ROOT, "..", "shared"))
RATE = 16000


def pcm16(source):
    """16 kHz mono 16-bit samples of `source` (WAV as is; other formats through the
    faster-whisper venv's decoder, which ../shared/peers/setup.sh installs)."""
    if source.lower().endswith(".wav"):
        with wave.open(source) as w:
            if w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2:
                return w.readframes(w.getnframes())
    python = os.environ.get("WHISPER_SPEC_PEER_PYTHON",
                            os.path.expanduser("~/.cache/whisper-peers/venv/bin/python"))
    code = ("import sys, numpy as np; from faster_whisper import decode_audio; "
            "a = decode_audio(sys.argv[1], sampling_rate=16000); "
            "sys.stdout.buffer.write((np.clip(a, -1, 1) * 32767).astype('<i2').tobytes())")
    return subprocess.run([python, "-c", code, source], capture_output=True, check=True).stdout


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("file", nargs="?",
                   default=os.path.join(SHARED, "corpus", "long",
                                        "ljspeech_LJ001-0001_to_0032_concat.flac"))
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--every", type=float, default=5.0, help="minutes per reported period")
    p.add_argument("--model", default="base")
    p.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "whisper-spec"))
    args = p.parse_args()

    once = pcm16(args.file)
    total = int(args.minutes * 60 * RATE) * 2
    with tempfile.TemporaryDirectory() as tmp:
        audio = os.path.join(tmp, "soak.wav")
        with wave.open(audio, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            written = 0
            while written < total:
                chunk = once[: total - written]
                w.writeframes(chunk)
                written += len(chunk)
        lines_path = os.path.join(tmp, "live.jsonl")
        cmd = [args.binary, "caption", "-m", args.model, "--input", audio, "--realtime",
               "--json", "-o", lines_path]
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen, latencies, periods, peak = 0, [], [], 0.0
        period_s = args.every * 60
        next_report = period_s
        while True:
            done = proc.poll() is not None
            now = time.monotonic() - started
            rss = rss_mb(proc.pid)
            if rss is not None:
                peak = max(peak, rss)
            if os.path.exists(lines_path):
                with open(lines_path, encoding="utf-8") as f:
                    rows = f.read().splitlines()
                for row in rows[seen:]:
                    line = json.loads(row)
                    latencies.append((now, now - line["end"]))
                seen = len(rows)
            if now >= next_report or done:
                recent = [lat for at, lat in latencies if at > next_report - period_s]
                periods.append((next_report / 60, len(recent), recent, rss))
                next_report += period_s
            if done:
                break
            time.sleep(0.2)
        out, err = proc.communicate()
        if proc.returncode != 0:
            print(f"caption failed ({proc.returncode}): {err[-2000:]}", file=sys.stderr)
            return 1
        summary = json.loads(out.strip().splitlines()[-1])["stats"]

    print(f"{args.model}, {args.minutes:g} min of {os.path.basename(args.file)} looped, real time")
    print(f"{'minute':>6} {'lines':>6} {'lat med':>8} {'lat p90':>8} {'RSS MB':>8}")
    for minute, n, recent, rss in periods:
        med = statistics.median(recent) if recent else float("nan")
        p90 = sorted(recent)[int(0.9 * (len(recent) - 1))] if recent else float("nan")
        rss_s = f"{rss:8.0f}" if rss is not None else f"{'-':>8}"
        print(f"{minute:6.1f} {n:6d} {med:8.2f} {p90:8.2f} {rss_s}")
    print(f"peak RSS {peak:.0f} MB; word latency median {summary['latency_median_s']:.2f} s, "
          f"p90 {summary['latency_p90_s']:.2f} s; {summary['decodes']} decodes, "
          f"{summary.get('dropped_s', 0):.1f} s of audio dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
