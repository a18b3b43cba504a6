#!/usr/bin/env python3
"""Side-by-side end-to-end timing: whisper-spec vs faster-whisper on the same weights.

For each model (tiny.en, base) and input file, runs our CLI and ../shared/peers/faster_whisper_run.py
(the CTranslate2 copy in models/ct2/NAME, float32, same thread count, greedy, no VAD), alternating
the two `--runs` times, and prints the median in-process wall time per file (model load excluded:
both tools report it), the ratio ours / theirs, the real-time factor, the peak RSS of each process
(from wait4), and whether the texts agree.

Usage: python3 benches/vs_faster_whisper.py [--runs 3] [--threads 2] [--models tiny.en,base] [FILE...]
Needs: cargo build --release; models/fetch.sh; a peers venv (../shared/peers/setup.sh prints its python).
"""
import argparse, json, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared")
DEFAULT_FILES = ["corpus/jfk.flac", "corpus/long/ljspeech_LJ001-0001_to_0032_concat.flac"]


def run_measured(cmd, env=None):
    """Runs cmd; returns (stdout, peak RSS in MB of that process alone, from wait4)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    chunks = []
    while True:
        data = proc.stdout.read(65536)
        if not data:
            break
        chunks.append(data)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed with status {status}")
    return b"".join(chunks).decode(), usage.ru_maxrss / 1024.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", default="tiny.en,base")
    p.add_argument("--timestamps", action="store_true")
    p.add_argument("files", nargs="*")
    a = p.parse_args()
    files = a.files or [os.path.join(SHARED, f) for f in DEFAULT_FILES]
    peer_py = subprocess.run(["bash", os.path.join(SHARED, "peers/setup.sh")],
                             capture_output=True, text=True, check=True).stdout.strip()
    ours_bin = os.path.join(ROOT, "target/release/whisper-spec")
    print(f"{'model':8} {'file':44} {'ours s':>8} {'theirs s':>8} {'ratio':>6} "
          f"{'RTF ours':>8} {'RSS ours':>9} {'RSS theirs':>10} same-text")
    for model in a.models.split(","):
        ct2 = os.path.join(ROOT, "models/ct2", model)
        for f in files:
            ours_t, theirs_t, ours_rss, theirs_rss = [], [], [], []
            ours_text = theirs_text = None
            for _ in range(a.runs):
                # Like for like: the peers script decodes greedily without temperature fallback.
                cmd = [ours_bin, "transcribe", "-m", model, "-l", "en", "-f", "json", "-t", str(a.threads),
                       "--temperature-increment-on-fallback", "none", f]
                if not a.timestamps:
                    cmd.insert(2, "--no-timestamps")
                out, rss = run_measured(cmd)
                j = json.loads(out.strip().splitlines()[-1])
                ours_t.append(j["stats"]["wall_s"]); ours_rss.append(rss); ours_text = j["text"]
                duration = j["duration_s"]
                cmd = [peer_py, os.path.join(SHARED, "peers/faster_whisper_run.py"), "--model-dir", ct2,
                       "--compute-type", "float32", "--threads", str(a.threads), "--language", "en", f]
                if a.timestamps:
                    cmd.append("--timestamps")
                out, rss = run_measured(cmd)
                j = json.loads(out.strip().splitlines()[-1])
                theirs_t.append(j["wall_s"]); theirs_rss.append(rss); theirs_text = j["text"]
            o, t = statistics.median(ours_t), statistics.median(theirs_t)
            same = " ".join(ours_text.split()) == " ".join(theirs_text.split())
            print(f"{model:8} {os.path.basename(f)[:44]:44} {o:8.2f} {t:8.2f} {o / t:6.2f} "
                  f"{o / duration:8.3f} {max(ours_rss):8.0f}M {max(theirs_rss):9.0f}M {same}")


if __name__ == "__main__":
    main()
