"""An entry point that runs out of its budget is analysed again, its paths joined.

The first try keeps up to ``max_paths`` paths apart; when it runs out of steps (or of its
share of the time) the entry point runs again from the start with at most
``analysis.COARSE_PATHS`` paths, what they disagree on a value nobody knows.  Budgets here
are step counts or a virtual clock, never the machine's speed.
"""

from __future__ import annotations

import textwrap
import time

from keras_shape_lint import analysis as analysis_module
from keras_shape_lint import cache
from keras_shape_lint.analysis import Analysis, Options, analyse_text
from keras_shape_lint.interpreter import BudgetExceeded

# five flags, each choosing a Dense or a ReLU: 32 paths, each running the loop of units
TOWER = textwrap.dedent("""
    from keras import layers


    def tower(x, width, a, b, c, d, e):
        units = []
        for flag in (a, b, c, d, e):
            if flag:
                units.append(layers.Dense(width))
            else:
                units.append(layers.ReLU())
        z = layers.Add()([x, layers.Dense(width + 1)(x)])
        y = layers.Dense(width)(x)
        for _ in range(10):
            for unit in units:
                y = y + unit(y)
        return layers.Add()([y, layers.Dense(width)(y)]), z
""")


def _outcomes(analysis) -> dict:
    return {analysis.main.start(node).line: outcome for node, outcome in analysis.outcomes.items()}


def test_with_steps_enough_the_first_try_decides_every_merge():
    findings, analysis = analyse_text(TOWER, Options(time_budget_s=60.0))
    stats = analysis.statistics()
    assert stats["budget"] == {} and stats["coarser"] == []
    assert [(f.code, f.line) for f in findings] == [("KSL102", 12)]
    assert _outcomes(analysis) == {12: "flagged", 16: "proven", 17: "proven"}


def test_a_first_try_out_of_steps_is_followed_by_one_with_its_paths_joined():
    findings, analysis = analyse_text(TOWER, Options(time_budget_s=60.0, max_steps=3000))
    stats = analysis.statistics()
    # the second try finished: nothing stopped early, and the statistics say how it got there
    assert stats["budget"] == {}, stats["budget"]
    assert stats["coarser"] == ["tower: step budget"]
    assert analysis.interp.steps <= 3000
    # the finding of the first try (reached before it ran out) is kept, with its witness
    assert [(f.code, f.line) for f in findings] == [("KSL102", 12)]
    assert findings[0].witness.args["width"] + 1 != findings[0].witness.args["x"]["shape"][-1]
    # the loop's merges read the joined units: undecided, never proven by a try that did not finish
    outcomes = _outcomes(analysis)
    assert outcomes == {12: "flagged", 16: "undecided", 17: "undecided"}, outcomes
    assert cache.settled(analysis)  # a step budget is the same on any machine: the result may be kept


def test_the_first_try_gets_its_share_of_the_time_and_the_second_the_rest(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    tries = []
    original = Analysis._run_entry

    def run_entry(self, interp, entry, module_scope, freed=frozenset()):
        tries.append((self.entry_deadline - now[0], interp.budget.max_paths))
        if len(tries) == 1:
            now[0] += tries[0][0]  # the first try uses all of its time
            raise BudgetExceeded("time budget")
        return original(self, interp, entry, module_scope, freed)

    monkeypatch.setattr(Analysis, "_run_entry", run_entry)
    findings, analysis = analyse_text(TOWER, Options(time_budget_s=10.0))
    (first, first_paths), (second, second_paths) = tries
    assert abs(first - analysis_module.FIRST_TRY_SHARE * 10.0) < 1e-6
    assert abs(second - (1 - analysis_module.FIRST_TRY_SHARE) * 10.0) < 1e-6
    assert (first_paths, second_paths) == (32, analysis_module.COARSE_PATHS)
    assert analysis.statistics()["coarser"] == ["tower: time budget"]
    assert analysis.budget.max_paths == 32  # the options are the caller's again
    # how far the first try got depends on the machine's load: such a result is not kept
    assert not cache.settled(analysis)


def test_a_second_try_that_runs_out_too_stops_early_as_before():
    findings, analysis = analyse_text(TOWER, Options(time_budget_s=60.0, max_steps=300))
    stats = analysis.statistics()
    assert stats["coarser"] == ["tower: step budget"]
    assert stats["budget"] == {"tower: step budget": 1}
