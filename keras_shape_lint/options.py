"""Analysis limits and settings; kept apart so front ends can read them without the analyser."""

from __future__ import annotations

from dataclasses import dataclass


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
