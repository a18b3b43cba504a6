#!/usr/bin/env python3
"""Word timestamps: whisper-spec vs faster-whisper (word_timestamps=True) on the same weights.

Runs ../shared/peers/faster_whisper_run.py (greedy, timestamps, no VAD) and our CLI with
--word-timestamps (greedy, no fallback, like for like) on the same files, matches the words of
each file in order (difflib on lower-cased words), and prints the median and 90th percentile of
|start difference| and |end difference| over the matched words, and how many matched.

Usage: python3 benches/word_timestamps_vs_faster_whisper.py [--model base] [--limit 25] [FILE...]
(default files: jfk and the first --limit en_read files). Needs: cargo build --release;
models/fetch.sh; the peers venv (../shared/peers/setup.sh prints its python).
"""
import argparse, difflib, glob, json, os, statistics, subprocess, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared")


def stem(path):
    return os.path.basename(path).rsplit(".", 1)[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="base")
    p.add_argument("--limit", type=int, default=25)
    p.add_argument("files", nargs="*")
    a = p.parse_args()
    files = a.files or [os.path.join(SHARED, "corpus/jfk.flac")] + sorted(
        f for f in glob.glob(os.path.join(SHARED, "corpus/en_read/**/*"), recursive=True)
        if f.endswith((".flac", ".wav")))[: a.limit]
    peer_py = subprocess.run(["bash", os.path.join(SHARED, "peers/setup.sh")],
                             capture_output=True, text=True, check=True).stdout.strip()
    out = subprocess.run([peer_py, os.path.join(SHARED, "peers/faster_whisper_run.py"), "--model-dir",
                          os.path.join(ROOT, "models/ct2", a.model), "--language", "en", "--timestamps",
                          "--word-timestamps", *files], capture_output=True, text=True, check=True).stdout
    theirs = {}
    for line in out.splitlines():
        v = json.loads(line)
        theirs[stem(v["file"])] = [w for s in v["segments"] for w in s["words"]]
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([os.path.join(ROOT, "target/release/whisper-spec"), "transcribe", "-m", a.model,
                        "-l", "en", "--word-timestamps", "--temperature-increment-on-fallback", "none",
                        "-f", "json", "-o", d, *files], capture_output=True, check=True)
        ours = {stem(f): [w for s in json.load(open(os.path.join(d, f)))["segments"] for w in s.get("words", [])]
                for f in os.listdir(d)}
    ds, de, total = [], [], 0
    for k, tw in theirs.items():
        ow = ours.get(k, [])
        key = lambda ws: [w["word"].strip().lower() for w in ws]
        total += len(tw)
        for blk in difflib.SequenceMatcher(a=key(ow), b=key(tw), autojunk=False).get_matching_blocks():
            for i in range(blk.size):
                o, t = ow[blk.a + i], tw[blk.b + i]
                ds.append(abs(o["start"] - t["start"]))
                de.append(abs(o["end"] - t["end"]))
    q90 = lambda xs: sorted(xs)[int(0.9 * len(xs))]
    print(f"{a.model}: {len(theirs)} files, {len(ds)} of {total} faster-whisper words matched; "
          f"|start| median {statistics.median(ds):.3f} s, p90 {q90(ds):.3f} s; "
          f"|end| median {statistics.median(de):.3f} s, p90 {q90(de):.3f} s")


if __name__ == "__main__":
    main()
