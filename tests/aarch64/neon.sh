#!/usr/bin/env bash
# The kernels on 64-bit ARM, run under qemu's user-mode emulator on this x86 machine:
#   1. the library's kernel tests built for aarch64-unknown-linux-gnu (each kernel against an
#      f64 reference, every row of a multi-row call equal to a one-row call, every f16 and
#      bf16 value widened exactly by the NEON loads), with the NEON kernels selected;
#   2. a whole transcription of jfk with the aarch64 binary: the NEON kernels reported,
#      speculative decoding passing --verify (the target's own tokens, bit for bit), the text
#      equal to the x86 binary's, and the published half-precision weights giving exactly the
#      output of their f32 copy (--weights f32: same text, same log-probabilities to the bit).
#
# Installs what is missing: rustup's aarch64 standard library, Debian's cross gcc, the arm64
# C library and libopus (multiarch), qemu-user. Builds into target/aarch64.
#
# Settings (environment, or KEY=VALUE arguments):
#   BIN    the x86 whisper-spec for the reference text  [REPO/target/release/whisper-spec]
#   MODEL  model for the transcription                  [tiny.en]
#   AUDIO  speech file                                  [REPO/../shared/corpus/jfk.flac]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
for arg in "$@"; do
  case $arg in
    BIN=* | MODEL=* | AUDIO=*) export "${arg?}" ;;
    *) echo "usage: $0 [BIN=...] [MODEL=...] [AUDIO=...]" >&2; exit 2 ;;
  esac
done
BIN=$(realpath -m "${BIN:-$repo/target/release/whisper-spec}")
MODEL=${MODEL:-tiny.en}
AUDIO=$(realpath -m "${AUDIO:-$repo/../shared/corpus/jfk.flac}")
TARGET=aarch64-unknown-linux-gnu
say() { echo "[aarch64] $*"; }
fail() { echo "[aarch64] FAIL: $*" >&2; exit 1; }
start=$(date +%s)

# ---- 1. toolchain ------------------------------------------------------------------------
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
need=()
for pkg in gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libopus-dev:arm64; do
  [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The arm64 libopus linked statically, as the C library is (.cargo/config.toml): a dynamically
# linked binary hangs in glibc's thread start-up under qemu-user on these machines.
export OPUS_LIB_STATIC=true OPUS_LIB_DIR=/usr/lib/aarch64-linux-gnu
export CARGO_TARGET_DIR="$repo/target/aarch64"
# The linker and the qemu runner come from .cargo/config.toml.
cd "$repo"
build=(--release --target "$TARGET" --no-default-features)

# ---- 2. kernel tests under qemu ----------------------------------------------------------
say "kernel tests (cargo test --lib kernels, under qemu)"
cargo test "${build[@]}" --lib kernels -- --test-threads 2

# ---- 3. a whole transcription under qemu -------------------------------------------------
say "whole transcription: $MODEL on $(basename "$AUDIO")"
cargo build "${build[@]}" --bin whisper-spec
arm_bin="$CARGO_TARGET_DIR/$TARGET/release/whisper-spec"
[ -x "$BIN" ] || cargo build --release --bin whisper-spec
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(transcribe -m "$MODEL" --no-vad -l en -f json --threads 2)
# The model is fetched (or found) by the x86 binary; the emulated one reads the same store.
"$BIN" "${args[@]}" "$AUDIO" > "$work/x86.json"
qemu-aarch64 "$arm_bin" "${args[@]}" --verify "$AUDIO" > "$work/neon.json"
qemu-aarch64 "$arm_bin" "${args[@]}" --weights f32 "$AUDIO" > "$work/neon_f32.json"
python3 - "$work" <<'PY' || fail "whole transcription (outputs in the messages above)"
import json, sys, pathlib
work = pathlib.Path(sys.argv[1])
x86, neon, f32 = (json.loads((work / f"{n}.json").read_text()) for n in ("x86", "neon", "neon_f32"))
stats = neon["stats"]
problems = []
if not stats.get("kernels", "").startswith("neon"):
    problems.append(f"kernels reported: {stats.get('kernels')!r}, not neon")
if "verify_difference" in stats:
    problems.append(f"--verify: {stats['verify_difference']}")
if neon["text"] != x86["text"]:
    problems.append(f"text differs from x86:\n  neon: {neon['text']!r}\n  x86:  {x86['text']!r}")
bits = lambda t: [(s["text"], s["avg_logprob"], s["no_speech_prob"]) for s in t["segments"]]
if bits(neon) != bits(f32):
    problems.append(f"half-precision weights differ from their f32 copy:\n  {bits(neon)}\n  {bits(f32)}")
for p in problems:
    print("[aarch64]", p, file=sys.stderr)
print(f"[aarch64] kernels {stats.get('kernels')}, draft tokens {stats.get('draft_tokens')}, "
      f"text {neon['text'].strip()!r}")
sys.exit(1 if problems else 0)
PY
say "passed in $(( $(date +%s) - start )) s"
