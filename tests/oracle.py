"""The Keras oracle: run the analyser on fixtures, then let Keras judge its answers.

Fixture modules in ``fixtures/`` carry their expectations inline:

* ``x = Add()([x, shortcut])  # KSL102`` -- the analyser must report KSL102 on this
  line (several codes: ``# KSL102 KSL103``); lines without such a comment must stay
  silent.
* ``# oracle: build_model(input_shape=(32, 32, 3))`` -- a module-level comment with a
  Python expression that builds the fixture as it is meant to be used.  It is
  evaluated in the module's namespace (plus ``keras``) and must build without error.

For every finding the analyser reports, its witness is replayed through Keras: the
merge on the finding's line must raise Keras's own merge error.  Nothing here imports
Keras at module import time; the helpers that build graphs import it lazily, after
``tests/conftest.py`` has chosen the backend.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import os
import re
import subprocess
import sys
import tokenize
import traceback
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES_DIR = REPO_ROOT / "fixtures"

# The errors Keras 3 raises when a merge's inputs do not fit together:
# element-wise merge layers (Add, Subtract, ..., and their functional forms),
# Concatenate / concatenate, the KerasTensor operators (x + y, x * y, ...) and keras.ops
# (ops.add broadcasts like the operators; ops.concatenate has its own message).
MERGE_ERROR = re.compile(
    r"Inputs have incompatible shapes"
    r"|A `Concatenate` layer requires inputs with matching shapes except for the concatenation axis"
    r"|Cannot broadcast shape"
    r"|Every value in `xs` must have the same shape except on the `axis` dim"
    r"|Dimensions must be equal"  # TensorFlow tracing a layer's call(): x * self.gamma
    r"|Dimension \d+ in both shapes must be equal"  # ... and its ops.concatenate (ConcatV2)
    # JAX tracing a layer's call(): older releases say "Incompatible shapes for broadcasting",
    # newer "add got incompatible shapes for broadcasting" (a TypeError), and jnp.concatenate
    # its own words
    r"|(?i:incompatible shapes for broadcasting)"
    r"|Cannot concatenate arrays with shapes that differ in dimensions other than the one being"
)
# JAX reports shape errors as TypeError; Keras and TensorFlow as ValueError
MERGE_ERROR_TYPES = (ValueError, TypeError)

_EXPECTATION = re.compile(r"^#\s*(KSL\d{3}(?:[\s,]+KSL\d{3})*)\s*$")
_ORACLE = re.compile(r"^#\s*oracle:\s*(?P<expression>.+?)\s*$")
_BACKENDS = re.compile(r"^#\s*oracle-backends:\s*(?P<backends>[\w\s,]+?)\s*--\s*(?P<reason>.+?)\s*$")


# --------------------------------------------------------------------------- fixtures


def fixture_paths() -> list[Path]:
    """Every fixture module, sorted by name."""
    return sorted(p for p in FIXTURES_DIR.glob("*.py") if not p.name.startswith("_"))


def _comments(path: Path):
    """(line, column, text) of every comment token in the file."""
    source = Path(path).read_text(encoding="utf-8")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.start[1], token.string


def expected_findings(path: Path) -> set[tuple[int, str]]:
    """The (line, code) pairs a fixture's inline comments ask for."""
    expected = set()
    for line, _, text in _comments(path):
        match = _EXPECTATION.match(text)
        if match:
            for code in re.findall(r"KSL\d{3}", match.group(1)):
                expected.add((line, code))
    return expected


def oracle_lines(path: Path) -> list[tuple[int, str]]:
    """(line, expression) of every module-level ``# oracle:`` comment."""
    found = []
    for line, column, text in _comments(path):
        match = _ORACLE.match(text)
        if match and column == 0:
            found.append((line, match.group("expression")))
    return found


def oracle_backends(path: Path) -> tuple[set[str], str] | None:
    """The Keras backends a fixture's ``# oracle:`` lines hold on, and why, when a module-level
    ``# oracle-backends: tensorflow -- reason`` comment limits them (None: every backend).

    For code whose build depends on the backend for reasons that are no merge's (JAX's
    symbolic shapes, a backend's fused kernel), so that the oracle on another backend
    reports those lines as not applicable instead of as a wrong clean verdict.
    """
    for _line, column, text in _comments(path):
        match = _BACKENDS.match(text)
        if match and column == 0:
            return {name.strip() for name in match.group("backends").split(",")}, match.group("reason")
    return None


def is_clean(path: Path) -> bool:
    return not expected_findings(path)


def display_path(path: Path) -> str:
    """The path as the analyser is given it: relative to the repository root (code outside
    it, such as an installed corpus, by its full path)."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return resolved.as_posix()


# --------------------------------------------------------------------------- analyser


class AnalyserError(RuntimeError):
    pass


def run_analyser(paths, timeout: float = 600) -> dict[str, list[dict]]:
    """Run ``python -m keras_shape_lint --format json`` once on all ``paths``.

    Returns the findings grouped by repository-relative path (every given path
    has an entry, possibly empty).  Raises AnalyserError when the command fails
    or prints something that is not the JSON list of findings.
    """
    relative = [display_path(p) for p in paths]
    command = [sys.executable, "-m", "keras_shape_lint", "--format", "json", *relative]
    try:
        completed = subprocess.run(
            command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as error:
        raise AnalyserError(f"analyser timed out after {timeout}s") from error
    if completed.returncode not in (0, 1):
        raise AnalyserError(
            f"analyser exited with {completed.returncode}\n"
            f"stderr (tail):\n{completed.stderr[-4000:]}"
        )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError as error:
        raise AnalyserError(
            f"analyser printed no JSON ({error})\nstdout (head):\n{completed.stdout[:2000]}\n"
            f"stderr (tail):\n{completed.stderr[-4000:]}"
        ) from error
    if not isinstance(report, list):
        raise AnalyserError(f"analyser JSON is not a list: {type(report).__name__}")
    grouped: dict[str, list[dict]] = {path: [] for path in relative}
    for finding in report:
        key = _normalise_report_path(finding.get("path", ""))
        grouped.setdefault(key, []).append(finding)
    return grouped


def _normalise_report_path(path: str) -> str:
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = REPO_ROOT / candidate
    try:
        return candidate.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path


def reported(findings: list[dict]) -> set[tuple[int, str]]:
    return {(f["line"], f["code"]) for f in findings}


def describe(findings: list[dict]) -> str:
    return "\n".join(
        f"  line {f.get('line')}: {f.get('code')} {f.get('message', '')}"
        f" witness={json.dumps(f.get('witness'))}"
        for f in sorted(findings, key=lambda f: (f.get("line", 0), f.get("code", "")))
    )


# --------------------------------------------------------------------------- Keras side

_counter = itertools.count()


def keras():
    """The keras module, imported once the backend has been chosen."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras as keras_module

    return keras_module


def import_fixture(path: Path):
    """Import a fixture file as a fresh module under a unique name."""
    path = Path(path).resolve()
    keras()  # choose the backend before the fixture imports anything
    name = f"ksl_fixture_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def witness_value(value):
    """A witness argument as Python: {"shape": [None, ...]} becomes keras.Input."""
    if isinstance(value, dict) and "shape" in value:
        shape = list(value["shape"])
        batch = shape[0] if shape else None
        kwargs = {}
        if batch is not None:
            kwargs["batch_size"] = batch
        if value.get("dtype"):
            kwargs["dtype"] = value["dtype"]
        return keras().Input(shape=tuple(shape[1:]), **kwargs)
    if isinstance(value, list):
        converted = [witness_value(item) for item in value]
        if all(not isinstance(item, (dict, list)) for item in value):
            return tuple(converted)  # tuple-valued parameters (kernel sizes, input shapes)
        return converted
    if isinstance(value, dict):
        return {key: witness_value(item) for key, item in value.items()}
    return value


@dataclass
class BuildOutcome:
    error: BaseException | None
    result: object = None
    layer: object = None  # for a layer class's witness: the constructed layer


def build_from_witness(path: Path, witness: dict, lists=frozenset()) -> BuildOutcome:
    """Replay a witness: call ``entry(**args)`` (entry None: import the module);
    for a layer class, call the constructed layer on the ``call`` inputs.  A flat list is
    passed as a tuple (a kernel size, a shape) but for the parameters named in ``lists``
    (:func:`list_parameters`).

    Returns what happened; an exception raised while building is captured, not
    propagated.
    """
    if witness is None:
        raise AssertionError("finding has no witness")
    entry = witness.get("entry")
    args = witness.get("args") or {}
    if entry is None:
        try:
            module = import_fixture(path)
        except Exception as error:  # noqa: BLE001 -- the build failure is the point
            return BuildOutcome(error)
        return BuildOutcome(None, module)
    module = import_fixture(path)
    function = module
    for part in entry.split("."):
        function = getattr(function, part)
    arguments = {name: list(value) if name in lists and isinstance(value, list) else witness_value(value)
                 for name, value in args.items()}
    layer = None
    try:
        result = function(**arguments)
        if "call" in witness:
            # a layer class: construct it, then call it on the witness inputs, in order
            # the first input positionally, the others by name (Keras takes only tensors positionally)
            layer = result
            (_, value), *rest = witness["call"].items()
            result = result(witness_value(value), **{name: witness_value(v) for name, v in rest})
    except Exception as error:  # noqa: BLE001
        return BuildOutcome(error, layer=layer)
    return BuildOutcome(None, result, layer)


def _exception_chain(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def frames_in(error: BaseException, path: Path) -> list[int]:
    """Line numbers at which ``error``'s traceback passes through ``path``."""
    target = os.path.realpath(path)
    lines = []
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        if os.path.realpath(frame.f_code.co_filename) == target:
            lines.append(lineno)
    return lines


def assert_merge_error_at(error: BaseException | None, path: Path, line: int, on_data: bool = False) -> None:
    """The build raised Keras's merge ValueError, and it came from ``path``:``line``
    (``on_data``: running on data raised the backend's shape error there)."""
    label = f"{display_path(path)}:{line}"
    if error is None:
        raise AssertionError(f"{label}: the witness built without error; the merge did not fail")
    lines: list[int] = []
    for candidate in _exception_chain(error):
        # a wrapped error's own traceback may start inside Keras: then the fixture
        # frames of the exception around it stand in
        lines = frames_in(candidate, path) or lines
        shape_error = DATA_ERROR.search(str(candidate)) if on_data else (
            isinstance(candidate, MERGE_ERROR_TYPES) and MERGE_ERROR.search(str(candidate)))
        if shape_error:
            # the innermost frame in the fixture is the statement that called Keras
            if lines and lines[-1] == line:
                return
            raise AssertionError(
                f"{label}: Keras raised the merge error, but the innermost fixture frame of "
                f"its traceback is at line {lines[-1] if lines else None} (fixture frames: "
                f"{lines}), not {line}:\n{_format(candidate)}"
            )
    raise AssertionError(
        f"{label}: the build failed, but not with Keras's merge error ({_root_cause(error)}):\n{_format(error)}"
    )


def _root_cause(error: BaseException) -> str:
    """The innermost exception ``error`` wraps, in one line: its type, the first line of its
    message and where it was raised (what a report cut short should still show)."""
    root = list(_exception_chain(error))[-1]
    first = next((line for line in str(root).splitlines() if line.strip()), "")
    frames = traceback.extract_tb(root.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(root).__name__}: {first[:200]}{where}"


def merge_error_line(error: BaseException | None, path: Path) -> tuple[bool, int | None]:
    """Whether ``error`` is (or wraps) Keras's merge ValueError, and the innermost line of
    ``path`` in its traceback (None when the traceback never passes through ``path``).

    The same reading of a traceback as ``assert_merge_error_at``, for callers that ask
    *where* a merge failed instead of asserting one line (mutation testing).
    """
    if error is None:
        return False, None
    lines: list[int] = []
    for candidate in _exception_chain(error):
        lines = frames_in(candidate, path) or lines
        if isinstance(candidate, MERGE_ERROR_TYPES) and MERGE_ERROR.search(str(candidate)):
            return True, (lines[-1] if lines else None)
    return False, (lines[-1] if lines else None)


def _format(error: BaseException) -> str:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return text[-4000:]


_LIST_TEST = re.compile(r"^isinstance\((?:self\.)?(\w+), list\)$")


def list_parameters(finding: dict) -> frozenset:
    """The parameters a finding's path took for lists (``isinstance(x, list)`` among its
    decisions): JSON writes lists and tuples alike, and the witness holds for a list."""
    return frozenset(m.group(1) for text in finding.get("path_condition") or () if (m := _LIST_TEST.match(text)))


def write_module(folder: Path, name: str, text: str) -> Path:
    """``text`` written as the module ``name`` in ``folder`` (a test's own source, which the
    analyser reads with its path and Keras builds from the witness)."""
    path = folder / name
    path.write_text(text)
    return path


def analyse_module(folder: Path, name: str, text: str):
    """``text`` written as the module ``name`` in ``folder`` and analysed there: (its path, the
    findings, the statistics)."""
    from keras_shape_lint.analysis import analyse_text

    path = write_module(folder, name, text)
    findings, analysis = analyse_text(text, None, str(path))
    return path, findings, analysis.statistics()


def check_finding(path: Path, finding: dict) -> None:
    """Build from the finding's witness and demand what the code says happens there.

    KSL101-104: the merge raises at its line.  KSL105: the build succeeds and the
    merge at that line really received one single-channel input and one wider.  KSL106: the
    build succeeds and data fails at the merge.
    """
    if finding["code"] == "KSL106":
        witness = finding.get("witness")
        outcome = build_from_witness(path, witness, list_parameters(finding))
        if witness and witness.get("call"):
            # a layer that declares compute_output_shape() is built without running call(): it
            # builds on Keras inputs, and data fails at the merge
            assert outcome.error is None, f"KSL106 witness did not build: {_format(outcome.error)}"
            assert_merge_error_at(call_on_data(outcome.layer, witness), path, finding["line"], on_data=True)
            return
        if outcome.error is not None and os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
            # JAX's symbolic shapes relate sizes TensorFlow leaves unknown until data comes: the
            # merge the data would fail may fail while building, at the same line
            assert_merge_error_at(outcome.error, path, finding["line"])
            return
        assert outcome.error is None, f"KSL106 witness did not build: {_format(outcome.error)}"
        _assert_data_fails(outcome.result, witness["data"], witness.get("data_names"))
        return
    if finding["code"] == "KSL105":
        with recorded_merges() as merges:
            outcome = build_from_witness(path, finding.get("witness"), list_parameters(finding))
        assert outcome.error is None, f"KSL105 witness did not build: {_format(outcome.error)}"
        target = os.path.realpath(path)
        at_line = [shapes for where, shapes in merges if where == (target, finding["line"])]
        assert at_line, f"no merge was built at line {finding['line']}"
        assert any(_broadcasts_one_channel(shapes) for shapes in at_line), f"merge shapes {at_line}"
        return
    witness = finding.get("witness")
    outcome = build_from_witness(path, witness, list_parameters(finding))
    assert_merge_error_at(outcome.error, path, finding["line"])


def call_on_data(layer, witness) -> BaseException | None:
    """Call a built layer on zeros shaped as the witness's inputs (batch 1); the error, if any."""
    import numpy as np

    def data(value):
        if isinstance(value, dict) and "shape" in value:
            return np.zeros([1] + [d or 1 for d in value["shape"][1:]], dtype="float32")
        if isinstance(value, list) and any(isinstance(item, dict) for item in value):
            return [data(item) for item in value]  # several inputs passed as one sequence
        return witness_value(value)

    (_, first), *rest = witness["call"].items()
    try:
        layer(data(first), **{name: data(value) for name, value in rest})
    except Exception as error:  # noqa: BLE001 -- the failure is the point
        return error
    return None


DATA_ERROR = re.compile(r"[Ii]ncompatible shapes|broadcast|must match|do not match|Dimensions? .* must be")


def _assert_data_fails(model, shapes, names=None) -> None:
    """The built model fails on data of the witness's sizes (one sample)."""
    import numpy as np

    assert isinstance(model, keras().Model), f"the entry returned {type(model).__name__}, not a Model"
    given = [list(shape) for shape in shapes]
    named = list(names) if names and len(names) == len(given) else [None] * len(given)

    def sample(tensor):
        # an Input with sizes Keras does not know takes the witness shape given for its name
        # (the order of a dict of Inputs is Keras's, not the code's), else the next one of its
        # rank that agrees with what it knows; one whose shape is fully known takes that shape
        known = list(tensor.shape)
        if all(d is not None for d in known[1:]):
            return np.zeros([1] + known[1:], dtype="float32")
        if tensor.name in named:
            at = named.index(tensor.name)
            del named[at]
            return np.zeros([1] + given.pop(at)[1:], dtype="float32")
        for at, shape in enumerate(given):
            if len(shape) == len(known) and all(k is None or k == d for k, d in zip(known[1:], shape[1:])):
                del given[at], named[at]
                return np.zeros([1] + shape[1:], dtype="float32")
        raise AssertionError(f"no witness shape for the input {tensor.name} of shape {known} (given {shapes})")

    structure = getattr(model, "_inputs_struct", None)
    batch = keras().tree.map_structure(sample, structure if structure is not None else model.inputs)
    try:
        model(batch)
    except Exception as error:  # noqa: BLE001 -- the failure is the point
        assert DATA_ERROR.search(str(error)), f"failed, but not on shapes: {str(error)[:500]}"
        return
    raise AssertionError(f"the model ran on data of shapes {shapes}")


def _broadcasts_one_channel(shapes) -> bool:
    channels = [shape[-1] for shape in shapes]
    return 1 in channels and any(c not in (1, None) for c in channels)


class recorded_merges:
    """Record the input shapes of every Keras merge layer built, with the fixture line
    that called it (the innermost frame outside Keras)."""

    def __enter__(self):
        from keras.src.layers.merging.base_merge import Merge

        self._merge = Merge
        self._build = Merge.build
        self.records = []
        records = self.records

        def build(layer, input_shape):
            frame = sys._getframe(1)
            while frame is not None and ("keras" + os.sep) in frame.f_code.co_filename:
                frame = frame.f_back
            where = (os.path.realpath(frame.f_code.co_filename), frame.f_lineno) if frame else None
            records.append((where, [tuple(s) for s in input_shape]))
            return self._build(layer, input_shape)

        Merge.build = build
        return self.records

    def __exit__(self, *exc):
        self._merge.build = self._build
        return False


def eval_oracle(path: Path, expression: str, module=None):
    """Evaluate an ``# oracle:`` expression in the fixture's namespace (plus ``keras``)."""
    if module is None:
        module = import_fixture(path)
    namespace = dict(vars(module))
    namespace.setdefault("keras", keras())
    return eval(compile(expression, f"<oracle {display_path(path)}>", "eval"), namespace)
