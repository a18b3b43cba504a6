#!/usr/bin/env bash
# Runs every fuzz target (or those named after the minutes) for MINUTES minutes each, one
# after another, from a seed corpus built by seeds.sh, and prints each target's executions
# and coverage. Needs a nightly toolchain and cargo-fuzz. A crash stops with the input saved
# under fuzz/artifacts/TARGET/: fix it, then keep the input in fuzz/regressions/TARGET/ so
# that tests/fuzz_regressions.rs replays it.
#   fuzz/run.sh 5                      # 5 minutes per target
#   fuzz/run.sh 1 cli_args weights     # 1 minute, two targets
# FUZZ_SEED=N fixes libFuzzer's random seed (CI does, so that a run explores the same inputs
# from the same tree and a finding reproduces); without it each run draws its own.
set -euo pipefail
cd "$(dirname "$0")"
minutes="${1:?usage: fuzz/run.sh MINUTES [TARGET...]}"
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(audio_pipeline audio_headers model_config weights cli_args)
./seeds.sh
cargo +nightly fuzz build
seconds=$(awk "BEGIN { printf \"%d\", $minutes * 60 }")
status=0
for t in "${targets[@]}"; do
  log="$(mktemp)"
  # -rss_limit_mb and -timeout: an input that takes over 2 GB or 60 s is a finding too.
  seed_flag=()
  [ -z "${FUZZ_SEED:-}" ] || seed_flag=(-seed="$FUZZ_SEED")
  if ! cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" "${seed_flag[@]}" \
      -rss_limit_mb=2048 -timeout=60 -print_final_stats=1 >"$log" 2>&1; then
    status=1
    echo "== $t: FAILED (last lines of its log follow)"
    tail -30 "$log"
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.*corp: \([0-9]*\).*/\1/p' <<<"$last")
  echo "== $t: ${execs:-?} executions in ${minutes} min, coverage ${cov:-?} edges, ${ft:-?} features, corpus ${corp:-?}"
  rm -f "$log"
done
exit $status
