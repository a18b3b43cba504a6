#!/usr/bin/env python3
"""`whisper-spec serve` under load: its overhead over `transcribe`, and a soak of concurrent clients.

1. Overhead: for each file (default: long/ljspeech_LJ001-0001_to_0032_concat.flac and jfk.flac),
   --runs times, alternating: (a) `whisper-spec transcribe -m MODEL -f json FILE --threads T` in a
   fresh process, timed by the JSON's `stats.wall_s` (audio decode + transcription in the process,
   model load excluded); (b) one request for the same file to one server started once with
   `serve -m MODEL --workers 1 --threads T`, timed on the client from just before
   `client.audio.transcriptions.create` to the full response (upload, queueing, HTTP, JSON
   included). Same decoding settings on both (the defaults). Before the runs the server gets
   --warmup untimed requests per file (a warm server; the first one's time is printed as
   "1st req"). Prints medians, server / transcribe and the overhead in %; every answer's `text` must
   equal transcribe's (else MISMATCH, exit 1).
2. Soak: one server with its defaults (`serve -m MODEL`: a worker per core, queue 16), --clients
   threads of the official openai client (max_retries=0, timeout 600 s) for --minutes; each client
   loops over the file list (a shared round robin: default en_read/ recursively plus jfk.flac) and
   checks each answer's text against that file's reference, which is the same server's answer
   to a request made alone, sequentially, before the clock starts. A 503 (queue full) counts as
   busy; any other failure, or a different text, as an error (first 5 printed, exit 1). The
   server's VmRSS is sampled every 5 s. Prints requests, audio hours, requests per minute, latency
   median / p90 / max, errors, busy, mismatches, RSS at the soak's start / max / end, and per
   minute of the soak: requests, median latency and RSS min-max (flat = bounded memory).

Usage: python3 benches/serve_load.py [--model base] [--threads 2] [--runs 3] [--warmup 1]
           [--overhead-files F ...] [--clients 8] [--minutes 10] [--files F|DIR ...]
           [--max-requests 100000] [--skip-overhead] [--skip-soak] [--json PATH]
Needs: cargo build --release (target/release/whisper-spec; --binary to change); the model (the
binary fetches catalog names by itself); a python with openai==3.63.0: --python, else
target/tmp/serve-clients-venv/bin/python (the tests make it), else ~/.cache/whisper-spec-bench/venv
(created here). The script re-runs itself under that python when its own lacks openai. An idle
machine for numbers worth keeping. The server only listens on 127.0.0.1 and is stopped at the end
whatever happens.
"""
import argparse
import collections
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("WHISPER_SPEC_SHARED", os.path.join(ROOT, "..", "shared"))
CORPUS = os.path.join(SHARED, "corpus")
OPENAI_PIN = "openai==3.63.0"
AUDIO_EXT = (".wav", ".flac")
REEXEC_ENV = "WHISPER_SPEC_SERVE_LOAD_REEXEC"

# The server is on 127.0.0.1: never through a proxy from the environment.
for _k in ("NO_PROXY", "no_proxy"):
    os.environ[_k] = ",".join(x for x in (os.environ.get(_k), "127.0.0.1", "localhost") if x)


def show(cmd):
    return " ".join(shlex.quote(c) for c in cmd)


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def pct(values, q):
    s = sorted(values)
    return s[int(q * (len(s) - 1))] if s else float("nan")


def med(values):
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------- the python with openai

def client_python(a):
    """A python that has openai: --python, the tests' venv, or our own venv (made once)."""
    if a.python:
        return a.python
    tests = os.path.join(ROOT, "target", "tmp", "serve-clients-venv", "bin", "python")
    if os.path.exists(tests):
        return tests
    venv = os.path.expanduser("~/.cache/whisper-spec-bench/venv")
    py = os.path.join(venv, "bin", "python")
    has = lambda: subprocess.run([py, "-c", "import openai"], capture_output=True).returncode == 0
    if os.path.exists(py) and has():
        return py
    print(f"creating {venv} with {OPENAI_PIN}", file=sys.stderr)
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", OPENAI_PIN],
                   check=True)
    return py


def ensure_openai(a):
    try:
        import openai  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get(REEXEC_ENV):
        sys.exit(f"{sys.executable} cannot import openai")
    py = client_python(a)
    os.environ[REEXEC_ENV] = "1"
    sys.stdout.flush()
    os.execv(py, [py, os.path.abspath(__file__)] + sys.argv[1:])


# ---------------------------------------------------------------- the server

def _die_with_parent():
    """In the child: SIGKILL when this script dies, even by SIGKILL (Linux)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Server:
    """`whisper-spec serve ... --host 127.0.0.1 --port 0`, up until the `with` ends."""

    def __init__(self, binary, args, start_timeout):
        self.cmd = [binary, "serve"] + args + ["--host", "127.0.0.1", "--port", "0"]
        self.start_timeout = start_timeout
        self.proc = None
        self.url = None
        self.banner = None
        self.log = collections.deque(maxlen=200)

    def __enter__(self):
        print(f"$ {show(self.cmd)}", flush=True)
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace",
                                     preexec_fn=_die_with_parent)
        up = threading.Event()

        def drain():  # reads stderr to the end, so the pipe never fills
            for line in self.proc.stderr:
                self.log.append(line.rstrip("\n"))
                m = re.search(r"http://(127\.0\.0\.1:\d+)/", line)
                if m and not up.is_set():
                    self.url, self.banner = f"http://{m.group(1)}", line.strip()
                    up.set()
            up.set()

        threading.Thread(target=drain, daemon=True).start()
        try:
            if not up.wait(self.start_timeout) or self.url is None:
                raise RuntimeError(f"the server did not start: {self.cmd}\n" + "\n".join(self.log))
        except BaseException:
            self.stop()
            raise
        print(f"  {self.banner}", flush=True)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def rss(self):
        return rss_mb(self.proc.pid) if self.alive() else None

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # its graceful shutdown
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __exit__(self, *exc):
        self.stop()
        return False


def make_client(server):
    import openai
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=600.0)


def request(client, path):
    """One transcription; (seconds from just before the call to the full answer, text)."""
    with open(path, "rb") as f:
        t0 = time.perf_counter()
        answer = client.audio.transcriptions.create(model="whisper-1", file=f)
        return time.perf_counter() - t0, answer.text


CLIENT_CALL = ("openai.OpenAI(base_url=URL+'/v1', max_retries=0, timeout=600)"
               ".audio.transcriptions.create(model='whisper-1', file=open(FILE, 'rb'))")


def audio_files(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            for d, _, names in sorted(os.walk(p)):
                out += [os.path.join(d, n) for n in sorted(names) if n.lower().endswith(AUDIO_EXT)]
        elif os.path.isfile(p):
            out.append(p)
        else:
            sys.exit(f"no such file: {p}")
    if not out:
        sys.exit(f"no audio files in {paths}")
    return out


# ---------------------------------------------------------------- 1. overhead

def overhead(a):
    files = audio_files(a.overhead_files)
    t = str(a.threads)
    runs = {f: {"transcribe_s": [], "transcribe_process_s": [], "server_s": [], "warmup_s": [],
                "audio_s": None, "text": None, "mismatches": []} for f in files}
    out = {"threads": a.threads, "runs": a.runs, "warmup": a.warmup, "files": runs}
    shown = set()

    def transcribe(f):
        cmd = [a.binary, "transcribe", "-m", a.model, "-f", "json", f, "--threads", t]
        if f not in shown:
            print(f"$ {show(cmd)}", flush=True)
            shown.add(f)
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"{show(cmd)} failed ({p.returncode}): {p.stderr[-2000:]}")
        doc = json.loads(p.stdout)
        r = runs[f]
        r["transcribe_s"].append(doc["stats"]["wall_s"])
        r["transcribe_process_s"].append(wall)
        r["audio_s"] = doc["duration_s"]
        texts[f].append(("transcribe", doc["text"]))

    texts = {f: [] for f in files}  # (who, text) of every answer, checked at the end
    with Server(a.binary, ["-m", a.model, "--workers", "1", "--threads", t], a.start_timeout) as srv:
        out["server_command"] = srv.cmd
        print(f"  client: {CLIENT_CALL}", flush=True)
        client = make_client(srv)
        for f in files:
            for _ in range(a.warmup):
                dt, text = request(client, f)
                runs[f]["warmup_s"].append(dt)
                texts[f].append(("server (warm-up)", text))
        for run in range(a.runs):
            for f in files:
                transcribe(f)
                dt, text = request(client, f)
                runs[f]["server_s"].append(dt)
                texts[f].append(("server", text))
            print(f"  run {run + 1}/{a.runs} done", flush=True)
        out["server_rss_mb"] = srv.rss()

    bad = 0
    for f in files:
        r = runs[f]
        r["text"] = next(text for who, text in texts[f] if who == "transcribe")
        for who, text in texts[f]:
            if text != r["text"]:
                bad += 1
                r["mismatches"].append({"who": who, "text": text})
                print(f"\n!!! MISMATCH !!! {f}: {who} answered\n    {text!r}\n  transcribe said\n"
                      f"    {r['text']!r}\n", flush=True)

    print(f"\noverhead: model {a.model}, {a.threads} threads; transcribe = stats.wall_s of a fresh "
          f"process (no model load), server = client wall time of one request (--workers 1); "
          f"medians of {a.runs} runs")
    print(f"{'file':44} {'audio s':>8} {'transcr s':>10} {'server s':>9} {'ratio':>6} "
          f"{'overhead':>9} {'1st req':>8} {'text':>5}")
    for f in files:
        r = runs[f]
        tr, sv = med(r["transcribe_s"]), med(r["server_s"])
        r["transcribe_median_s"], r["server_median_s"] = tr, sv
        r["ratio"] = sv / tr
        r["overhead_pct"] = 100.0 * (sv / tr - 1.0)
        first = f"{r['warmup_s'][0]:8.2f}" if r["warmup_s"] else f"{'-':>8}"
        print(f"{os.path.basename(f)[:44]:44} {r['audio_s']:8.1f} {tr:10.3f} {sv:9.3f} "
              f"{r['ratio']:6.3f} {r['overhead_pct']:+8.1f}% {first} "
              f"{'ok' if not r['mismatches'] else 'DIFF':>5}")
    out["mismatches"] = bad
    if bad:
        print(f"\n!!! MISMATCH: {bad} answers differ from transcribe's text !!!", flush=True)
    return out, bad == 0


# ---------------------------------------------------------------- 2. soak

def probe(a, files):
    cmd = [a.binary, "probe"] + files
    print(f"$ {show(cmd[:3] + (['...'] if len(files) > 1 else []))}  ({len(files)} files)", flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"probe failed ({p.returncode}): {(p.stdout + p.stderr)[-2000:]}")
    rows = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    return [r["duration_s"] for r in rows]


def soak(a):
    import openai
    files = audio_files(a.files)
    durations = probe(a, files)
    if len(durations) != len(files):
        raise RuntimeError(f"probe gave {len(durations)} durations for {len(files)} files")
    out = {"clients": a.clients, "minutes": a.minutes, "files": files, "durations_s": durations}
    samples = []  # (monotonic, MB)
    results = []  # dicts, appended under lock
    lock = threading.Lock()
    stop = threading.Event()

    with Server(a.binary, ["-m", a.model], a.start_timeout) as srv:
        out["server_command"] = srv.cmd
        out["server_banner"] = srv.banner
        print(f"  client: {CLIENT_CALL}", flush=True)

        def sampler():
            while not stop.is_set():
                r = srv.rss()
                if r is not None:
                    samples.append((time.monotonic(), r))
                stop.wait(5.0)

        threading.Thread(target=sampler, daemon=True).start()
        rss_loaded = srv.rss()

        print(f"references: {len(files)} files, one request at a time", flush=True)
        client = make_client(srv)
        refs = []
        for f in files:
            try:
                _, text = request(client, f)
            except Exception as e:
                raise RuntimeError(f"the reference request for {f} failed: {e}") from None
            refs.append(text)

        counter = [0]
        t0 = time.monotonic()
        deadline = t0 + a.minutes * 60.0
        rss_start = srv.rss()
        print(f"soak: {a.clients} clients for {a.minutes:g} min", flush=True)

        def worker():
            c = make_client(srv)
            while time.monotonic() < deadline and not stop.is_set() and srv.alive():
                with lock:
                    i = counter[0]
                    if i >= a.max_requests:
                        return
                    counter[0] += 1
                k = i % len(files)
                start = time.monotonic()
                row = {"file": k, "start": start - t0}
                try:
                    dt, text = request(c, files[k])
                    row["latency_s"] = dt
                    if text == refs[k]:
                        row["outcome"] = "ok"
                    else:
                        row["outcome"] = "mismatch"
                        row["error"] = f"{files[k]}: text differs: {text[:200]!r} vs {refs[k][:200]!r}"
                except openai.APIStatusError as e:
                    if e.status_code == 503:
                        row["outcome"] = "busy"
                    else:
                        row["outcome"] = "error"
                        row["error"] = f"{files[k]}: HTTP {e.status_code}: {str(e)[:300]}"
                except Exception as e:  # connection, timeout, anything
                    row["outcome"] = "error"
                    row["error"] = f"{files[k]}: {type(e).__name__}: {str(e)[:300]}"
                row["end"] = time.monotonic() - t0
                with lock:
                    results.append(row)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.clients)]
        for th in threads:
            th.start()
        for th in threads:  # a request started before the deadline may take up to its timeout
            th.join(max(0.0, deadline + 630.0 - time.monotonic()))
        hung = sum(th.is_alive() for th in threads)
        stop.set()
        t_end = time.monotonic()
        rss_end = srv.rss()
        server_died = not srv.alive()
        server_log = list(srv.log)

    with lock:
        rows = list(results)
    elapsed = t_end - t0
    answered = [r for r in rows if r["outcome"] in ("ok", "mismatch")]
    errors = [r for r in rows if r["outcome"] in ("error", "mismatch")]
    busy = sum(r["outcome"] == "busy" for r in rows)
    mismatches = sum(r["outcome"] == "mismatch" for r in rows)
    lat = [r["latency_s"] for r in answered]
    audio_h = sum(durations[r["file"]] for r in answered) / 3600.0
    soak_rss = [(t - t0, m) for t, m in samples if t >= t0]
    rss_max = max([m for _, m in soak_rss] + [x for x in (rss_start, rss_end) if x is not None],
                  default=float("nan"))

    fmt = lambda x: f"{x:.0f}" if x is not None else "-"
    print(f"\nsoak: model {a.model}, {srv.banner.split(' on ')[-1] if srv.banner else ''}")
    print(f"  {a.clients} clients, {elapsed / 60:.2f} min, {len(files)} files "
          f"({sum(durations) / 60:.1f} min of audio) in round robin")
    print(f"  requests done  {len(answered)} ({len(rows)} sent)")
    print(f"  audio          {audio_h:.3f} h ({audio_h * 3600 / elapsed:.2f} s of audio per s)")
    print(f"  requests/min   {len(answered) / (elapsed / 60):.1f}")
    print(f"  latency s      median {med(lat):.2f}  p90 {pct(lat, 0.9):.2f}  "
          f"max {max(lat) if lat else float('nan'):.2f}")
    print(f"  errors         {len(errors) - mismatches}")
    print(f"  busy (503)     {busy}")
    print(f"  mismatches     {mismatches}")
    print(f"  RSS MB         after load {fmt(rss_loaded)}, soak start {fmt(rss_start)}, "
          f"max {rss_max:.0f}, end {fmt(rss_end)}")
    print(f"{'minute':>6} {'requests':>8} {'lat med':>8} {'RSS min':>8} {'RSS max':>8}")
    per_minute = []
    for m in range(int(elapsed // 60) + 1):
        done = [r["latency_s"] for r in answered if m * 60 <= r["end"] < (m + 1) * 60]
        rs = [x for t, x in soak_rss if m * 60 <= t < (m + 1) * 60]
        per_minute.append({"minute": m + 1, "requests": len(done), "latency_median_s": med(done),
                           "rss_min_mb": min(rs, default=None), "rss_max_mb": max(rs, default=None)})
        print(f"{m + 1:6d} {len(done):8d} {med(done):8.2f} {fmt(min(rs, default=None)):>8} "
              f"{fmt(max(rs, default=None)):>8}")
    for r in errors[:5]:
        print(f"  ERROR: {r['error']}")
    if len(errors) > 5:
        print(f"  ... {len(errors) - 5} more errors")
    problems = []
    if hung:
        problems.append(f"{hung} clients still waiting at the end")
    if server_died:
        problems.append("the server exited during the soak:\n" + "\n".join(server_log[-30:]))
    for p in problems:
        print(f"  PROBLEM: {p}")
    ok = not errors and not problems
    out.update({
        "elapsed_s": elapsed, "sent": len(rows), "requests": len(answered), "audio_hours": audio_h,
        "requests_per_minute": len(answered) / (elapsed / 60), "latency_median_s": med(lat),
        "latency_p90_s": pct(lat, 0.9), "latency_max_s": max(lat) if lat else None,
        "errors": len(errors) - mismatches, "busy": busy, "mismatches": mismatches,
        "error_messages": [r["error"] for r in errors], "problems": problems,
        "rss_after_load_mb": rss_loaded, "rss_start_mb": rss_start, "rss_max_mb": rss_max,
        "rss_end_mb": rss_end, "per_minute": per_minute, "rss_samples": soak_rss,
        "references": refs, "results": rows,
    })
    return out, ok


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", "-m", default="base", help="catalog name, hub id or model dir")
    p.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "whisper-spec"))
    p.add_argument("--python", help="a python with openai (default: see Needs)")
    p.add_argument("--threads", type=int, default=2, help="overhead: --threads of both sides")
    p.add_argument("--runs", type=int, default=3, help="overhead: timed runs per file")
    p.add_argument("--warmup", type=int, default=1, help="overhead: untimed server requests per file")
    p.add_argument("--overhead-files", nargs="+", metavar="F",
                   default=[os.path.join(CORPUS, "long", "ljspeech_LJ001-0001_to_0032_concat.flac"),
                            os.path.join(CORPUS, "jfk.flac")])
    p.add_argument("--clients", type=int, default=8, help="soak: concurrent clients")
    p.add_argument("--minutes", type=float, default=10.0, help="soak: duration")
    p.add_argument("--files", nargs="+", metavar="F|DIR", help="soak: files or folders "
                   "(.wav/.flac inside, recursively); default: corpus/en_read/ and corpus/jfk.flac",
                   default=[os.path.join(CORPUS, "en_read"), os.path.join(CORPUS, "jfk.flac")])
    p.add_argument("--max-requests", type=int, default=100000, help="soak: at most this many sent")
    p.add_argument("--start-timeout", type=float, default=600.0,
                   help="seconds for the server to load the model and listen")
    p.add_argument("--skip-overhead", action="store_true")
    p.add_argument("--skip-soak", action="store_true")
    p.add_argument("--json", metavar="PATH", help="save every number here")
    a = p.parse_args()
    if not os.access(a.binary, os.X_OK):
        sys.exit(f"{a.binary} is missing: cargo build --release")
    ensure_openai(a)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the servers' `finally` runs

    out = {"model": a.model, "binary": a.binary, "python": sys.executable, "argv": sys.argv[1:]}
    ok = True
    try:
        if not a.skip_overhead:
            out["overhead"], good = overhead(a)
            ok &= good
        if not a.skip_soak:
            print()
            out["soak"], good = soak(a)
            ok &= good
    finally:
        out["ok"] = ok
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f, indent=1)
            print(f"saved {a.json}")
    if not ok:
        print("FAILED (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
