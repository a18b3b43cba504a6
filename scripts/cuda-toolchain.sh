#!/usr/bin/env bash
# The CUDA toolkit the `cuda` feature builds with, from PyPI wheels (no GPU and no NVIDIA
# installer needed): nvcc, the runtime, cuBLAS, cuRAND, NVRTC and CCCL (headers nvcc's own
# headers include) of CUDA 13.4, the newest release cudarc 0.19 (candle's CUDA layer) knows.
# The CUDA 12 wheels cannot serve: their nvidia-cuda-nvcc-cu12 ships ptxas without nvcc.
#
# Prints the environment to build with; use it as
#   eval "$(scripts/cuda-toolchain.sh)"
#   cargo build --release --features cuda --lib     # everything but the final link
# The final link of the binary also needs the driver's libcuda.so, which only a machine with
# an NVIDIA driver has (the wheels carry no stub of it).
#
# WHISPER_SPEC_CUDA_VENV (default ~/.cache/whisper-spec/cuda-13.4) is where the wheels go;
# CUDA_COMPUTE_CAP (default 90, the H100/H200) is the GPU generation the kernels are built for.
set -euo pipefail

version=13.4
venv=${WHISPER_SPEC_CUDA_VENV:-$HOME/.cache/whisper-spec/cuda-$version}
if [ ! -x "$venv/bin/pip" ]; then
  python3 -m venv "$venv" >&2
fi
"$venv/bin/pip" install -q --disable-pip-version-check \
  "nvidia-cuda-nvcc==$version.*" "nvidia-cuda-crt==$version.*" "nvidia-nvvm==$version.*" \
  "nvidia-cuda-runtime==$version.*" "nvidia-cuda-nvrtc==$version.*" \
  "nvidia-cuda-cccl==13.3.*" \
  "nvidia-cublas==13.*" "nvidia-curand==10.*" >&2

root=$("$venv/bin/python" -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13"))')
[ -x "$root/bin/nvcc" ] || { echo "no nvcc under $root" >&2; exit 1; }

# The linker looks for unversioned names; the wheels ship only the versioned ones.
for lib in "$root"/lib/lib*.so.*; do
  name=$(basename "$lib")
  plain="$root/lib/${name%%.so.*}.so"
  [ -e "$plain" ] || ln -s "$name" "$plain"
done

cat <<EOF
export CUDA_HOME="$root"
export CUDA_PATH="$root"
export PATH="$root/bin:\$PATH"
export LIBRARY_PATH="$root/lib\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
export LD_LIBRARY_PATH="$root/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export CUDA_COMPUTE_CAP="\${CUDA_COMPUTE_CAP:-90}"
EOF
