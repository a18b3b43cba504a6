#!/usr/bin/env python3
"""Batch throughput and memory: `whisper-spec batch` vs faster-whisper on the same weights.

1. Throughput: corpus en_read/ + long/ (51 files, 14.3 min), transcribed by `whisper-spec batch`
   (each --jobs setting asked for) and by ../shared/peers/faster_whisper_run.py (its files one after
   another, as a batch tool would), same settings: greedy, no temperature fallback, timestamps,
   English, same thread count. Runs alternate; medians of process wall time (model load included
   for both: a batch pays it once). Prints audio hours per wall hour and ours / theirs.
2. Memory: a tree of N files (copies repeating en_read/: links to one file would be transcribed
   once, as batch does with any file reached twice) through one `batch` run, the process's RSS
   sampled every 0.2 s against the number of files done (from the resume record): flat means the
   RSS after the first tenth of the files is the RSS at the end.

Usage: python3 benches/batch_throughput.py [--model base] [--runs 3] [--jobs 1,2] [--files 500]
                                          [--skip-throughput] [--skip-memory]
Needs: cargo build --release; models/fetch.sh; a peers venv (../shared/peers/setup.sh prints its python).
"""
import argparse, glob, json, os, shutil, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared")
OURS = os.path.join(ROOT, "target/release/whisper-spec")
SETTINGS = ["-l", "en", "--temperature-increment-on-fallback", "none", "--progress", "none"]


def timed(cmd, poll=None):
    """Runs cmd; returns (wall seconds, peak RSS MB from wait4, samples from poll(pid))."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples, done = [], threading.Event()
    if poll:
        def sampler():
            while not done.is_set():
                s = poll(proc.pid)
                if s:
                    samples.append(s)
                time.sleep(0.2)
        threading.Thread(target=sampler, daemon=True).start()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    wall = time.perf_counter() - t0
    if status not in (0,):
        sys.exit(f"{' '.join(cmd)} failed ({status}): {err.decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0, samples


def throughput(a, peer_py):
    files = sorted(glob.glob(os.path.join(SHARED, "corpus/en_read/*/*"))) + \
        sorted(glob.glob(os.path.join(SHARED, "corpus/long/*")))
    ct2 = os.path.join(ROOT, "models/ct2", a.model)
    theirs_cmd = [peer_py, os.path.join(SHARED, "peers/faster_whisper_run.py"), "--model-dir", ct2,
                  "--threads", str(a.threads), "--language", "en", "--timestamps"] + files
    jobs = [int(j) for j in a.jobs.split(",")]
    times = {f"ours -j {j}": [] for j in jobs}
    times["faster-whisper"] = []
    rss = {k: [] for k in times}
    audio_s = None
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(a.runs):
            for j in jobs:
                out = os.path.join(tmp, f"out{j}-{run}")
                threads = max(1, a.threads // j)
                w, r, _ = timed([OURS, "batch", "-m", a.model, "-j", str(j), "-t", str(threads),
                                 "-o", out] + SETTINGS + files)
                times[f"ours -j {j}"].append(w)
                rss[f"ours -j {j}"].append(r)
                audio_s = json.load(open(os.path.join(out, "report.json")))["audio_hours"] * 3600
            w, r, _ = timed(theirs_cmd)
            times["faster-whisper"].append(w)
            rss["faster-whisper"].append(r)
    theirs = statistics.median(times["faster-whisper"])
    print(f"throughput: {len(files)} files, {audio_s / 60:.1f} min of audio, model {a.model}, "
          f"{a.threads} threads, median of {a.runs} runs (model load included)")
    print(f"{'':18} {'wall s':>8} {'audio h / wall h':>17} {'vs faster-whisper':>18} {'peak RSS MB':>12}")
    result = {}
    for k, ts in times.items():
        m = statistics.median(ts)
        result[k] = {"wall_s": m, "speed": audio_s / m, "rss_mb": max(rss[k])}
        print(f"{k:18} {m:8.1f} {audio_s / m:17.1f} {theirs / m:17.2f}x {max(rss[k]):12.0f}")
    return result


def memory(a):
    sources = sorted(glob.glob(os.path.join(SHARED, "corpus/en_read/*/*")))
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "in")
        for i in range(a.files):
            d = os.path.join(tree, f"show{i // 100:02d}")
            os.makedirs(d, exist_ok=True)
            src = sources[i % len(sources)]
            shutil.copyfile(src, os.path.join(d, f"ep{i:04d}{os.path.splitext(src)[1]}"))
        out = os.path.join(tmp, "out")
        state = os.path.join(out, ".whisper-spec-batch.jsonl")

        def poll(pid):
            try:
                with open(f"/proc/{pid}/status") as f:
                    kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
                with open(state) as f:
                    done = sum(1 for _ in f)
            except (OSError, StopIteration):
                return None
            return done, kb / 1024.0

        wall, peak, samples = timed([OURS, "batch", "-m", a.model, "-o", out] + SETTINGS + [tree], poll)
        report = json.load(open(os.path.join(out, "report.json")))
    print(f"memory: {a.files} files ({report['audio_hours']:.2f} h of audio) in {wall:.0f} s, "
          f"{report['ok']} ok, {report['failed']} failed; peak RSS {peak:.0f} MB")
    marks = [a.files // 10, a.files // 4, a.files // 2, 3 * a.files // 4, a.files - 1]
    print(f"{'files done':>10} {'max RSS MB so far':>18}")
    for m in marks:
        upto = [r for d, r in samples if d <= m]
        if upto:
            print(f"{m:10} {max(upto):18.0f}")
    first = max((r for d, r in samples if d <= a.files // 10), default=0)
    print(f"RSS growth after the first tenth: {peak - first:+.0f} MB")
    return {"files": a.files, "peak_rss_mb": peak, "rss_first_tenth_mb": first, "wall_s": wall}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="base")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--jobs", default="1,2")
    p.add_argument("--files", type=int, default=500)
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    a = p.parse_args()
    out = {}
    if not a.skip_throughput:
        peer_py = subprocess.run(["bash", os.path.join(SHARED, "peers/setup.sh")],
                                 capture_output=True, text=True, check=True).stdout.strip()
        out["throughput"] = throughput(a, peer_py)
    if not a.skip_memory:
        out["memory"] = memory(a)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
