"""The Keras oracle again, on a GPU through the JAX backend.

tests/test_oracle.py runs in a subprocess with KERAS_BACKEND=jax: the same
witnesses and ``# oracle:`` lines, judged by Keras on another backend.  Skipped
unless JAX is installed and sees a GPU, or KSL_ORACLE_ALLOW_CPU=1 accepts JAX's
CPU backend instead (to check scripts/gpu_oracle.sh, which runs this, on a
machine without a GPU).  The probe runs in its own process so that this one
never initialises JAX (which would reserve GPU memory).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from oracle import REPO_ROOT

ALLOW_CPU = os.environ.get("KSL_ORACLE_ALLOW_CPU") == "1"
PLATFORMS = ("gpu", "cpu") if ALLOW_CPU else ("gpu",)
PROBE = f"import jax; print(sum(1 for d in jax.devices() if d.platform in {PLATFORMS!r}))"


def _gpu_count() -> tuple[int, str]:
    if importlib.util.find_spec("jax") is None:
        return 0, "jax is not installed"
    try:
        probe = subprocess.run(
            [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT
        )
    except subprocess.TimeoutExpired:
        return 0, "probing jax.devices() timed out"
    if probe.returncode != 0:
        return 0, f"jax.devices() failed: {probe.stderr.strip()[-300:]}"
    try:
        count = int(probe.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return 0, f"unexpected probe output: {probe.stdout[-300:]!r}"
    return count, "" if count else "jax sees no GPU (KSL_ORACLE_ALLOW_CPU=1 accepts its CPU backend)"


@pytest.mark.gpu
def test_keras_oracle_on_jax_gpu():
    count, reason = _gpu_count()
    if not count:
        pytest.skip(reason)
    env = dict(os.environ)
    env["KERAS_BACKEND"] = "jax"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_oracle.py", "-q", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    summary = completed.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"oracle under JAX: {summary[0]}")  # shown by scripts/gpu_oracle.sh (pytest -s)
    assert completed.returncode == 0, (
        f"Keras oracle under JAX failed (exit {completed.returncode}):\n{completed.stdout[-8000:]}\n"
        f"{completed.stderr[-2000:]}"
    )
