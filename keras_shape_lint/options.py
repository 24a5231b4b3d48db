"""Analysis limits and settings; kept apart so front ends can read them without the analyser.

Both front ends (flake8's options and the command line with its pyproject.toml
table) check user-given values with the same functions, so that ``inf``, ``nan``,
``0`` or a misspelt data format stops either of them with the same message.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

DATA_FORMATS = ("channels_last", "channels_first")


@dataclass
class Options:
    data_format: str = "channels_last"
    max_paths: int = 32
    max_steps: int = 200_000
    max_call_depth: int = 16
    max_unroll: int = 512
    max_symbolic_unroll: int = 4
    timeout_ms: int = 200
    time_budget_s: float = 5.0


def check_timeout(value) -> float:
    """Seconds of analysis per file: a positive, finite number (text from a file is read too)."""
    try:
        seconds = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"must be a positive, finite number of seconds, not {value!r}")
    return seconds


def check_max_paths(value) -> int:
    """Paths explored per function: a whole number of at least 1."""
    try:
        number = int(value) if not isinstance(value, (bool, float)) else 0
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ValueError(f"must be a whole number of at least 1, not {value!r}")
    return number


def check_cache_dir(value) -> str:
    """The result cache's folder: a path that names no existing file (it is made when needed)."""
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ValueError(f"must name a folder, not {value!r}")
    if os.path.exists(value) and not os.path.isdir(value):
        raise ValueError(f"must name a folder, not the file {str(value)!r}")
    return str(value)


def check_data_format(value) -> str:
    if value not in DATA_FORMATS:
        raise ValueError(f"must be one of {', '.join(DATA_FORMATS)}, not {value!r}")
    return value
