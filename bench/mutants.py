"""Mutation testing of keras-shape-lint, with Keras itself as the judge.

    python bench/mutants.py                   # every module, every operator (several minutes)
    python bench/mutants.py -j 2              # two worker processes
    python bench/mutants.py --module resnet --operator guard_drop
    python bench/mutants.py --list            # the mutants only, no Keras, no analysis
    python bench/mutants.py --json out.json   # also dump every result

The corpus is the installed Keras's ``keras/src/applications/*.py`` (tests excluded),
located with ``importlib.util.find_spec`` and never copied into the repository.  Each
mutation operator below finds every site it applies to in a module's source (libcst),
and each site gives one mutant: (module, mutant id, description, mutated source).
Mutations keep every line where it was, so a mutant's line numbers are the original's.

Ground truth, per mutant: the source is written under a temporary
``.../keras/src/applications/<original name>.py`` (the sibling modules of the corpus are
linked next to it, so the analyser reads them as it does for the real file; Python
resolves the mutant's absolute ``keras.src...`` imports to the installed package),
imported under a unique module name, and the smallest model builder of its family is
called with ``weights=None`` in a couple of configurations (``BUILDERS``).

* ``rejected`` -- some build raised Keras's merge ``ValueError`` (``oracle.MERGE_ERROR``)
  and the innermost frame of its traceback inside the mutant file is at a merge (a merge
  layer call, or an element-wise operator expression);
* ``builds``   -- every build succeeded;
* ``other``    -- anything else (another exception, or a merge error raised elsewhere);
  excluded from the counts.

The analyser's verdict: ``analyse_text`` on the mutant source, with ``path`` set to the
temporary file, reports a KSL101-KSL105 finding (``flagged``) or not.  Other KSL1xx codes
(failures that only show once data flows) are listed in parentheses and not counted.  A finding on a
mutant that builds in the tried configurations is still *real* when its witness, replayed
through Keras on the mutant file (``oracle.check_finding``), makes the merge raise at the
finding's line; otherwise it is a false alarm.

Metrics: recall = flagged / rejected (target >= 90%); false alarms = flagged mutants that
build and whose findings all fail to replay (target 0).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import importlib.util
import io
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

# --------------------------------------------------------------------------- corpus


def applications_dir() -> Path:
    """``keras/src/applications`` of the installed Keras (found without importing it)."""
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("keras is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "src" / "applications"


def corpus_files() -> list[Path]:
    """The corpus modules: ``keras/src/applications/*.py`` except tests and ``__init__``."""
    folder = applications_dir()
    return sorted(
        p for p in folder.glob("*.py") if not p.name.endswith("_test.py") and p.name != "__init__.py"
    )


# The smallest public model builder of each family, and the configurations it is built
# in (each mutant is built in these, in order, until one is rejected at a merge).
DEFAULT_CONFIGS = ({"include_top": True}, {"include_top": False})
BUILDERS: dict[str, tuple[str, tuple[dict, ...]]] = {
    "convnext.py": ("ConvNeXtTiny", DEFAULT_CONFIGS),
    "densenet.py": ("DenseNet121", DEFAULT_CONFIGS),
    "efficientnet.py": ("EfficientNetB0", DEFAULT_CONFIGS),
    "efficientnet_v2.py": ("EfficientNetV2B0", DEFAULT_CONFIGS),
    "inception_resnet_v2.py": ("InceptionResNetV2", DEFAULT_CONFIGS),
    "inception_v3.py": ("InceptionV3", DEFAULT_CONFIGS),
    "mobilenet.py": ("MobileNet", DEFAULT_CONFIGS),
    "mobilenet_v2.py": ("MobileNetV2", DEFAULT_CONFIGS),
    # MobileNetV3's default input is (None, None, 3) even with the top: one build with
    # concrete sizes, so that spatial mismatches are seen at all.
    "mobilenet_v3.py": ("MobileNetV3Small", ({"include_top": True, "input_shape": (224, 224, 3)},
                                             {"include_top": False})),
    "nasnet.py": ("NASNetMobile", DEFAULT_CONFIGS),
    "resnet.py": ("ResNet50", DEFAULT_CONFIGS),
    "resnet_v2.py": ("ResNet50V2", DEFAULT_CONFIGS),
    "vgg16.py": ("VGG16", DEFAULT_CONFIGS),
    "vgg19.py": ("VGG19", DEFAULT_CONFIGS),
    "xception.py": ("Xception", DEFAULT_CONFIGS),
}

# --------------------------------------------------------------------------- syntax helpers

MERGE_LAYERS = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"}
ELEMENTWISE_LAYERS = MERGE_LAYERS - {"Concatenate"}
MERGE_FUNCTIONS = {name.lower() for name in MERGE_LAYERS}
ELEMENTWISE_FUNCTIONS = {name.lower() for name in ELEMENTWISE_LAYERS}
# layers whose first argument is the number of output channels
FILTER_LAYERS = {
    "Conv1D", "Conv2D", "Conv3D", "SeparableConv1D", "SeparableConv2D",
    "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Dense",
}
STRIDED_LAYERS = FILTER_LAYERS - {"Dense"} | {"DepthwiseConv1D", "DepthwiseConv2D"}
CONV_LAYERS = FILTER_LAYERS | {"DepthwiseConv1D", "DepthwiseConv2D"}


def dotted(node) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr.value}" if head else ""
    return ""


def last_part(node) -> str:
    return dotted(node).rsplit(".", 1)[-1]


def code_of(node) -> str:
    return cst.Module(body=[]).code_for_node(node)


def int_value(node):
    if isinstance(node, cst.Integer):
        return int(node.value)
    return None


def is_one(node) -> bool:
    """A literal 1 or (1, 1, ...)."""
    if int_value(node) == 1:
        return True
    if isinstance(node, cst.Tuple) and node.elements:
        return all(int_value(e.value) == 1 for e in node.elements)
    return False


def as_two(node):
    """2, or a tuple of 2s shaped like ``node``."""
    if isinstance(node, cst.Tuple):
        return node.with_changes(
            elements=[e.with_changes(value=cst.Integer("2")) for e in node.elements]
        )
    return cst.Integer("2")


def keyword(call: cst.Call, name: str):
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def positional(call: cst.Call) -> list:
    return [arg for arg in call.args if arg.keyword is None and not arg.star]


def replace(node, new) -> tuple:
    """An edit: ``node``'s text becomes ``new``'s (a node or a string).

    The span replaced is the node's own syntax; parentheses around it stay in the text,
    so a replacement made from the node (``with_changes``) drops its copy of them.
    """
    if not isinstance(new, str):
        if getattr(node, "lpar", None) and getattr(new, "lpar", None):
            new = new.with_changes(lpar=[], rpar=[])
        new = code_of(new)
    return ("replace", node, new)


def insert_after(node, text: str) -> tuple:
    """An edit: ``text`` goes right after ``node``'s own text."""
    return ("after", node, text)


def set_keyword(call: cst.Call, name: str, value) -> tuple:
    """An edit setting keyword ``name`` of ``call`` to ``value`` (replaced, or added after
    the last argument, before any trailing comma, so no line moves)."""
    existing = keyword(call, name)
    text = value if isinstance(value, str) else code_of(value)
    if existing is not None:
        return replace(existing.value, text)
    if not call.args:
        raise ValueError("no argument to add a keyword after")
    return insert_after(call.args[-1].value, f", {name}={text}")


def rescale(expr):
    """A channel count changed by a factor of two: ``4 * f`` -> ``2 * f``, ``f`` -> ``f * 2``."""
    n = int_value(expr)
    if n is not None:
        return cst.Integer(str(n // 2 if n >= 2 and n % 2 == 0 else n * 2))
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Multiply):
        for side in ("left", "right"):
            k = int_value(getattr(expr, side))
            if k is not None:
                return expr.with_changes(**{side: cst.Integer(str(k // 2 if k >= 2 else k * 2))})
    if isinstance(expr, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)) and not expr.lpar:
        inner = expr
    else:
        inner = expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.BinaryOperation(
        left=inner, operator=cst.Multiply(cst.SimpleWhitespace(" "), cst.SimpleWhitespace(" ")),
        right=cst.Integer("2"),
    )


def filters_arg(call: cst.Call, *, helper: bool = False):
    """The argument holding a conv call's channel count (None if there is none).

    A Keras layer takes it first (``filters=``/``units=``); a helper function of the
    module (``conv2d_bn(x, filters, ...)``) second, after the input tensor.
    """
    for name in ("filters", "units"):
        arg = keyword(call, name)
        if arg is not None:
            return arg
    args = positional(call)
    index = 1 if helper else 0
    return args[index] if len(args) > index else None


# --------------------------------------------------------------------------- module facts


@dataclass
class Merge:
    node: cst.CSTNode          # the call (or the binary operation)
    statement: cst.CSTNode     # the simple statement line holding it
    function: cst.FunctionDef | None
    kind: str                  # "layer", "function" or "operator"
    elementwise: bool
    operands: list             # the operand expressions (List elements' values)
    line: int


@dataclass
class Assignment:
    name: str
    value: cst.CSTNode
    line: int
    statement: cst.CSTNode
    function: cst.FunctionDef | None


class ModuleFacts(cst.CSTVisitor):
    """Everything the operators need to know about one module, found in one pass."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, wrapper_positions):
        super().__init__()
        self.pos = wrapper_positions
        self.functions: dict[str, cst.FunctionDef] = {}
        self.parent_function: dict[int, cst.FunctionDef | None] = {}
        self.merges: list[Merge] = []
        self.assignments: list[Assignment] = []
        self.ifs: list[tuple[cst.If, cst.FunctionDef | None]] = []
        self.calls: list[tuple[cst.Call, cst.FunctionDef | None]] = []
        self.layer_calls: list[tuple[cst.Call, cst.Call, cst.FunctionDef | None]] = []  # (ctor, application)
        self._functions: list[cst.FunctionDef] = []
        self._statements: list[cst.CSTNode] = []

    def line(self, node) -> int:
        return self.pos[node].start.line

    def span(self, node) -> range:
        where = self.pos[node]
        return range(where.start.line, where.end.line + 1)

    @property
    def function(self):
        return self._functions[-1] if self._functions else None

    def visit_FunctionDef(self, node):
        self.functions.setdefault(node.name.value, node)
        self.parent_function[id(node)] = self.function
        self._functions.append(node)

    def leave_FunctionDef(self, node):
        self._functions.pop()

    def visit_SimpleStatementLine(self, node):
        self._statements.append(node)

    def leave_SimpleStatementLine(self, node):
        self._statements.pop()

    def visit_If(self, node):
        self.ifs.append((node, self.function))

    def visit_Assign(self, node):
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            self.assignments.append(Assignment(
                node.targets[0].target.value, node.value, self.line(node),
                self._statements[-1] if self._statements else node, self.function,
            ))

    def visit_Call(self, node):
        self.calls.append((node, self.function))
        statement = self._statements[-1] if self._statements else node
        func = node.func
        if isinstance(func, cst.Call):
            self.layer_calls.append((func, node, self.function))
            name = last_part(func.func)
            if name in MERGE_LAYERS and node.args:
                self._merge(node, statement, "layer", name in ELEMENTWISE_LAYERS, node.args[0].value)
        else:
            name = dotted(func)
            parts = name.split(".")
            if len(parts) > 1 and parts[-1] in MERGE_FUNCTIONS and node.args:
                self._merge(node, statement, "function", parts[-1] in ELEMENTWISE_FUNCTIONS,
                            node.args[0].value)

    def visit_BinaryOperation(self, node):
        if not isinstance(node.operator, (cst.Add, cst.Subtract)) or self.function is None:
            return
        sides = (node.left, node.right)
        if any(isinstance(s, (cst.Integer, cst.Float, cst.SimpleString, cst.FormattedString,
                              cst.ConcatenatedString, cst.Tuple, cst.List)) for s in sides):
            return
        # a tensor sum: one side at least applies a layer (``layer(x)``, ``Dense(4)(x)``),
        # neither is a literal (strings, sizes); ``random.uniform(...) + k`` is no merge
        if any(isinstance(s, cst.Call) and isinstance(s.func, (cst.Call, cst.Name)) for s in sides):
            statement = self._statements[-1] if self._statements else node
            self.merges.append(Merge(node, statement, self.function, "operator", True, list(sides),
                                     self.line(node)))

    def _merge(self, node, statement, kind, elementwise, operands):
        values = [e.value for e in operands.elements] if isinstance(operands, cst.List) else []
        self.merges.append(Merge(node, statement, self.function, kind, elementwise, values, self.line(node)))


def module_facts(source: str) -> tuple[cst.Module, ModuleFacts]:
    module = cst.parse_module(source)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    facts = ModuleFacts(positions)
    module.visit(facts)
    return module, facts


def apply_edits(source: str, facts: ModuleFacts, edits: list) -> str:
    """The source with the edits spliced into its text (positions from the parse), so
    everything else stays exactly as written."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(position):
        return starts[position.line - 1] + position.column

    spans = []
    for mode, node, text in edits:
        where = facts.pos[node]
        if mode == "replace":
            spans.append((offset(where.start), offset(where.end), text))
        else:
            spans.append((offset(where.end), offset(where.end), text))
    spans.sort(reverse=True)
    for (start, end, _), (next_start, _, _) in zip(spans[1:], spans):
        if end > next_start:
            raise AssertionError("overlapping edits")
    for start, end, text in spans:
        source = source[:start] + text + source[end:]
    return source


def merge_lines(source: str) -> set[int]:
    """Lines of a module where a merge happens: merge layer / function calls (all the lines
    they span) and element-wise operator expressions (``a + b``, ``a * b``) in functions."""
    module = cst.parse_module(source)
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    facts = ModuleFacts(positions)
    module.visit(facts)
    lines: set[int] = set()
    for merge in facts.merges:
        lines.update(facts.span(merge.node))

    class _Ops(cst.CSTVisitor):
        def visit_BinaryOperation(self, node):
            if isinstance(node.operator, (cst.Add, cst.Subtract, cst.Multiply)):
                lines.update(facts.span(node))

    module.visit(_Ops())
    return lines


# --------------------------------------------------------------------------- operators


@dataclass
class Site:
    line: int
    description: str
    edits: list  # replace(...) / insert_after(...) / set_keyword(...)


def _helper_params(fn: cst.FunctionDef) -> list[cst.Param]:
    params = fn.params
    return list(params.posonly_params) + list(params.params) + list(params.kwonly_params)


def _is_conv_call(facts: ModuleFacts, value):
    """(call, is_helper) when ``value`` applies a conv layer or a conv helper of the module."""
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Call):
        if last_part(value.func.func) in CONV_LAYERS:
            return value.func, False
        return None
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Name):
        fn = facts.functions.get(value.func.value)
        names = [p.name.value for p in _helper_params(fn)] if fn else []
        if fn is not None and "conv" in fn.name.value.lower() and "filters" in names:
            return value, True
    return None


def _chain_source(value):
    """The tensor a layer application (``Conv2D(...)(x)``) or a helper call
    (``conv2d_bn(x, ...)``) is applied to, if it is a name; a plain name is its own source."""
    if not isinstance(value, cst.Call):
        return value.value if isinstance(value, cst.Name) else None
    args = positional(value)
    if args and isinstance(args[0].value, cst.Name):
        return args[0].value.value
    return None


def _operand_chain(facts: ModuleFacts, merge: Merge, operand) -> list:
    """The assignments along an operand's data flow inside the merge's function, newest
    first: ``x = Conv(...)(x)`` <- ``x = BN(...)(x)`` <- ... (source order stands in for
    control flow)."""
    if isinstance(operand, cst.Call) and not isinstance(operand.func, cst.Call):
        operand = _chain_source(operand)  # ``layer(x)``: follow x
        operand = cst.Name(operand) if operand else None
    if not isinstance(operand, cst.Name):
        return []
    chain = []
    name, before = operand.value, merge.line
    for _ in range(16):
        found = None
        for a in facts.assignments:
            if a.function is merge.function and a.name == name and a.line < before:
                if found is None or a.line > found.line:
                    found = a
        if found is None:
            break
        if any(m.statement is found.statement for m in facts.merges):
            break  # the chain reaches an earlier merge
        chain.append(found)
        source = _chain_source(found.value)
        if source is None:
            break
        name, before = source, found.line
    return chain


def _branches(facts: ModuleFacts, merge: Merge) -> list[list]:
    """Each operand's chain up to (not including) the point where the operands' data flows
    meet: an assignment on two operands' chains lies before the fork, on no one branch."""
    chains = [_operand_chain(facts, merge, operand) for operand in merge.operands]
    counts: dict = {}
    for chain in chains:
        for a in {id(a): a for a in chain}.values():
            counts[id(a)] = counts.get(id(a), 0) + 1
    out = []
    for chain in chains:
        branch = []
        for a in chain:
            if counts[id(a)] > 1:
                break
            branch.append(a)
        out.append(branch)
    return out


def op_shortcut_filters(module, facts: ModuleFacts):
    """Shortcut projection filters: a conv assigned to a ``*shortcut*`` / ``*residual*``
    name has its channel count halved (``4 * filters`` -> ``2 * filters``)."""
    for a in facts.assignments:
        lowered = a.name.lower()
        if "shortcut" not in lowered and "residual" not in lowered:
            continue
        conv = _is_conv_call(facts, a.value)
        if conv is None:
            continue
        call, helper = conv
        arg = filters_arg(call, helper=helper)
        if arg is None:
            continue
        new = rescale(arg.value)
        yield Site(facts.line(arg), f"{a.name} projection filters {code_of(arg.value)} -> {code_of(new)}",
                   [replace(arg.value, new)])


def op_conv_shortcut_flip(module, facts: ModuleFacts):
    """The ``conv_shortcut`` flag of a block call flipped (given or defaulted)."""
    for call, _ in facts.calls:
        if not isinstance(call.func, cst.Name):
            continue
        fn = facts.functions.get(call.func.value)
        if fn is None:
            continue
        params = _helper_params(fn)
        names = [p.name.value for p in params]
        if "conv_shortcut" not in names:
            continue
        index = names.index("conv_shortcut")
        given = keyword(call, "conv_shortcut")
        args = positional(call)
        if given is None and index < len(args) and index < len(fn.params.params):
            given = args[index]
        if given is not None:
            value = given.value
            if not (isinstance(value, cst.Name) and value.value in ("True", "False")):
                continue
            flipped = cst.Name("False" if value.value == "True" else "True")
            yield Site(facts.line(given), f"{call.func.value}(conv_shortcut={value.value} -> {flipped.value})",
                       [replace(given.value, flipped)])
        else:
            default = params[index].default
            if not (isinstance(default, cst.Name) and default.value in ("True", "False")):
                continue
            flipped = cst.Name("False" if default.value == "True" else "True")
            yield Site(facts.line(call), f"{call.func.value}(...) + conv_shortcut={flipped.value} "
                       f"(default {default.value})",
                       [set_keyword(call, "conv_shortcut", flipped)])


def op_guard_drop(module, facts: ModuleFacts):
    """The guard of an element-wise merge altered: each conjunct of ``if a and b [and c]``
    dropped in turn; a single-condition guard replaced by ``True``."""
    for node, _ in facts.ifs:
        body_lines = facts.span(node.body)
        if not any(m.elementwise and m.line in body_lines for m in facts.merges):
            continue
        conjuncts = _conjuncts(node.test)
        if len(conjuncts) == 1:
            yield Site(facts.line(node), f"if {code_of(node.test)}: -> if True:",
                       [replace(node.test, "True")])
            continue
        for i, dropped in enumerate(conjuncts):
            rest = [c for j, c in enumerate(conjuncts) if j != i]
            new = rest[0]
            for c in rest[1:]:
                new = cst.BooleanOperation(left=new, operator=cst.And(), right=c)
            yield Site(facts.line(node), f"guard drops '{code_of(dropped)}'",
                       [replace(node.test, new)])


def _conjuncts(test) -> list:
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And) and not test.lpar:
        return _conjuncts(test.left) + _conjuncts(test.right)
    return [test]


def _stride_site(facts: ModuleFacts, call: cst.Call, helper: bool):
    """Set a conv's stride to 2 where it is 1 (given literally, or by default)."""
    for name in ("strides", "stride"):
        arg = keyword(call, name)
        if arg is not None:
            if not is_one(arg.value):
                return None
            new = as_two(arg.value)
            return Site(facts.line(arg), f"{code_of(call.func)}({name}={code_of(arg.value)} -> {code_of(new)})",
                        [replace(arg.value, new)])
    if helper:
        fn = facts.functions[call.func.value]
        params = {p.name.value: p for p in _helper_params(fn)}
        for name in ("strides", "stride"):
            if name in params:
                index = [p.name.value for p in fn.params.params].index(name) if name in [
                    p.name.value for p in fn.params.params] else None
                if index is not None and index < len(positional(call)):
                    arg = positional(call)[index]
                    if not is_one(arg.value):
                        return None
                    new = as_two(arg.value)
                    return Site(facts.line(arg), f"{fn.name.value}(... {code_of(arg.value)} -> {code_of(new)})",
                                [replace(arg.value, new)])
                default = params[name].default
                if default is None or not is_one(default):
                    return None
                new = as_two(default)
                return Site(facts.line(call), f"{fn.name.value}(...) + {name}={code_of(new)}",
                            [set_keyword(call, name, new)])
        return None
    if last_part(call.func) in STRIDED_LAYERS:
        return Site(facts.line(call), f"{code_of(call.func)}(...) + strides=2",
                    [set_keyword(call, "strides", "2")])
    return None


def op_branch_stride(module, facts: ModuleFacts):
    """A stride changed on one branch: each conv on one merge operand's branch (its data
    flow in the merge's function, after the operands fork) whose stride is 1 gets stride 2."""
    seen = set()
    for merge in facts.merges:
        for branch in _branches(facts, merge):
            for a in branch:
                conv = _is_conv_call(facts, a.value)
                if conv is None or id(conv[0]) in seen:
                    continue
                seen.add(id(conv[0]))
                site = _stride_site(facts, *conv)
                if site is not None:
                    yield site


def op_concat_axis(module, facts: ModuleFacts):
    """A concat axis changed to a spatial axis (axis 1; 2 where it already was 1)."""
    for merge in facts.merges:
        if merge.elementwise:
            continue
        call = merge.node.func if merge.kind == "layer" else merge.node
        arg = keyword(call, "axis")
        if arg is not None and int_value(arg.value) == 1:
            new_value = cst.Integer("2")
        else:
            new_value = cst.Integer("1")
        old = code_of(arg.value) if arg is not None else "default"
        yield Site(merge.line, f"concat axis {old} -> {new_value.value}", [set_keyword(call, "axis", new_value)])


def op_last_conv_multiplier(module, facts: ModuleFacts):
    """The last conv before an element-wise merge has its channel count changed
    (``filters * 4`` -> ``filters * 2``, ``pointwise_filters`` -> ``pointwise_filters * 2``)."""
    seen = set()
    for merge in facts.merges:
        if not merge.elementwise:
            continue
        for branch in _branches(facts, merge):
            for a in branch:
                conv = _is_conv_call(facts, a.value)
                if conv is None:
                    continue
                call, helper = conv
                if id(call) not in seen:
                    seen.add(id(call))
                    arg = filters_arg(call, helper=helper)
                    if arg is not None and last_part(call.func) not in ("DepthwiseConv1D", "DepthwiseConv2D"):
                        new = rescale(arg.value)
                        yield Site(facts.line(arg), f"last conv before merge: {code_of(arg.value)} -> {code_of(new)}",
                                   [replace(arg.value, new)])
                break  # only the last conv of each operand


def _tensor_param(facts: ModuleFacts, fn: cst.FunctionDef):
    """The block input: the first parameter (after self/cls) if it is used as a tensor."""
    params = list(fn.params.posonly_params) + list(fn.params.params)
    if params and params[0].name.value in ("self", "cls"):
        params = params[1:]
    if not params:
        return None
    name = params[0].name.value
    used_as_tensor = subscripted = False

    class _Uses(cst.CSTVisitor):
        def visit_Subscript(self, node):
            nonlocal subscripted
            if isinstance(node.value, cst.Name) and node.value.value == name:
                subscripted = True

        def visit_Call(self, node):
            nonlocal used_as_tensor
            applied = isinstance(node.func, cst.Call) or (
                isinstance(node.func, cst.Name) and node.func.value in facts.functions)
            if not applied:
                return
            for arg in positional(node)[:1]:
                value = arg.value
                items = [e.value for e in value.elements] if isinstance(value, cst.List) else [value]
                if any(isinstance(i, cst.Name) and i.value == name for i in items):
                    used_as_tensor = True

    fn.body.visit(_Uses())
    for merge in facts.merges:
        if merge.function is fn and merge.elementwise and any(
                isinstance(o, cst.Name) and o.value == name for o in merge.operands):
            used_as_tensor = True
    return name if used_as_tensor and not subscripted else None


def op_operand_swap(module, facts: ModuleFacts):
    """An element-wise merge's operand replaced by the block input (the function's first
    parameter as it was on entry; an alias keeps it when the code reassigns that name)."""
    for merge in facts.merges:
        if not merge.elementwise or merge.function is None:
            continue
        fn = merge.function
        name = _tensor_param(facts, fn)
        if name is None:
            continue
        reassigned = any(a.function is fn and a.name == name for a in facts.assignments)
        first = fn.body.body[0] if isinstance(fn.body, cst.IndentedBlock) and fn.body.body else None
        if reassigned and not isinstance(first, cst.SimpleStatementLine):
            continue
        alias = "ksl_block_input" if reassigned else name
        for k, operand in enumerate(merge.operands):
            if not reassigned and isinstance(operand, cst.Name) and operand.value == name:
                continue
            edits = [replace(operand, alias)]
            if reassigned:
                # ``<first statement>; ksl_block_input = x`` on the function's first line
                edits.append(insert_after(first.body[-1], f"; ksl_block_input = {name}"))
            yield Site(merge.line, f"merge operand {k} '{code_of(operand)}' -> block input {name}", edits)


OPERATORS = {
    "shortcut_filters": op_shortcut_filters,
    "conv_shortcut_flip": op_conv_shortcut_flip,
    "guard_drop": op_guard_drop,
    "branch_stride": op_branch_stride,
    "concat_axis": op_concat_axis,
    "last_conv_multiplier": op_last_conv_multiplier,
    "operand_swap": op_operand_swap,
}

# --------------------------------------------------------------------------- mutants


@dataclass(frozen=True)
class Mutant:
    module: str        # the corpus file name, e.g. "resnet.py"
    mutant_id: str     # "<module stem>:<operator>:<line>[.<k>]"
    operator: str
    line: int
    description: str
    source: str

    def diff(self, original: str) -> str:
        return "".join(difflib.unified_diff(
            original.splitlines(True), self.source.splitlines(True),
            f"a/{self.module}", f"b/{self.module}", n=1))


def mutants_of(path: Path, operators=None) -> list[Mutant]:
    """Every mutant of one module (each site of each operator), identical sources once."""
    source = path.read_text(encoding="utf-8")
    module, facts = module_facts(source)
    out, seen = [], {source}
    for op_name, op in OPERATORS.items():
        if operators and op_name not in operators:
            continue
        numbering = itertools.count()
        ids = set()
        for site in op(module, facts):
            new_source = apply_edits(source, facts, site.edits)
            if new_source in seen:
                continue
            seen.add(new_source)
            if new_source.count("\n") != source.count("\n"):
                raise AssertionError(f"{path.name}:{site.line} {op_name} moved lines")
            mutant_id = f"{path.stem}:{op_name}:{site.line}"
            if mutant_id in ids:
                mutant_id = f"{mutant_id}.{next(numbering) + 1}"
            ids.add(mutant_id)
            out.append(Mutant(path.name, mutant_id, op_name, site.line, site.description, new_source))
    return out


def all_mutants(modules=None, operators=None) -> list[Mutant]:
    out = []
    for path in corpus_files():
        if modules and path.stem not in modules and path.name not in modules:
            continue
        out.extend(mutants_of(path, operators))
    return out


# --------------------------------------------------------------------------- the judges


@dataclass
class Result:
    mutant_id: str
    module: str
    operator: str
    line: int
    description: str
    keras: str = "?"              # rejected | builds | other
    keras_detail: str = ""        # the error / the merge line
    keras_line: int | None = None
    flagged: bool = False
    findings: list = field(default_factory=list)
    other_findings: list = field(default_factory=list)  # codes outside BUILD_CODES
    replayed: list = field(default_factory=list)   # per finding: "real" / reason it is not
    analysis_s: float = 0.0
    keras_s: float = 0.0
    statistics: dict = field(default_factory=dict)

    @property
    def category(self) -> str:
        if self.keras == "rejected":
            return "caught" if self.flagged else "MISSED"
        if self.keras == "builds":
            if not self.flagged:
                return "quiet"
            return "real" if any(r == "real" for r in self.replayed) else "FALSE ALARM"
        return "other"


class Workspace:
    """A temporary ``keras/src/applications`` folder per mutant, beside links to the
    corpus modules (so the analyser reads the mutant's siblings as it does the real ones)."""

    def __init__(self, root: str | None = None):
        self._own = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="ksl_mutants_"))
        self._counter = itertools.count()

    def write(self, mutant: Mutant) -> Path:
        folder = self.root / f"m{next(self._counter):04d}" / "keras" / "src" / "applications"
        folder.mkdir(parents=True)
        for sibling in applications_dir().glob("*.py"):
            if sibling.name != mutant.module and not sibling.name.endswith("_test.py"):
                try:
                    (folder / sibling.name).symlink_to(sibling)
                except OSError:
                    shutil.copyfile(sibling, folder / sibling.name)
        path = folder / mutant.module
        path.write_text(mutant.source, encoding="utf-8")
        return path

    def close(self):
        if self._own:
            shutil.rmtree(self.root, ignore_errors=True)


# The codes counted as flagging a mutant: each names an input that breaks (or, KSL105,
# silently broadcasts at) a merge. KSL106's input is the data fed to a model whose
# sizes are None at build time: its replay builds the model and runs one sample.
BUILD_CODES = ("KSL101", "KSL102", "KSL103", "KSL104", "KSL105", "KSL106")


def analyse(path: Path, source: str):
    """The analyser's build-time findings and its other findings (JSON dicts), and its
    statistics, for a mutant file."""
    from keras_shape_lint.analysis import Options, analyse_text

    findings, analysis = analyse_text(source, Options(), str(path))
    counted = [f.to_json() for f in findings if f.code in BUILD_CODES]
    others = [f.to_json() for f in findings if f.code not in BUILD_CODES and f.code.startswith("KSL1")]
    stats = analysis.statistics() if analysis is not None else {}
    return counted, others, stats


_import_counter = itertools.count()


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield


@contextlib.contextmanager
def _export_registry_kept():
    """Importing a mutant re-runs its ``@keras_export`` decorators; keep Keras's registry
    of exported names as it was."""
    try:
        from keras.src import api_export
    except ImportError:  # pragma: no cover
        yield
        return
    names = dict(api_export.REGISTERED_NAMES_TO_OBJS)
    objects = dict(api_export.REGISTERED_OBJS_TO_NAMES)
    try:
        yield
    finally:
        api_export.REGISTERED_NAMES_TO_OBJS.clear()
        api_export.REGISTERED_NAMES_TO_OBJS.update(names)
        api_export.REGISTERED_OBJS_TO_NAMES.clear()
        api_export.REGISTERED_OBJS_TO_NAMES.update(objects)


def import_mutant(path: Path, stem: str):
    import oracle

    oracle.keras()
    name = f"ksl_mutant_{stem}_{next(_import_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    with _export_registry_kept():
        spec.loader.exec_module(module)
    return module


def keras_verdict(path: Path, mutant: Mutant) -> tuple[str, str, int | None]:
    """('rejected' | 'builds' | 'other', detail, merge line) for a mutant file."""
    import oracle

    keras = oracle.keras()
    builder_name, configs = BUILDERS[mutant.module]
    lines = merge_lines(mutant.source)
    try:
        with _quiet():
            module = import_mutant(path, Path(mutant.module).stem)
    except Exception as error:  # noqa: BLE001 -- a mutant that does not import is 'other'
        return "other", f"import: {type(error).__name__}: {error}"[:300], None
    builder = getattr(module, builder_name)
    others = []
    for config in configs:
        try:
            with _quiet(), _export_registry_kept():
                builder(weights=None, **config)
        except Exception as error:  # noqa: BLE001
            is_merge, line = oracle.merge_error_line(error, path)
            if is_merge and line in lines:
                return "rejected", f"{config}: {_first_line(error)}", line
            where = f" (merge error at line {line}, not a merge)" if is_merge else ""
            others.append(f"{config}: {type(error).__name__}: {_first_line(error)}{where}")
        finally:
            keras.backend.clear_session()
    if others:
        return "other", "; ".join(others)[:400], None
    return "builds", "", None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def replay(path: Path, finding: dict) -> str:
    """'real' when the finding's witness, replayed through Keras on the mutant file, does
    what its code says: KSL101-104, the merge on the finding's line raises Keras's merge
    error (the innermost frame of the mutant file is that line, as
    ``oracle.assert_merge_error_at`` demands); KSL105, the build succeeds and that merge
    received a single-channel input beside a wider one.

    (``oracle.check_finding`` itself cannot be used: it names paths relative to the
    repository, and its KSL105 recorder skips frames in ``keras/`` folders, where the
    mutant lives.)
    """
    import oracle

    keras = oracle.keras()
    line = finding["line"]
    try:
        with _quiet(), _export_registry_kept():
            if finding["code"] == "KSL105":
                with _merges_at(path) as merges:
                    outcome = oracle.build_from_witness(path, finding.get("witness"))
                if outcome.error is not None:
                    return f"KSL105 witness does not build: {_first_line(outcome.error)}"
                shapes = [shape for where, shape in merges if where == line]
                if not shapes:
                    return f"no merge built at line {line}"
                if not any(oracle._broadcasts_one_channel(s) for s in shapes):
                    return f"merge shapes {shapes} broadcast no single channel"
                return "real"
            if finding["code"] == "KSL106":
                outcome = oracle.build_from_witness(path, finding.get("witness"))
                if outcome.error is not None:
                    return f"KSL106 witness does not build: {_first_line(outcome.error)}"
                try:
                    oracle._assert_data_fails(outcome.result, finding["witness"]["data"])
                except AssertionError as error:
                    return f"KSL106 data does not fail: {_first_line(error)}"
                return "real"
            outcome = oracle.build_from_witness(path, finding.get("witness"))
        if outcome.error is None:
            return "the witness builds"
        is_merge, where = oracle.merge_error_line(outcome.error, path)
        if is_merge and where == line:
            return "real"
        if is_merge:
            return f"merge error at line {where}, not {line}"
        return f"{type(outcome.error).__name__}: {_first_line(outcome.error)}"
    except Exception as error:  # noqa: BLE001
        return f"replay error {type(error).__name__}: {_first_line(error)}"
    finally:
        keras.backend.clear_session()


@contextlib.contextmanager
def _merges_at(path: Path):
    """Record (line of ``path``, input shapes) of every Keras merge layer built."""
    from keras.src.layers.merging.base_merge import Merge

    target = os.path.realpath(path)
    original = Merge.build
    records = []

    def build(layer, input_shape):
        frame = sys._getframe(1)
        while frame is not None and os.path.realpath(frame.f_code.co_filename) != target:
            frame = frame.f_back
        records.append((frame.f_lineno if frame else None, [tuple(s) for s in input_shape]))
        return original(layer, input_shape)

    Merge.build = build
    try:
        yield records
    finally:
        Merge.build = original


def evaluate(mutant: Mutant, workspace: Workspace, *, replay_limit: int = 4) -> Result:
    """Judge one mutant with Keras and with the analyser."""
    result = Result(mutant.mutant_id, mutant.module, mutant.operator, mutant.line, mutant.description)
    path = workspace.write(mutant)
    start = time.perf_counter()
    try:
        findings, others, stats = analyse(path, mutant.source)
    except Exception as error:  # noqa: BLE001 -- the analyser must never raise; record it
        findings, others, stats = [], [], {"internal_errors": [f"raised {type(error).__name__}: {error}"]}
    result.analysis_s = time.perf_counter() - start
    result.findings = findings
    result.other_findings = others
    result.flagged = bool(findings)
    keys = ("merges", "proven", "flagged", "undecided", "unreached", "opaque", "internal_errors", "budget")
    result.statistics = {k: stats.get(k) for k in keys}
    start = time.perf_counter()
    result.keras, result.keras_detail, result.keras_line = keras_verdict(path, mutant)
    if result.keras == "builds" and findings:
        result.replayed = [replay(path, f) for f in findings[:replay_limit]]
    result.keras_s = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------- the run


def summarise(results: list[Result]) -> dict:
    rejected = [r for r in results if r.keras == "rejected"]
    builds = [r for r in results if r.keras == "builds"]
    caught = [r for r in rejected if r.flagged]
    flagged_builds = [r for r in builds if r.flagged]
    real = [r for r in flagged_builds if r.category == "real"]
    false_alarms = [r for r in flagged_builds if r.category == "FALSE ALARM"]
    return {
        "mutants": len(results),
        "rejected": len(rejected),
        "caught": len(caught),
        "missed": [r.mutant_id for r in rejected if not r.flagged],
        "recall": (len(caught) / len(rejected)) if rejected else None,
        "builds": len(builds),
        "builds_flagged": len(flagged_builds),
        "builds_flagged_real": [r.mutant_id for r in real],
        "false_alarms": [r.mutant_id for r in false_alarms],
        "other": [r.mutant_id for r in results if r.keras == "other"],
    }


def _codes(result: Result) -> str:
    counted = sorted({f"{f['code']}@{f['line']}" for f in result.findings})
    others = sorted({f"({f['code']}@{f['line']})" for f in result.other_findings})
    return ",".join(counted + others) or "-"


def print_table(results: list[Result], out=sys.stdout) -> None:
    header = (f"{'module':22} {'operator':21} {'line':>5}  {'keras':8} {'analyser':24} {'verdict':11} "
              f"{'lint s':>6} {'keras s':>7}  description")
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in results:
        print(f"{r.module:22} {r.operator:21} {r.line:5d}  {r.keras:8} {_codes(r)[:24]:24} {r.category:11} "
              f"{r.analysis_s:6.2f} {r.keras_s:7.2f}  {r.description}", file=out)


def print_summary(summary: dict, results: list[Result], out=sys.stdout) -> None:
    recall = summary["recall"]
    print(file=out)
    print(f"mutants: {summary['mutants']}  (rejected at a merge {summary['rejected']}, "
          f"build {summary['builds']}, other {len(summary['other'])})", file=out)
    print(f"recall: {summary['caught']}/{summary['rejected']} = "
          f"{'n/a' if recall is None else f'{recall:.1%}'}  (target >= 90%)", file=out)
    print(f"flagged among mutants that build: {summary['builds_flagged']} "
          f"(real, witness replays to a merge error: {len(summary['builds_flagged_real'])}; "
          f"false alarms: {len(summary['false_alarms'])}, target 0)", file=out)
    by_id = {r.mutant_id: r for r in results}
    for title, ids in (("missed", summary["missed"]), ("false alarms", summary["false_alarms"]),
                       ("flagged, build, witness replays", summary["builds_flagged_real"]),
                       ("other (excluded)", summary["other"])):
        if ids:
            print(f"\n{title}:", file=out)
            for mutant_id in ids:
                r = by_id[mutant_id]
                detail = r.keras_detail if r.keras != "builds" else "; ".join(r.replayed)
                print(f"  {mutant_id}: {r.description} -- {detail[:300]}", file=out)


def _worker_init(root: str):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    global _WORKSPACE
    folder = Path(root) / f"worker{os.getpid()}"
    folder.mkdir()
    _WORKSPACE = Workspace(str(folder))  # removed with ``root`` by the parent
    import oracle

    oracle.keras()


_WORKSPACE: Workspace | None = None


def _worker_evaluate(mutant: Mutant) -> Result:
    try:
        return evaluate(mutant, _WORKSPACE)
    except Exception:  # noqa: BLE001
        result = Result(mutant.mutant_id, mutant.module, mutant.operator, mutant.line, mutant.description)
        result.keras, result.keras_detail = "other", "harness error: " + traceback.format_exc()[-300:]
        return result


def run(mutants: list[Mutant], jobs: int = 1, progress=None) -> list[Result]:
    order = {m.mutant_id: i for i, m in enumerate(mutants)}
    results: list[Result] = []
    root = tempfile.mkdtemp(prefix="ksl_mutants_")
    try:
        _run(mutants, jobs, progress, root, results)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results.sort(key=lambda r: order[r.mutant_id])
    return results


def _run(mutants, jobs, progress, root, results) -> None:
    if jobs <= 1:
        _worker_init(root)
        for mutant in mutants:
            result = _worker_evaluate(mutant)
            results.append(result)
            if progress:
                progress(result, len(results), len(mutants))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_worker_init, initargs=(root,)) as pool:
            futures = [pool.submit(_worker_evaluate, m) for m in mutants]
            for future in as_completed(futures):
                result = future.result()
                results.append(result)
                if progress:
                    progress(result, len(results), len(mutants))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", help="only this corpus module (stem); repeatable")
    parser.add_argument("--operator", action="append", choices=sorted(OPERATORS), help="only this operator")
    parser.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--list", action="store_true", help="list the mutants (with diffs) and stop")
    parser.add_argument("--json", help="write every result as JSON to this file")
    args = parser.parse_args(argv)

    mutants = all_mutants(args.module, args.operator)
    if args.list:
        originals = {p.name: p.read_text(encoding="utf-8") for p in corpus_files()}
        for m in mutants:
            print(f"== {m.mutant_id}: {m.description}")
            print(m.diff(originals[m.module]))
        print(f"{len(mutants)} mutants")
        return 0

    def progress(result, done, total):
        print(f"[{done}/{total}] {result.mutant_id} keras={result.keras} flagged={result.flagged}",
              file=sys.stderr, flush=True)

    start = time.perf_counter()
    results = run(mutants, args.jobs, progress)
    elapsed = time.perf_counter() - start
    print_table(results)
    summary = summarise(results)
    print_summary(summary, results)
    print(f"\nwall time {elapsed:.0f}s with {args.jobs} job(s)")
    if args.json:
        payload = {"summary": summary, "results": [dataclasses.asdict(r) | {"category": r.category}
                                                   for r in results]}
        text = json.dumps(payload, indent=1, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
