"""Robustness: the plugin never raises into flake8, never hangs, and says when it gave up.

Policies (docs: /work/shared/DESIGN.md, README): the checker never raises into flake8,
syntax errors yield nothing, every analysis is bounded (paths, loop unrolling, call
depth, solver time, ``--ksl-timeout`` seconds per file), and an exhausted budget is
reported as KSL901 when ``--ksl-report-incomplete`` asks for it.

(a) pathological inputs, generated here: each runs through ``KerasShapeChecker.run()``
    in process, must finish within a time bound, must report KSL901 whenever the
    analysis noted a budget (and always, for inputs built to exhaust one) and must not
    hit an internal error (KSL902); inputs that could take the process down (a native
    stack overflow in the parser) run in a subprocess; ``--ksl-timeout`` itself is held
    to its word on solver-heavy code, on files too large to parse and on files that
    import large project modules;
(b) a deterministic sample of the installed site-packages (``KSL_FULL_SWEEP=1`` and
    ``-m slow`` for all of it; ``python bench/sweep.py`` prints the same counts);
(c) hypothesmith-generated source, with and without Keras imports;
(d) ``flake8 -j 2`` and ``-j 1`` agree on the fixtures;
(e) syntax errors yield nothing.

Time: every in-process check runs with the analyser's clock (``time.monotonic``) replaced
by a step clock (the ``step_clock`` fixture): each reading moves it on by one tick, so a
budget is a number of readings (the interpreter reads the clock every 1,024 steps, the
solver before each query), and what the tests measure is read on the same clock.  Neither
the machine's speed nor its load moves a bound.  Where the question is *whether* a step ran
(a parse skipped, an entry point not started, an import not read), the tests count the steps
or drive a virtual clock.  The child processes of the command-line tests are checked for
surviving, not timed: speed belongs in ``bench/``.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
import time
import traceback
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from keras_shape_lint import analysis as engine
from keras_shape_lint import frontend, prefilter
from keras_shape_lint import solver as solver_module
from keras_shape_lint.analysis import Options, analyse_text
from keras_shape_lint.flake8_plugin import KerasShapeChecker

ROOT = Path(__file__).resolve().parent.parent
TIME_LIMIT_S = 10.0  # step-clock seconds allowed for one pathological input (10,000 readings)
TIMEOUT_S = 2.0  # --ksl-timeout given to the analysis of pathological inputs
HEAD = "import keras\nfrom keras import layers\n\n\n"
RESULT = re.compile(r"^KSL\d{3} \S")


# --------------------------------------------------------------------------- helpers


def namespace(timeout=TIMEOUT_S, max_paths=Options.max_paths, report_incomplete=True,
              data_format="channels_last") -> argparse.Namespace:
    return argparse.Namespace(ksl_data_format=data_format, ksl_max_paths=max_paths, ksl_timeout=timeout,
                              ksl_report_incomplete=report_incomplete)


class StepClock:
    """A clock that moves on by ``tick`` seconds each time it is read."""

    def __init__(self, tick: float = 0.001, start: float = 1000.0):
        self.tick = tick
        self.now = start

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


@pytest.fixture(autouse=True)
def step_clock(monkeypatch):
    """The analyser's clock is a step clock (see the module docstring)."""
    clock = StepClock()
    monkeypatch.setattr(time, "monotonic", clock)
    return clock


class VirtualClock:
    """A clock that moves only when told to: ``advance(seconds)``."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def configured():
    """Configure the checker class like flake8 does; restore the class afterwards."""
    saved = (KerasShapeChecker.options, KerasShapeChecker.report_incomplete)

    def configure(**kwargs):
        KerasShapeChecker.parse_options(namespace(**kwargs))

    configure()
    yield configure
    KerasShapeChecker.options, KerasShapeChecker.report_incomplete = saved


@dataclass
class Outcome:
    results: list
    step_clock_span: float  # read on the injected step clock (its ticks), never on the wall
    statistics: dict | None = field(repr=False)
    source: str = field(repr=False)

    @property
    def codes(self) -> list[str]:
        return [message.split()[0] for _, _, message, _ in self.results]


def run_plugin(source: str, monkeypatch, filename: str = "(none)") -> Outcome:
    """Run the checker as flake8 would; keep the analysis statistics via a spy."""
    analyses = []
    real = engine.analyse_text

    def spy(*args, **kwargs):
        found, analysis = real(*args, **kwargs)
        analyses.append(analysis)
        return found, analysis

    monkeypatch.setattr(engine, "analyse_text", spy)
    lines = source.splitlines(keepends=True)
    start = time.monotonic()  # the clock the analysis reads (a step clock here)
    try:
        results = list(KerasShapeChecker(None, lines, filename).run())  # nothing may escape
    except BaseException as error:  # noqa: BLE001 -- flake8 would abort here; fail with a short trace
        if isinstance(error, KeyboardInterrupt):
            raise
        pytest.fail(f"{type(error).__name__} escaped KerasShapeChecker.run() into flake8: {str(error)[:300]}\n"
                    + _short_trace(error), pytrace=False)
    step_clock_span = time.monotonic() - start
    statistics = None
    if analyses and analyses[-1] is not None:
        try:
            statistics = analyses[-1].statistics()
        except RecursionError:  # the checker itself must cope; the harness only reads counts
            statistics = None
    return Outcome(results, step_clock_span, statistics, source)


def _short_trace(error: BaseException) -> str:
    """The analyser's own frames of a traceback (a RecursionError has a thousand others)."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if "keras_shape_lint" in f.filename]
    shown = own[:12] + ([] if len(own) <= 12 else [own[-1]])
    lines = [f"  {Path(f.filename).name}:{f.lineno} in {f.name}: {(f.line or '').strip()}" for f in shown]
    if frames and frames[-1] not in own:
        last = frames[-1]
        lines.append(f"  ... {len(frames)} frames, innermost {Path(last.filename).name}:{last.lineno} in {last.name}")
    return "\n".join(lines)


def assert_well_behaved(outcome: Outcome, limit: float = TIME_LIMIT_S, must_report_incomplete: bool = False):
    assert outcome.step_clock_span < limit, f"took {outcome.step_clock_span:.1f} s on the step clock (limit {limit} s)"
    line_count = max(1, len(outcome.source.splitlines()))
    for line, col, message, kind in outcome.results:
        assert kind is KerasShapeChecker
        assert isinstance(line, int) and 1 <= line <= line_count, (line, message[:200])
        assert isinstance(col, int) and col >= 0, (col, message[:200])
        assert RESULT.match(message), message[:200]
    stats = outcome.statistics
    if stats is not None and stats.get("budget"):
        assert "KSL901" in outcome.codes, f"budget hit {sorted(stats['budget'])} but no KSL901: {outcome.codes}"
    if must_report_incomplete:
        assert "KSL901" in outcome.codes, (
            f"a budget must be exhausted here; got {[m[:160] for *_, m, _ in outcome.results]}, "
            f"statistics {stats and {k: stats[k] for k in ('budget', 'opaque', 'merges') if k in stats}}")
    # An internal error (KSL902) is contained, but it is still a bug in the analyser.
    assert not (stats or {}).get("internal_errors"), stats["internal_errors"][:3]
    assert "KSL902" not in outcome.codes, [m[:300] for _, _, m, _ in outcome.results if m.startswith("KSL902")]


# --------------------------------------------------------------------------- (a) pathological inputs


def nested_ifs(depth=60):
    params = ", ".join(f"f{i}=False" for i in range(depth))
    body = "".join("    " * (i + 1) + f"if f{i}:\n" for i in range(depth))
    body += "    " * (depth + 1) + "x = layers.Conv2D(8, 3, padding='same')(x)\n"
    return HEAD + f"def block(x, {params}):\n" + body + "    return layers.Add()([x, layers.Conv2D(16, 1)(x)])\n"


def exponential_if_chain(count=30):
    params = ", ".join(f"flag{i}=False" for i in range(count))
    body = "".join(f"    if flag{i}:\n        y = layers.Concatenate()([y, layers.Dense({1 << i})(x)])\n"
                   for i in range(count))
    return HEAD + f"def block(x, {params}):\n    y = x\n" + body + "    return layers.Add()([x, y])\n"


def exponential_if_chain_conv(count=30):
    params = ", ".join(f"flag{i}" for i in range(count))
    body = "".join(f"    if flag{i}:\n        y = layers.Conv2D({i + 1}, 1, strides={1 + i % 2})(y)\n"
                   for i in range(count))
    return HEAD + f"def block(x, {params}):\n    y = x\n" + body + "    return layers.Add()([x, y])\n"


def million_iterations():
    return HEAD + textwrap.dedent("""\
        def build(x):
            for i in range(10**6):
                y = layers.Dense(8)(x)
                x = layers.Add()([x, y])
            return x
    """)


def endless_while():
    return HEAD + textwrap.dedent("""\
        def build(x):
            i = 0
            while True:
                x = layers.Add()([x, layers.Dense(8)(x)])
                i += 1
            return x


        def build_counting(x, n):
            while n > 0:
                x = layers.Add()([x, layers.Dense(8)(x)])
                n = n + 1
            return x
    """)


def unbounded_recursion():
    return HEAD + textwrap.dedent("""\
        def deeper(x, n):
            return deeper(layers.Dense(8)(x), n + 1)


        def build(x):
            return layers.Add()([x, deeper(x, 0)])
    """)


def mutual_recursion():
    return HEAD + textwrap.dedent("""\
        def ping(x):
            return pong(layers.Dense(4)(x))


        def pong(x):
            return ping(layers.Add()([x, x]))


        def build(x):
            return layers.Add()([x, ping(x)])
    """)


def self_calling_lambdas():
    return HEAD + textwrap.dedent("""\
        loop = lambda x: loop(x)
        omega = lambda f: f(f)


        def build(x):
            y = loop(x)
            z = omega(omega)
            return layers.Add()([x, y, z])
    """)


def huge_ints():
    return HEAD + textwrap.dedent("""\
        N = 10**10000
        M = N * N + 7
        K = 2 ** 100000
        P = 2 ** (10 ** 9)
        Q = 10 ** 10 ** 10
        S = str(N)
        T = int("9" * 100000)
        L = [0] * 10 ** 9
        B = b"x" * 10 ** 10
        H = N << 10 ** 9


        def build(x, k=10**10000):
            y = layers.Dense(N % 7 + 1)(x)
            z = layers.Dense(M % 5 + k)(x)
            w = layers.Dense(K)(x)
            v = layers.Dense(len(L) % 3 + 1)(x)
            return layers.Add()([x, y, z, w, v])


        build(keras.Input((10**10000,)))
    """)


def merges_2000():
    body = "".join(f"    x = layers.Add()([x, layers.Dense({i % 3 + 1})(x)])\n" for i in range(2000))
    return HEAD + "def build(x):\n" + body + "    return x\n"


def merges_2000_module_level():
    body = "".join("x = layers.Add()([x, layers.Dense(8)(x)])\n" for _ in range(2000))
    return HEAD + "x = keras.Input((8,))\n" + body


def very_long_lines():
    names = ", ".join(["x"] * 20000)
    text = "a" * 200_000
    return HEAD + f"def build(x):\n    y = layers.Concatenate()([{names}])\n    s = '{text}'\n" \
        + "    return layers.Add()([x, y])\n" + "# " + "#" * 100_000 + "\n"


def nested_parentheses(depth=500):
    # CPython refuses more than 200 nested parentheses; the plugin may get it anyway (CLI, API)
    return HEAD + "def build(x):\n    n = " + "(" * depth + "1" + ")" * depth + "\n" \
        + "    return layers.Add()([x, layers.Dense(n)(x)])\n"


def nested_parentheses_valid(depth=150):
    return nested_parentheses(depth)


def long_sum(terms=3000):
    return HEAD + "def build(x, k):\n    n = " + " + ".join(["k"] * terms) + "\n" \
        + "    return layers.Add()([x, layers.Dense(n)(x)])\n"


def long_sum_valid(terms=900):
    return long_sum(terms)


def long_boolean_chain(terms=3000):
    return HEAD + "def build(x, k=True):\n    flag = " + " and ".join(["k"] * terms) + "\n" \
        + "    if flag:\n        x = layers.Dense(3)(x)\n    return layers.Add()([x, layers.Dense(3)(x)])\n"


def attribute_chain(length=900):
    return HEAD + "def build(x):\n    y = x" + ".a" * length + "\n    return layers.Add()([x, y])\n"


def nested_calls(depth=150):
    return HEAD + "def build(x):\n    y = " + "layers.Dense(8)(" * depth + "x" + ")" * depth + "\n" \
        + "    return layers.Add()([x, y])\n"


def cyclic_classes():
    return HEAD + textwrap.dedent("""\
        class C(C):
            pass


        class A(B if False else object):
            pass


        class B(A):
            pass


        A.__bases__ = (B,)


        class R(layers.Layer):
            def call(self, x):
                return self(x)


        class E(R, E):
            pass


        class S(layers.Layer):
            pass


        class S(S):
            def call(self, x):
                return super().call(x)


        S = type("S", (S,), {})


        class G(layers.Layer):
            def __getattr__(self, name):
                return getattr(self, name)

            @property
            def units(self):
                return self.units

            def call(self, x):
                return layers.Dense(self.units)(self.missing(x))


        def build(x):
            return layers.Add()([x, R()(x), E()(x), S()(x), G()(x), A()(x)])
    """)


def self_referential_values():
    return HEAD + textwrap.dedent("""\
        class Node:
            pass


        n = Node()
        n.next = n
        n.layer = layers.Dense(4)
        m = n
        for _ in range(100):
            m = m.next
        d = {}
        d["self"] = d
        items = []
        items.append(items)
        items += items


        def build(x):
            return layers.Add()([x, m.layer(x), d["self"]["self"]["self"], items[0][0][0]])
    """)


def solver_heavy(count=30):
    body = "".join(f"    if a * a * a + b * b * b == c * c * c + {i}:\n        y = layers.Conv2D({i + 1}, 1)(y)\n"
                   for i in range(count))
    return HEAD + "def block(x, a=3, b=4, c=5):\n    y = x\n" + body + "    return layers.Add()([x, y])\n"


# endless recursion is stopped either by a budget (KSL901) or as an opaque value counted under a
# "recursion ..." reason: either way the silence is accounted for
RECURSION = "recursion"

PATHOLOGICAL = {
    # name: (source generator, a budget must be exhausted by construction, or RECURSION)
    "nested_ifs_60": (nested_ifs, False),
    "exponential_if_chain_30": (exponential_if_chain, False),
    "exponential_if_chain_conv_30": (exponential_if_chain_conv, False),
    "for_range_10e6": (million_iterations, False),  # summarised once the loop's state repeats
    "while_true": (endless_while, True),
    "unbounded_recursion": (unbounded_recursion, RECURSION),
    "mutual_recursion": (mutual_recursion, RECURSION),
    "self_calling_lambdas": (self_calling_lambdas, RECURSION),
    "huge_int_literals": (huge_ints, False),
    "merges_2000": (merges_2000, False),
    "merges_2000_module_level": (merges_2000_module_level, False),
    "very_long_lines": (very_long_lines, False),
    "nested_parentheses_500": (nested_parentheses, False),
    "nested_parentheses_150": (nested_parentheses_valid, False),
    "sum_3000_terms": (long_sum, False),
    "sum_900_terms": (long_sum_valid, False),
    "and_3000_terms": (long_boolean_chain, False),
    "attribute_chain_900": (attribute_chain, False),
    "nested_calls_150": (nested_calls, False),
    "cyclic_classes": (cyclic_classes, False),
    "self_referential_values": (self_referential_values, False),
    "solver_heavy_conditions": (solver_heavy, False),
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_input_is_bounded(name, configured, monkeypatch):
    generate, must_exhaust = PATHOLOGICAL[name]
    outcome = run_plugin(generate(), monkeypatch)
    if must_exhaust == RECURSION:
        assert_well_behaved(outcome)
        counted = (outcome.statistics or {}).get("opaque", {})
        assert "KSL901" in outcome.codes or any(reason.startswith("recursion") for reason in counted), (
            outcome.codes, counted)
        return
    assert_well_behaved(outcome, must_report_incomplete=must_exhaust)


def test_ksl9xx_are_always_handed_to_flake8(configured, monkeypatch):
    """flake8 decides what is shown (KSL9 is on its default ignore list: tests/test_flake8.py),
    so the checker yields KSL901 with or without --ksl-report-incomplete."""
    for report_incomplete in (False, True):
        configured(report_incomplete=report_incomplete)
        outcome = run_plugin(endless_while(), monkeypatch)
        assert outcome.step_clock_span < TIME_LIMIT_S
        assert "KSL901" in outcome.codes


def test_path_budget_of_one_is_honoured(configured, monkeypatch):
    # one path at a time: each branch's two sides are joined, the width they disagree on a
    # value nobody knows, so the merge is read but left undecided (no finding, nothing dropped)
    configured(max_paths=1)
    outcome = run_plugin(exponential_if_chain_conv(12), monkeypatch)
    assert_well_behaved(outcome)
    assert not [code for code in outcome.codes if code.startswith("KSL1")], outcome.codes
    assert outcome.statistics["undecided"] == 1, outcome.statistics
    assert all("paths joined at the path budget" in reason for reason in outcome.statistics["undecided_because"])


def test_time_budget_holds_with_expensive_solver_queries(configured, monkeypatch, step_clock):
    """--ksl-timeout is seconds of analysis per file: slow z3 queries must not overrun it.
    Each query the solver puts to z3 takes 50 ms of the clock here."""
    budget = 0.5
    configured(timeout=budget)
    real_verdict = solver_module.Solver._verdict

    def slow_verdict(solver, result):
        step_clock.now += 0.05
        return real_verdict(solver, result)

    monkeypatch.setattr(solver_module.Solver, "_verdict", slow_verdict)
    outcome = run_plugin(solver_heavy(60), monkeypatch)
    assert "KSL901" in outcome.codes
    assert outcome.step_clock_span < budget + 1.5, f"--ksl-timeout {budget} s but the file took {outcome.step_clock_span:.1f} s on the step clock"


def test_time_budget_holds_across_many_entry_points(configured, monkeypatch, step_clock):
    """Many short entry points: once the budget is spent the rest are skipped, not each started.
    Each reading of the clock is 10 ms here (100 readings to the budget)."""
    step_clock.tick = 0.01
    budget = 1.0
    configured(timeout=budget)
    source = HEAD + "".join(
        f"def f{j}(x, n={j % 7 + 1}):\n"
        f"    for i in range(60):\n"
        f"        x = layers.Dense(n + i)(x)\n"
        f"    return layers.Add()([x, x])\n\n\n"
        for j in range(300))
    started_late = []
    real_run_entry = engine.Analysis._run_entry

    def run_entry(analysis, *args, **kwargs):
        if step_clock.now > analysis.deadline:  # the last reading, without taking another
            started_late.append(analysis.entry_name)
        return real_run_entry(analysis, *args, **kwargs)

    monkeypatch.setattr(engine.Analysis, "_run_entry", run_entry)
    outcome = run_plugin(source, monkeypatch)
    assert started_late == []
    assert any("entry points not analysed" in note for note in outcome.statistics["budget"])
    assert outcome.step_clock_span < budget + 0.5, f"--ksl-timeout {budget} s but the file took {outcome.step_clock_span:.2f} s on the step clock"
    assert_well_behaved(outcome, must_report_incomplete=True)


def test_an_entry_point_that_would_spend_the_budget_leaves_time_for_the_next(configured, monkeypatch, step_clock):
    """The first entry point's solver queries would spend the whole --ksl-timeout (each takes
    50 ms of the clock); the small head after it is still analysed and its mismatch reported."""
    budget = 1.0
    configured(timeout=budget)
    real_verdict = solver_module.Solver._verdict
    analyses = []
    real_init = engine.Analysis.__init__

    def init(analysis, *args, **kwargs):
        real_init(analysis, *args, **kwargs)
        analyses.append(analysis)

    def slow_verdict(solver, result):
        if analyses and analyses[-1].entry_name == "block":
            step_clock.now += 0.05
        return real_verdict(solver, result)

    monkeypatch.setattr(engine.Analysis, "__init__", init)
    monkeypatch.setattr(solver_module.Solver, "_verdict", slow_verdict)
    head = "def head(x):\n    return layers.Add()([layers.Dense(4)(x), layers.Dense(8)(x)])\n"
    source = solver_heavy(60) + "\n\n" + head
    outcome = run_plugin(source, monkeypatch)
    head_line = source.splitlines().index("def head(x):") + 2
    assert "KSL901" in outcome.codes
    assert (head_line, "KSL101") in [(line, message.split()[0]) for line, _, message, _ in outcome.results], outcome.results
    assert outcome.step_clock_span < budget + 1.5


def _count_calls(monkeypatch, owner, name: str) -> list:
    """Record each call of ``owner.name`` (arguments dropped) and let it run."""
    calls = []
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def small_functions(count: int) -> str:
    """``count`` functions of about 28 syntax nodes, each with one flagged merge (KSL101)."""
    return HEAD + "".join(
        f"def f{j}(x):\n    y = layers.Dense(8)(x)\n    return layers.Add()([y, layers.Dense({j + 9})(x)])\n\n\n"
        for j in range(count))


def test_a_file_too_large_to_parse_within_the_budget_is_skipped(monkeypatch):
    """libcst's parse cannot be interrupted: a file it could not parse within what is left of the
    budget is not parsed; the decision is made from the size of the file, not from a clock."""
    cst_parses = _count_calls(monkeypatch, frontend, "parse")
    source = small_functions(120)  # about 3,400 syntax nodes
    nodes = sum(1 for _ in ast.walk(ast.parse(source)))
    seconds = nodes * prefilter.CST_S_PER_NODE  # what the guard expects libcst to take
    # half that time left of the budget when the analysis starts: not parsed
    budget = 30.0
    findings, analysis = analyse_text(source, Options(time_budget_s=budget),
                                      started=time.monotonic() - budget + seconds / 2)
    assert findings == [] and cst_parses == []
    assert any("parsing alone" in note for note in analysis.budget_notes)
    # twice that time left: parsed and analysed, every merge flagged
    findings, analysis = analyse_text(source, Options(time_budget_s=budget),
                                      started=time.monotonic() - budget + 2 * seconds + 5.0)
    assert cst_parses == ["parse"]
    assert [f.code for f in findings] == ["KSL101"] * 120


def test_a_huge_file_is_judged_by_its_tokens_before_any_parse(monkeypatch):
    """A 5 MB file (50,000 small Keras functions) costs the same as one of 40,000 tokens: neither
    the standard library's parser nor libcst reads it, on the command line or under flake8."""
    source = small_functions(50_000)
    assert len(source) > 4_500_000
    ast_parses = _count_calls(monkeypatch, ast, "parse")
    walks = _count_calls(monkeypatch, engine, "read_syntax")
    cst_parses = _count_calls(monkeypatch, frontend, "parse")
    matched = []
    real_finditer = prefilter._TOKEN.finditer

    class Tokens:  # counts the tokens the guard reads
        def finditer(self, text):
            for match in real_finditer(text):
                matched.append(None)
                yield match

    monkeypatch.setattr(prefilter, "_TOKEN", Tokens())
    tracemalloc.start()
    try:
        for tree in (None, ast.Module(body=[], type_ignores=[])):  # the command line; flake8
            findings, analysis = analyse_text(source, Options(time_budget_s=1.0), tree=tree)
            assert findings == []
            assert [note for note in analysis.budget_notes] == [
                f"more than {prefilter.MAX_NODES} tokens: too large to analyse"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ast_parses == walks == cst_parses == []
    assert len(matched) <= 2 * (prefilter.MAX_NODES + 1)  # comments aside, one match per token
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB allocated while judging the file"


def test_token_count_tracks_syntax_nodes():
    """The guard's estimate: tokens that make nodes (strings whole, comments none), up to a limit."""
    assert prefilter.count_tokens('x = """a b\nc d"""  # one two three\nf(1, 2.5e3)\n', 100) == 9
    assert prefilter.count_tokens("a + " * 1000, 10) == 11  # stops one past the limit
    for source in (small_functions(40), nested_ifs(20), cyclic_classes(), huge_ints()):
        nodes = sum(1 for _ in ast.walk(ast.parse(source)))
        tokens = prefilter.count_tokens(source, 10**6)
        assert 0.5 < nodes / tokens < 2.0, (nodes, tokens)


def test_time_budget_covers_imported_project_modules(configured, monkeypatch, tmp_path):
    """Imported project modules are read within the same per-file budget: once reading them has
    used its share, no further module is parsed.  A virtual clock makes each parse take 0.3 s."""
    clock = VirtualClock()
    monkeypatch.setattr(time, "monotonic", clock)
    budget = 0.5
    configured(timeout=budget)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'probe'\n")
    module = "import keras\n\n\n" + "".join(
        f"def f{j}(x, k={j}):\n    y = [x, k, {j} * 2, 'abc']\n    return keras.layers.Dense(k + 1)(x)\n\n\n"
        for j in range(20))
    for i in range(4):
        (tmp_path / f"big{i}.py").write_text(module)
    model = HEAD + "".join(f"import big{i}\n" for i in range(4)) + textwrap.dedent("""\


        def block(x):
            y = big0.f1(x) + big1.f1(x) + big2.f1(x) + big3.f1(x)
            return layers.Add()([x, y])
    """)
    (tmp_path / "model.py").write_text(model)
    parsed = []
    real_parse = frontend.parse

    def slow_parse(text):
        if "def f19" in text:  # one of the imported modules
            parsed.append(text)
            clock.advance(0.3)
        return real_parse(text)

    monkeypatch.setattr(frontend, "parse", slow_parse)
    outcome = run_plugin(model, monkeypatch, filename=str(tmp_path / "model.py"))
    assert len(parsed) == 1, f"{len(parsed)} imported modules parsed"
    assert "time budget (imports)" in outcome.statistics["budget"]
    assert_well_behaved(outcome)


def _subprocess_lint(tmp_path, source: str, argv: list[str]):
    """Run a linter on ``source`` in a child process (how fast is bench/'s question)."""
    target = tmp_path / "model.py"
    target.write_text(source)
    return subprocess.run([sys.executable, "-m", *argv, str(target)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)


def test_flake8_survives_a_long_boolean_chain(tmp_path):
    """Valid Python that CPython's ast accepts: flake8 hands it to the plugin."""
    source = "import keras\n\nflag = " + " and ".join(["True"] * 8000) + "\n"
    compile(source, "model.py", "exec")  # valid for CPython, so flake8 runs tree plugins on it
    result = _subprocess_lint(tmp_path, source, ["flake8", "--select", "KSL", "--ksl-report-incomplete"])
    assert result.returncode in (0, 1), f"flake8 died with status {result.returncode}: {result.stderr[-1500:]}"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("source", [
    "import keras\n\nx = " + "[" * 3000 + "1" + "]" * 3000 + "\n",
    "import keras\n\nx = " + "(" * 3000 + "\n",
], ids=["closed_brackets_3000", "unclosed_parens_3000"])
def test_cli_survives_deeply_nested_brackets(tmp_path, source):
    """Not valid for CPython (too many nested parentheses): the command line says so in one
    line naming the file and exits 2, as for any file it cannot read."""
    result = _subprocess_lint(tmp_path, source, ["keras_shape_lint", "--format", "json"])
    assert result.returncode == 2, f"status {result.returncode}: {result.stderr[-1500:]}"
    assert "Traceback" not in result.stderr
    [message] = result.stderr.splitlines()
    assert message.startswith("keras-shape-lint: error: ") and "model.py" in message
    assert result.stdout.strip() == "[]"


# --------------------------------------------------------------------------- (b) site-packages


SWEEP_TIMEOUT_S = 2.0
SAMPLE_EVERY = 80  # about 190 files of the ~15,000 here


def per_file_limit(lines: int) -> float:
    """--ksl-timeout, plus a margin for what follows the deadline, larger for a larger file."""
    return SWEEP_TIMEOUT_S + 1.5 + 0.25e-3 * lines


def site_packages_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["purelib"])
    return sorted(p for p in root.rglob("*.py") if p.is_file() and "__pycache__" not in p.parts)


def sweep(files):
    """Run analyse_text (as the CLI does) and the flake8 checker (as flake8 does) over ``files``.

    Time is read on the analysis's own clock, the step clock of these tests: a file must end
    within its budget and a bounded number of readings after it, whatever the machine's load.
    """
    options = Options(time_budget_s=SWEEP_TIMEOUT_S)
    escaped, slow, analysed = [], [], 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        limit = per_file_limit(text.count("\n") + 1)
        started = time.monotonic()
        try:
            _, analysis = analyse_text(text, options, str(path))
        except Exception as error:  # noqa: BLE001 -- what this test looks for
            escaped.append(f"{path}: analyse_text raised {type(error).__name__}: {error}"[:400]
                           + "\n" + _short_trace(error))
            continue
        step_clock_span = time.monotonic() - started  # the step clock: readings, not load
        if step_clock_span > limit:
            slow.append(f"{path}: analyse_text {step_clock_span:.1f} s on the clock, limit {limit:.1f} s")
        if analysis is None:
            continue
        analysed += 1
        started = time.monotonic()
        try:
            list(KerasShapeChecker(None, text.splitlines(keepends=True), str(path)).run())
        except Exception as error:  # noqa: BLE001
            escaped.append(f"{path}: KerasShapeChecker.run() raised {type(error).__name__}: {error}"[:400]
                           + "\n" + _short_trace(error))
            continue
        step_clock_span = time.monotonic() - started
        if step_clock_span > limit:
            slow.append(f"{path}: checker {step_clock_span:.1f} s on the clock, limit {limit:.1f} s")
    return escaped, slow, analysed


def test_site_packages_sample(configured):
    configured(timeout=SWEEP_TIMEOUT_S)
    files = site_packages_files()
    if len(files) < 100:
        pytest.skip("site-packages holds too few files for a sample")
    sample = files[::SAMPLE_EVERY]
    escaped, slow, analysed = sweep(sample)
    assert not escaped, "\n".join(escaped)
    assert not slow, "over the per-file budget (--ksl-timeout + parsing):\n" + "\n".join(slow)
    assert analysed >= 5 or not any("keras" in str(p) for p in sample)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("KSL_FULL_SWEEP"), reason="set KSL_FULL_SWEEP=1 for the full sweep (minutes)")
def test_site_packages_full_sweep(configured):
    configured(timeout=SWEEP_TIMEOUT_S)
    escaped, slow, _ = sweep(site_packages_files())
    assert not escaped, "\n".join(escaped)
    assert not slow, "over the per-file budget (--ksl-timeout + parsing):\n" + "\n".join(slow)


# --------------------------------------------------------------------------- (c) generated source

try:
    from hypothesis import HealthCheck, given, settings
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    given = None
try:
    import hypothesmith
except ImportError:  # pragma: no cover
    hypothesmith = None

PREFIXES = {
    "plain": "",
    "keras": "import keras\nfrom keras import layers\n",
    "tf_keras": "import tensorflow as tf\nfrom tensorflow.keras.layers import Add, Concatenate, Conv2D\n",
}


def _check_generated(source: str, monkeypatch):
    outcome = run_plugin(source, monkeypatch)
    assert outcome.step_clock_span < TIME_LIMIT_S, f"took {outcome.step_clock_span:.1f} s on the step clock"
    for line, col, message, _ in outcome.results:
        assert RESULT.match(message) and line >= 1 and col >= 0, message[:200]


if given is not None and hypothesmith is not None:
    # Build each strategy once: hypothesmith compiles the grammar when a strategy is made.
    GRAMMAR_SOURCE = hypothesmith.from_grammar()
    NODE_SOURCE = hypothesmith.from_node()
    GENERATED = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))

    @pytest.mark.parametrize("prefix", sorted(PREFIXES))
    def test_generated_source_never_raises(prefix, configured, monkeypatch):
        @GENERATED
        @given(GRAMMAR_SOURCE)
        def check(source):
            _check_generated(PREFIXES[prefix] + source, monkeypatch)

        check()

    def test_generated_function_bodies_never_raise(configured, monkeypatch):
        """Generated statements inside a Keras block whose merge follows them."""

        @settings(max_examples=10, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(NODE_SOURCE)
        def check(body):
            indented = textwrap.indent(body, "    ") if body.strip() else "    pass\n"
            source = (PREFIXES["keras"] + "\n\ndef block(x, filters=64, flag=True):\n" + indented
                      + "\n    return layers.Add()([x, layers.Conv2D(filters, 1)(x)])\n")
            _check_generated(source, monkeypatch)

        check()
else:  # pragma: no cover

    def test_generated_source_never_raises():
        pytest.skip("hypothesis or hypothesmith is not installed")


# --------------------------------------------------------------------------- (d) flake8 -j


def _flake8(*args):
    # the default codes: KSL9xx and the strict KSL2xx say when a budget or the solver's time ran
    # out, which depends on how busy the machine is, so two runs need not agree on them
    return subprocess.run([sys.executable, "-m", "flake8", "--select", "KSL1", "--ksl-no-cache", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_parallel_flake8_matches_serial_on_the_fixtures():
    serial = _flake8("-j", "1", "fixtures")
    parallel = _flake8("-j", "2", "fixtures")
    assert serial.returncode == parallel.returncode, (serial.stderr[-2000:], parallel.stderr[-2000:])
    assert "Traceback" not in serial.stderr + parallel.stderr
    assert serial.stdout.strip(), "expected findings on the fixtures"
    serial_lines = sorted(serial.stdout.splitlines())
    parallel_lines = sorted(parallel.stdout.splitlines())
    differing = sorted(set(serial_lines) ^ set(parallel_lines))
    assert serial_lines == parallel_lines, "-j 1 and -j 2 differ:\n" + "\n".join(
        ("-j1 " if line in serial_lines else "-j2 ") + line[:300] for line in differing)


# --------------------------------------------------------------------------- (e) syntax errors

BROKEN = {
    "unclosed_paren": "def block(x:\n    return layers.Add()([x, x])\n",
    "bad_indent": "def block(x):\nreturn layers.Add()([x, x])\n",
    "unexpected_indent": "    x = 1\ny = layers.Add()([x, x])\n",
    "python2_print": "print 'hello'\ny = layers.Add()([x, x])\n",
    "unterminated_string": "s = 'abc\ny = layers.Add()([x, x])\n",
    "unterminated_triple": 's = """abc\ny = layers.Add()([x, x])\n',
    "stray_token": "def block(x):\n    return layers.Add()([x, x]) $\n",
    "assign_to_literal": "1 = layers.Add()([x, x])\n",
    "null_byte": "x = 1\x00\ny = layers.Add()([x, x])\n",
    "mixed_tabs": "def block(x):\n\tif x:\n        return layers.Add()([x, x])\n",
    "lone_else": "else:\n    y = layers.Add()([x, x])\n",
    "half_function": "def block(x, filters=64):\n",
    "only_decorator": "@keras.saving.register_keras_serializable()\n",
    "too_many_parens": "x = " + "(" * 300 + "\n",
    "bom_in_middle": "x = 1\n\ufeffy = layers.Add()([x, x])\n",
}


@pytest.mark.parametrize("report_incomplete", [False, True], ids=["default", "report-incomplete"])
@pytest.mark.parametrize("name", sorted(BROKEN))
def test_syntax_errors_yield_nothing(name, report_incomplete, configured, monkeypatch):
    configured(report_incomplete=report_incomplete)
    source = HEAD + BROKEN[name]
    with pytest.raises((SyntaxError, ValueError, RecursionError, MemoryError)):
        compile(source, "model.py", "exec")
    outcome = run_plugin(source, monkeypatch)
    assert outcome.results == []
    assert outcome.step_clock_span < TIME_LIMIT_S


@pytest.mark.parametrize("lines", [[], None, [""], ["\n"], ["import keras"], ["import keras\r\n", "x = 1\r\n"]],
                         ids=["empty", "none", "blank", "newline", "no_newline", "crlf"])
def test_degenerate_inputs_yield_nothing(lines, configured):
    assert list(KerasShapeChecker(None, lines).run()) == []


# Code from keras and tensorflow's own sources that once raised inside the analysis (KSL902):
# each is reduced to the construct that did it.
ONCE_INTERNAL_ERRORS = {
    # a chain whose first comparison the analysis cannot decide (keras Cropping2D)
    "undecided_comparison_chain": """
        class Crop(layers.Layer):
            def __init__(self, cropping):
                super().__init__()
                self.cropping = cropping

            def call(self, x):
                if self.cropping[0][1] == self.cropping[1][1] == 0:
                    return x
                return layers.Dense(4)(x)
    """,
    # a tensor as a slice bound (keras's TensorFlow resize)
    "tensor_slice_bound": """
        def f(images, n=3):
            y = layers.Conv2D(8, 3)(images)
            start = layers.Dense(1)(images)
            return y[:, start:start + n, :, :]
    """,
    # a rank-0 weight times a tensor of unknown rank (keras Attention's scale)
    "scalar_times_unknown_rank": """
        class Scaled(layers.Layer):
            def build(self, input_shape):
                self.scale = self.add_weight(shape=(), initializer="ones")

            def call(self, x):
                y = layers.MultiHeadAttention(2, 4)(x, x)
                return y * self.scale
    """,
    # the output shape a layer declares, asked when its call() cannot be read, on a path whose
    # declaration raises on one branch: the path the call ended on was left inside it (RetinaNet)
    "declared_shape_that_raises_on_a_branch": """
        from elsewhere import unknown_op


        class Head(layers.Layer):
            def call(self, x):
                return unknown_op(x)

            def compute_output_shape(self, input_shape):
                if input_shape[-1] == 3:
                    raise ValueError("three channels are not supported")
                return input_shape


        class Model(keras.Model):
            def __init__(self, width, **kwargs):
                inputs = keras.Input((8, width))
                y = Head()(inputs)
                super().__init__(inputs, layers.Add()([inputs, y]), **kwargs)
    """,
    # a free number ordered against the batch size, None for a Keras input (a plotting helper
    # of a U-Net package: ``if count > images.shape[0]``)
    "free_number_ordered_against_none": """
        def f(x, count=10):
            y = layers.Dense(4)(x)
            if count > x.shape[0]:
                count = 1
            return y
    """,
    # the same with a property whose getter raises on one branch
    "property_that_raises_on_a_branch": """
        class Head(layers.Layer):
            def __init__(self, width, **kwargs):
                super().__init__(**kwargs)
                self.width = width

            @property
            def units(self):
                if self.width == 3:
                    raise ValueError("three is not supported")
                return self.width

            def call(self, x):
                return layers.Dense(self.units)(x)


        class Model(keras.Model):
            def __init__(self, width, **kwargs):
                inputs = keras.Input((8, 16))
                y = Head(width)(inputs)
                super().__init__(inputs, layers.Add()([inputs, y]), **kwargs)
    """,
}


@pytest.mark.parametrize("name", sorted(ONCE_INTERNAL_ERRORS))
def test_constructs_that_once_failed_inside_are_analysed(name):
    findings, analysis = analyse_text(HEAD + textwrap.dedent(ONCE_INTERNAL_ERRORS[name]))
    assert analysis.internal_errors == []
    assert findings == []
