#!/usr/bin/env bash
# A real Slurm array job on this one machine: `whisper-spec batch` sharded over 3 array tasks
# that share one output folder, then the outputs and `whisper-spec report --json` are checked.
#
# Installs slurm-wlm and munge from Debian if missing, starts a throwaway one-node cluster on
# localhost (its own munged socket, slurm.conf, state, spool and logs in a temp dir, free ports)
# and stops it and removes the temp dir on exit, whatever happens. Root, no slurmdbd.
#
# Settings (environment, or KEY=VALUE arguments):
#   BIN      whisper-spec binary        [REPO/target/release/whisper-spec]
#   MODEL    model for every task       [tiny.en]
#   CORPUS   read-only speech corpus    [REPO/../shared/corpus/en_read]
#   TIMEOUT  seconds the array may take [900]
#   STANDIN  1: self-check of the cluster alone; each task prints `shard K/N` and its
#            SLURM_ARRAY_* variables instead of running the binary (no model, no outputs)
#   KEEP     1: keep the temp dir (logs, outputs) and print its path
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
for arg in "$@"; do
  case $arg in
    BIN=* | MODEL=* | CORPUS=* | TIMEOUT=* | STANDIN=* | KEEP=*) export "${arg?}" ;;
    *) echo "usage: $0 [BIN=...] [MODEL=...] [CORPUS=...] [TIMEOUT=s] [STANDIN=1] [KEEP=1]" >&2; exit 2 ;;
  esac
done
BIN=$(realpath -m "${BIN:-$repo/target/release/whisper-spec}")
MODEL=${MODEL:-tiny.en}
CORPUS=$(realpath -m "${CORPUS:-$repo/../shared/corpus/en_read}")
TIMEOUT=${TIMEOUT:-900}
STANDIN=${STANDIN:-0}
KEEP=${KEEP:-0}
TASKS=3
# Nothing of a surrounding Slurm job (CI may run in one) may steer ours.
while read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(SLURM|SBATCH|SQUEUE|SINFO|SCANCEL|SCONTROL)_' || true)
t_start=$(date +%s.%N)
say() { echo "[slurm] $*"; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }

# ---- 1. packages -------------------------------------------------------------------------
need=()
for pkg in slurm-wlm munge; do
  [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || need+=("$pkg")
done
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ---- 2. a one-node cluster in a temp dir --------------------------------------------------
tmp=$(mktemp -d /tmp/whisper-spec-slurm.XXXXXX)
chmod 711 "$tmp" # munged wants every folder above its socket searchable
mkdir -p "$tmp"/{munge,state,spool,run,log,logs}
chmod 755 "$tmp/munge"
pids=() # daemons we started, stopped in reverse order
jobid=""

stop_pid() { # TERM, up to 10 s, then KILL
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$? i pid env
  set +e
  trap - EXIT INT TERM
  if [ -n "$jobid" ]; then # let the steps end while slurmd is there (slurmstepd outlives it)
    timeout 10 scancel "$jobid" 2>/dev/null
    local end=$(($(date +%s) + 30))
    while [ "$(date +%s)" -lt "$end" ]; do
      timeout 5 squeue -h -j "$jobid" -t PD,R,CG,CF,S 2>/dev/null | grep -q . || break
      sleep 1
    done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  # Should slurmctld have died mid-run, the steps live on (slurmstepd retries for long): every
  # process started by this cluster has our SLURM_CONF in its environment.
  unset SLURM_CONF
  for env in /proc/[0-9]*/environ; do
    pid=${env#/proc/}; pid=${pid%/environ}
    [ "$pid" != $$ ] && tr '\0' '\n' 2>/dev/null <"$env" | grep -qxF "SLURM_CONF=$tmp/slurm.conf" &&
      kill -KILL "$pid" 2>/dev/null
  done
  if [ "$KEEP" = 1 ]; then say "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_logs() {
  local f
  for f in "$tmp"/log/*.log "$tmp"/log/*.err "$tmp"/logs/*; do
    [ -f "$f" ] || continue
    echo "----- $f (last 60 lines)"
    tail -n 60 "$f"
  done
}
die() {
  echo "[slurm] FAILED: $*" >&2
  show_logs >&2
  exit 1
}

# munged on a private socket with a fresh key: nothing on the machine is touched.
sock=$tmp/munge/munge.socket
if command -v mungekey >/dev/null; then
  mungekey --create --keyfile="$tmp/munge/munge.key"
else
  dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 400 "$tmp/munge/munge.key"
munged --foreground --force --socket="$sock" --key-file="$tmp/munge/munge.key" \
  --log-file="$tmp/log/munged.log" --pid-file="$tmp/run/munged.pid" \
  --seed-file="$tmp/munge/munged.seed" >>"$tmp/log/munged.log" 2>&1 &
pids+=($!)
for i in $(seq 100); do
  munge -n --socket="$sock" 2>/dev/null | unmunge --socket="$sock" >/dev/null 2>&1 && break
  [ "$i" = 100 ] && die "munged did not answer in 20 s"
  sleep 0.2
done

host=$(hostname -s)
ncpu=$(nproc)
mem=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
mem=$((mem / 2 < 2048 ? mem / 2 : 2048))
read -r port_ctld port_d < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))')
export SLURM_CONF=$tmp/slurm.conf
# Slurm 22.05. The daemons run in the foreground (-D) and, with no log file set, log to stderr,
# which goes to $tmp/log. Three 1-CPU tasks share the node's cores however many it has
# (OverSubscribe=FORCE, no gang scheduling: they simply run side by side); config_overrides
# keeps the node up should the CPUs/memory given here differ from what slurmd detects.
cat >"$SLURM_CONF" <<EOF
ClusterName=wspec
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port_ctld
SlurmdPort=$port_d
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd.pid
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$tmp/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$ncpu RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:$TASKS
EOF
: >"$tmp/plugstack.conf"

slurmctld -D -c -f "$SLURM_CONF" >>"$tmp/log/slurmctld.log" 2>&1 &
pids+=($!)
slurmd -D -N "$host" -f "$SLURM_CONF" >>"$tmp/log/slurmd.log" 2>&1 &
pids+=($!)
state=""
for i in $(seq 60); do
  state=$(timeout 5 sinfo -h -n "$host" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || die "a daemon exited (pid $pid)"; done
  [ "$i" = 60 ] && die "node not idle after 60 s (state: '${state:-none}')"
  sleep 1
done
say "cluster up in $(elapsed "$t_start") s: node $host, $ncpu CPUs, ports $port_ctld/$port_d, $tmp"

# ---- 3. inputs ------------------------------------------------------------------------------
input=$tmp/input
out=$tmp/out
mkdir -p "$input"
# 9 short read-speech files (flac and wav, 16 and 22.05 kHz, 69 s in all) in three folders.
good=(
  librispeech/1089-134686-0000.flac
  librispeech/1089-134691-0001.flac
  librispeech/1995-1837-0001.wav
  librispeech/2412-153948-0000.flac
  librivox/sense_and_sensibility_01_austen_64kb-0870.wav
  librivox/sense_and_sensibility_01_austen_64kb-0890.wav
  librivox/sense_and_sensibility_01_austen_64kb-0920.wav
  ljspeech/LJ001-0001.wav
  ljspeech/LJ001-0004.wav
)
trunc_src=librispeech/1089-134686-0001.flac
if [ "$STANDIN" != 1 ]; then
  [ -x "$BIN" ] || die "no binary at $BIN (build it first: cargo build --release)"
  for f in "${good[@]}" "$trunc_src"; do
    [ -f "$CORPUS/$f" ] || die "missing corpus file $CORPUS/$f"
  done
  for f in "${good[@]}"; do # copies: a directory walk need not follow symlinks
    mkdir -p "$input/$(dirname "$f")"
    cp "$CORPUS/$f" "$input/$f"
  done
  # Not audio at all (text, so no byte pattern can pass for a frame sync): must fail.
  for i in $(seq 200); do echo "this is not a flac file, line $i"; done >"$input/bad.flac"
  # A real flac cut to its first 30 %: may decode with a warning or fail, either is fine.
  size=$(stat -c %s "$CORPUS/$trunc_src")
  head -c $((size * 30 / 100)) "$CORPUS/$trunc_src" >"$input/truncated.flac"
  audio_s=$(cd "$input" && python3 - "${good[@]}" <<'EOF'
import sys, wave
total = 0.0
for f in sys.argv[1:]:
    if f.endswith(".wav"):
        with wave.open(f) as w:
            total += w.getnframes() / w.getframerate()
    else:  # flac STREAMINFO: 20-bit rate, then 36-bit total samples
        b = open(f, "rb").read(42)
        assert b[:4] == b"fLaC", f
        x = int.from_bytes(b[18:26], "big")
        total += (x & ((1 << 36) - 1)) / (x >> 44)
print(f"{total:.1f}")
EOF
)
  say "inputs: ${#good[@]} files, $audio_s s of audio, + bad.flac, truncated.flac"
  t=$(date +%s.%N)
  "$BIN" models fetch "$MODEL" >"$tmp/log/models-fetch.log" 2>&1 || die "models fetch $MODEL failed: $(cat "$tmp/log/models-fetch.log")"
  say "models fetch $MODEL: $(elapsed "$t") s"
fi

# ---- 4. the array job -----------------------------------------------------------------------
q() { printf '%q' "$1"; }
cat >"$tmp/task.sh" <<EOF
#!/usr/bin/env bash
set -u
t0=\$(date +%s.%N)
echo "@@ task \$SLURM_ARRAY_TASK_ID start \$t0 on \$(hostname -s)"
if [ $(q "$STANDIN") = 1 ]; then
  echo "shard \$((SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN))/\$SLURM_ARRAY_TASK_COUNT" >&2
  env | grep '^SLURM_ARRAY' | sort
  sleep 3
  rc=0
else
  $(q "$BIN") batch $(q "$input") -o $(q "$out") -m $(q "$MODEL") -l en --progress plain \\
    -f txt,json --jobs 1 --threads 1
  rc=\$?
fi
echo "@@ task \$SLURM_ARRAY_TASK_ID end \$(date +%s.%N) rc \$rc"
exit \$rc
EOF
chmod +x "$tmp/task.sh"

t_submit=$(date +%s.%N)
jobid=$(sbatch --parsable --array=0-$((TASKS - 1)) --cpus-per-task=1 --time=30 \
  --job-name=whisper-spec-array --chdir="$tmp" --output="$tmp/logs/task-%a.log" \
  "$tmp/task.sh") || die "sbatch failed"
jobid=${jobid%%;*}
say "submitted array job $jobid ($TASKS tasks)"
deadline=$(($(date +%s) + TIMEOUT))
while :; do
  left=$(timeout 10 squeue -h -j "$jobid" -t PD,R,CG,CF,S -o '%i %T' 2>&1) || {
    rc=$?
    case $left in *"Invalid job id"*) break ;; esac
    die "squeue failed (exit $rc): $left"
  }
  [ -z "$left" ] && break
  [ "$(date +%s)" -ge "$deadline" ] && die "array job $jobid not done after $TIMEOUT s: $left"
  sleep 1
done
t_done=$(date +%s.%N)
say "array job $jobid done in $(elapsed "$t_submit") s"

# ---- 5. checks ----------------------------------------------------------------------------
# Per task: Slurm's state and exit code (scontrol keeps finished jobs for MinJobAge), and the
# wall time the task script logged.
scontrol -o show job "$jobid" >"$tmp/log/scontrol-job.txt" 2>&1 || true
report_rc=0
if [ "$STANDIN" != 1 ]; then
  "$BIN" report "$out" --json >"$tmp/report.json" 2>"$tmp/log/report.err" || report_rc=$?
fi
export WS_TMP=$tmp WS_OUT=$out WS_TASKS=$TASKS WS_STANDIN=$STANDIN WS_REPORT_RC=$report_rc
if ! python3 - "${good[@]}" <<'EOF'; then
import json, os, re, sys
from pathlib import Path

tmp, out = Path(os.environ["WS_TMP"]), Path(os.environ["WS_OUT"])
tasks, standin = int(os.environ["WS_TASKS"]), os.environ["WS_STANDIN"] == "1"
good = sys.argv[1:]
errors = []
def check(cond, msg):
    if not cond:
        errors.append(msg)
    return cond

# Slurm's view of each task.
slurm = {}
for line in (tmp / "log/scontrol-job.txt").read_text().splitlines():
    f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    if "ArrayTaskId" in f:
        slurm[int(f["ArrayTaskId"])] = (f.get("JobState"), f.get("ExitCode"))

tasks_info = {}
for k in range(tasks):
    log = tmp / f"logs/task-{k}.log"
    if not check(log.exists(), f"task {k}: no log {log}"):
        continue
    text = log.read_text(errors="replace")
    check(re.search(rf"\bshard {k}/{tasks}\b", text), f"task {k}: log lacks 'shard {k}/{tasks}'")
    s = re.search(rf"^@@ task {k} start (\S+)", text, re.M)
    e = re.search(rf"^@@ task {k} end (\S+) rc (\d+)", text, re.M)
    if check(s and e, f"task {k}: did not run to its end (no start/end line in its log)"):
        tasks_info[k] = (float(s[1]), float(e[1]), int(e[2]))
    state, code = slurm.get(k, (None, None))
    check(state in ("COMPLETED", "FAILED"), f"task {k}: Slurm state {state}, exit code {code}")
    if standin:
        for var, want in (("SLURM_ARRAY_TASK_ID", k), ("SLURM_ARRAY_TASK_MIN", 0),
                          ("SLURM_ARRAY_TASK_COUNT", tasks)):
            check(re.search(rf"^{var}={want}$", text, re.M), f"task {k}: no {var}={want}")

rep = {}
if not standin:
    def out_for(rel, ext):
        return out / Path(rel).with_suffix(ext)
    for rel in good:
        txt, js = out_for(rel, ".txt"), out_for(rel, ".json")
        check(txt.is_file() and txt.stat().st_size > 0, f"{rel}: {txt} missing or empty")
        if check(js.is_file(), f"{rel}: {js} missing"):
            try:
                json.loads(js.read_text())
            except ValueError as err:
                errors.append(f"{rel}: {js} is not JSON: {err}")
    try:
        rep = json.loads((tmp / "report.json").read_text())
    except (OSError, ValueError) as err:
        errors.append(f"report --json (exit {os.environ['WS_REPORT_RC']}): no JSON on stdout: {err}")
    if rep:
        files = rep.get("files")
        check(isinstance(files, list), ".files is not an array")
        files = files if isinstance(files, list) else []
        def entry(rel):
            hits = [f for f in files if isinstance(f, dict)
                    and str(f.get("file", "")).replace("\\", "/").endswith(rel)]
            check(len(hits) == 1, f".files[]: {len(hits)} entries for {rel}, want 1")
            return hits[0] if hits else {}
        status = {rel: entry(rel).get("status") for rel in good + ["bad.flac", "truncated.flac"]}
        for rel in good:
            check(status[rel] == "ok", f"{rel}: status {status[rel]!r}, want 'ok'")
        check(status["bad.flac"] == "failed", f"bad.flac: status {status['bad.flac']!r}, want 'failed'")
        trunc = status["truncated.flac"]
        check(trunc in ("ok", "failed"), f"truncated.flac: status {trunc!r}, want 'ok' or 'failed'")
        if trunc == "ok":
            t = out / "truncated.txt"
            check(t.is_file(), f"truncated.flac is ok but {t} is missing")
        for f in files:
            check(isinstance(f, dict) and f.get("status") in ("ok", "failed", "not_started")
                  and isinstance(f.get("shard"), int) and 0 <= f["shard"] < tasks,
                  f".files[] entry without file/status/shard in range: {f}")
        want_ok = len(good) + (trunc == "ok")
        check(rep.get("ok") == want_ok, f".ok = {rep.get('ok')!r}, want {want_ok}")
        check(isinstance(rep.get("failed"), int) and rep["failed"] >= 1,
              f".failed = {rep.get('failed')!r}, want >= 1")
        check(rep.get("not_started") == 0, f".not_started = {rep.get('not_started')!r}, want 0")
        check(rep.get("unfinished_shards") == [],
              f".unfinished_shards = {rep.get('unfinished_shards')!r}, want []")
        check(rep.get("shards") == tasks, f".shards = {rep.get('shards')!r}, want {tasks}")
        fails = rep.get("failures")
        check(isinstance(fails, list), ".failures is not an array")
        fails = fails if isinstance(fails, list) else []
        bad = [f for f in fails if isinstance(f, dict)
               and str(f.get("file", "")).replace("\\", "/").endswith("bad.flac")]
        check(len(bad) == 1 and bad[0].get("reason"),
              f".failures[] has no {{file, reason}} entry for bad.flac: {fails}")
        # A task exits non-zero exactly when a file of its shard failed.
        for k, (_, _, rc) in tasks_info.items():
            failed_here = any(isinstance(f, dict) and f.get("shard") == k
                              and f.get("status") == "failed" for f in files)
            check((rc != 0) == failed_here,
                  f"task {k}: exit {rc}, but its shard {'has' if failed_here else 'has no'} failed files")
        # Exactly once: one done marker per file transcribed.
        done = out / ".whisper-spec-batch/done"
        n_done = sum(1 for p in done.rglob("*") if p.is_file()) if done.is_dir() else 0
        check(n_done == rep.get("ok"), f"{done}: {n_done} markers, .ok = {rep.get('ok')!r}")

if tasks_info:
    t0 = min(s for s, _, _ in tasks_info.values())
    for k, (s, e, rc) in sorted(tasks_info.items()):
        print(f"[slurm] task {k}: started +{s - t0:.1f} s, wall {e - s:.1f} s, exit {rc}")
if errors:
    print("[slurm] FAILED checks:", *errors, sep="\n  ", file=sys.stderr)
    sys.exit(1)
if rep:
    print(f"[slurm] slurm array job: {rep['ok']} files ok, {rep['failed']} failed, {rep['shards']} shards")
else:
    print(f"[slurm] slurm array job (stand-in): {tasks} tasks ran with their SLURM_ARRAY_* variables")
EOF
  echo "----- report --json (exit $report_rc; first 150 lines)" >&2
  { python3 -m json.tool "$tmp/report.json" 2>/dev/null || cat "$tmp/report.json"; } | head -n 150 >&2 || true
  die "checks failed"
fi
[ "$STANDIN" = 1 ] || say "audio: $audio_s s in ${#good[@]} good files"
say "wall: array $(python3 -c "print(f'{$t_done - $t_submit:.1f}')") s, script $(elapsed "$t_start") s"
