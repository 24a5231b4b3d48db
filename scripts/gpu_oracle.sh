#!/usr/bin/env bash
# The Keras oracle on a GPU, through Keras's JAX backend, in one command:
#
#     scripts/gpu_oracle.sh WHEELS          (or: KSL_WHEELS=WHEELS scripts/gpu_oracle.sh)
#
# For a machine with a CUDA GPU and JAX installed (jax with its CUDA plugin), no TensorFlow and
# no network.  WHEELS is a folder of wheels brought along: Keras and what it needs, pytest, and
# this project's own dependencies (libcst, z3-solver, flake8); docs/usage.md says how to fill it.
# The script installs them from that folder only (pip --no-index), prints the device JAX runs
# on, then runs the gpu-marked tests under KERAS_BACKEND=jax: tests/test_oracle_gpu.py replays
# every flagged fixture's witness through Keras (the flagged merge must raise) and builds every
# clean fixture (it must not), on that device.
#
# It fails when there is no GPU, unless KSL_ORACLE_ALLOW_CPU=1 lets JAX's CPU backend stand in
# (a check of the script itself on a machine without one).  Exit status: 0 when the oracle
# passed, 1 when it failed or did not run, 2 on a usage error.
set -euo pipefail

wheels="${1:-${KSL_WHEELS:-}}"
if [[ -z "$wheels" || ! -d "$wheels" ]]; then
    echo "usage: $0 WHEELS   (a folder of wheels: keras, pytest, libcst, z3-solver, flake8 and what they need)" >&2
    exit 2
fi
cd "$(dirname "$0")/.."
python=${PYTHON:-python}

if ! "$python" -c "import jax" 2>/dev/null; then
    echo "gpu_oracle: JAX is not installed in $("$python" -c 'import sys; print(sys.prefix)')" >&2
    exit 1
fi
if "$python" -c "import tensorflow" 2>/dev/null; then
    echo "gpu_oracle: note: TensorFlow is installed too; Keras runs on JAX all the same" >&2
fi

echo "== installing from $wheels"
"$python" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$wheels" \
    keras pytest libcst z3-solver flake8
# the project itself runs from this checkout, not from an installed copy
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false

echo "== device"
"$python" - <<'PY'
import jax
import keras

devices = jax.devices()
print(f"JAX {jax.__version__}, Keras {keras.__version__} (backend {keras.backend.backend()})")
for device in devices:
    print(f"  {device.platform}: {device.device_kind} ({device})")
PY
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi

echo "== KERAS_BACKEND=jax python -m pytest -m gpu tests/test_oracle_gpu.py"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$python" -m pytest -m gpu tests/test_oracle_gpu.py -p no:cacheprovider -rs -v -s 2>&1 | tee "$log" || status=$?
if [[ $status -ne 0 ]]; then
    exit 1
fi
# pytest's closing line (=== 1 passed in ... ===), not the inner run's summary printed above it
closing=$(grep -E '^=+ .* in [0-9.]+s' "$log" | tail -1)
if [[ "$closing" != *" passed"* || "$closing" == *"skipped"* ]]; then
    echo "gpu_oracle: the oracle did not run (see the skip reason above)" >&2
    exit 1
fi
echo "gpu_oracle: the Keras oracle passed on JAX"
