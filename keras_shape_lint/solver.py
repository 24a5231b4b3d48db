"""Prove, refute and find witnesses with z3, under a time limit per query.

Answers are three-valued: ``True`` (satisfiable), ``False`` (unsatisfiable)
or ``None`` (the solver gave up: treated as "not known", never as a finding).
"""

from __future__ import annotations

import time

import z3

from .symbolic import variables

# Candidate values tried, in order, when a witness picks a free value.
SPATIAL_SIZES = (56, 32, 64, 28, 16, 14, 8, 112, 7, 224, 4, 2, 57, 33, 31, 15, 9, 5, 3, 1)
CHANNEL_SIZES = (64, 32, 128, 256, 16, 8, 512, 3, 4, 2, 1)  # 1 last: a size that only broadcasts
PLAIN_INTS = (64, 32, 128, 16, 256, 8, 4, 2, 1, 3, 512)
COUNTS = (1, 2, 3, 4, 0, 5, 6, 8)  # lengths of lists a caller passes: short ones read best
WITNESS_TIMEOUT_FACTOR = 10  # the limit of a witness's preference checks, in solver timeouts
STRIDES = (1, 2, 4, 3)  # strides, dilations and pool sizes, by the parameter's name


class Solver:
    def __init__(self, timeout_ms: int = 200, max_preference_checks: int = 60, deadline: float | None = None):
        self._solver = z3.Solver()
        self._solver.set("timeout", timeout_ms)
        self.timeout_ms = timeout_ms
        self.deadline = deadline  # time.monotonic() after which every query answers "unknown"
        self.max_preference_checks = max_preference_checks
        self.queries = 0
        self.unknowns = 0
        # settled answers by the set of term ids: z3 shares equal terms, and the
        # entry holds its terms, so an id cannot be reused while it is cached
        self._answers: dict = {}

    def _time_left(self, limit_ms: int | None = None) -> bool:
        """Set the next query's limit (``limit_ms``, else the solver's), shortened to the time
        left; False when none is."""
        limit_ms = self.timeout_ms if limit_ms is None else limit_ms
        if self.deadline is None:
            self._solver.set("timeout", limit_ms)
            return True
        left_ms = int((self.deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            return False
        self._solver.set("timeout", max(1, min(limit_ms, left_ms)))
        return True

    def check(self, terms) -> bool | None:
        """Is the conjunction of ``terms`` satisfiable?"""
        terms = [t for t in terms if t is not True]
        if any(t is False for t in terms):
            return False
        if not terms:
            return True
        key = frozenset(t.get_id() for t in terms)
        cached = self._answers.get(key)
        if cached is not None:
            return cached[1]
        if not self._time_left():
            self.unknowns += 1
            return None
        solver = self._solver
        solver.push()
        try:
            solver.add(*terms)
            answer = self._verdict(solver.check())
        finally:
            solver.pop()
        if answer is not None:  # "gave up" may change with more time: never cached
            self._answers[key] = (terms, answer)
        return answer

    def check_path(self, conditions, terms) -> bool | None:
        """Is ``terms`` satisfiable together with the path ``conditions``?

        Only the conditions that share variables with ``terms`` (directly or
        through other conditions) can matter, so only those are sent to z3.
        """
        terms = [t for t in terms if t is not True]
        if any(t is False for t in terms):
            return False
        return self.check(relevant(conditions, terms) + terms)

    def model(self, terms, preferences=()) -> z3.ModelRef | None:
        """A model of ``terms``, steered by ``preferences``.

        ``preferences`` is a sequence of groups; each group lists alternative
        constraints (e.g. ``filters == 64``, ``filters == 32``) tried in order,
        keeping the first that stays satisfiable.
        """
        terms = [t for t in terms if t is not True]
        if any(t is False for t in terms) or not self._time_left(WITNESS_TIMEOUT_FACTOR * self.timeout_ms):
            return None
        solver = self._solver
        solver.push()
        depth = 1
        try:
            solver.add(*terms)
            if self._verdict(solver.check()) is not True:
                return None
            budget = self.max_preference_checks
            for group in preferences:
                for candidate in group:
                    if budget <= 0:
                        break
                    budget -= 1
                    # a witness is searched only for a finding: a longer limit keeps the chosen
                    # values from depending on how busy the machine is
                    if not self._time_left(WITNESS_TIMEOUT_FACTOR * self.timeout_ms):
                        budget = 0
                        break
                    solver.push()
                    solver.add(candidate)
                    if self._verdict(solver.check()) is True:
                        depth += 1
                        break
                    solver.pop()
            if self._verdict(solver.check()) is not True:
                return None
            return solver.model()
        finally:
            for _ in range(depth):
                solver.pop()

    def _verdict(self, result) -> bool | None:
        self.queries += 1
        if result == z3.sat:
            return True
        if result == z3.unsat:
            return False
        self.unknowns += 1
        return None


def relevant(conditions, terms) -> list:
    """The terms of ``conditions`` in the cone of influence of ``terms``."""
    names = set()
    for term in terms:
        names |= variables(term)
    pending = []
    chosen = []
    for condition in conditions:
        if condition.term is False:
            return [False]
        if condition.names:
            pending.append(condition)
    changed = True
    while changed and pending:
        changed = False
        rest = []
        for condition in pending:
            if condition.names & names:
                chosen.append(condition.term)
                names |= condition.names
                changed = True
            else:
                rest.append(condition)
        pending = rest
    return chosen


def candidates_for(var, default=None, role: str = "int"):
    """Alternatives for one free value, most ordinary first."""
    if var.sort() == z3.StringSort():
        # the literals the code compares it with decide it; else its default (a dtype's float32)
        return [var == z3.StringVal(default)] if isinstance(default, str) else []
    if z3.is_bool(var):
        values = [default, not default] if isinstance(default, bool) else [False, True]
        return [var == z3.BoolVal(v) for v in values]
    if var.sort() == z3.RealSort():  # a float: its default, then ratios
        values = [default] if isinstance(default, float) else []
        return [var == z3.RealVal(v) for v in values + [0.25, 0.5, 1.0, 2.0]]
    if role == "spatial":
        values = list(SPATIAL_SIZES)
    elif role == "channels":
        values = list(CHANNEL_SIZES)
    elif role == "length":
        values = list(COUNTS)
    elif role == "stride":
        values = list(STRIDES)
    else:
        values = list(PLAIN_INTS)
        if isinstance(default, int) and not isinstance(default, bool):
            nearby = (default + 1, default - 1, default + 2, default - 2, default * 2, default // 2)
            values = [default] + [v for v in nearby + (1, 2, 4, 3) if v > 0 and v != default] + values
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return [var == v for v in seen]
