"""Shared test setup: the Keras backend, quiet TensorFlow, and one analyser run.

The backend is chosen before anything imports Keras: TensorFlow on the CPU unless
the environment already names one (the GPU oracle runs this suite under
KERAS_BACKEND=jax).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

from oracle import AnalyserError, fixture_paths, run_analyser  # noqa: E402


@pytest.fixture(scope="session")
def analyser_findings() -> dict[str, list[dict]]:
    """The analyser's JSON findings for every fixture, keyed by 'fixtures/name.py'.

    The analyser runs once, on all fixtures together, for the whole session.
    """
    try:
        return run_analyser(fixture_paths())
    except AnalyserError as error:
        pytest.fail(f"keras-shape-lint did not produce findings: {error}", pytrace=False)
