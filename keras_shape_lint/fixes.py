"""Fix synthesis: candidate changes to the user's source that could clear a finding.

Each candidate is a few line edits written with the user's own names and layer
spelling, computed for the finding's own path (see mergesource.PathReader).  A
candidate is only a proposal: fixcheck.py applies it, lints the result again and
keeps it only when the finding is gone and nothing new appears.  Candidates come
most specific first:

* channels (KSL101, KSL102, KSL105), additive merge, a shortcut that passes the
  input on unchanged: correct a guard that reads the wrong axis; make the guard
  around the merge also ask for equal channels; project the shortcut with a 1x1
  convolution (Dense for vectors) to the main branch's channels, with the main
  branch's strides when it has them, right where the input is passed on, or just
  before the merge;
* channels, both inputs computed: give the layer that sets one input's channels
  the other's count; for a Multiply and the like, size the computed input from the
  other input (``x.shape[-1]``);
* spatial sizes (KSL103, KSL106): give the shortcut's projections the main
  branch's strides and pool an unchanged shortcut by the same stride; or pad the
  'valid' convolutions of the main branch;
* concatenations (KSL104): concatenate along the channel axis when the channels
  differ off it; pad the strided, pooled or 'valid' layers of the inputs "same";
* any finding reached through calls in this file: flip a boolean argument of a
  call on the chain (``project=False`` -> ``project=True``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from .mergesource import (
    SHAPE_PRESERVING,
    SPATIAL_LAYER,
    Origin,
    PathReader,
    Source,
    called_name,
    identity_of,
    is_method,
    is_one,
    kernel,
    keyword_value,
    parameters,
)

MERGE_CODES = ("KSL101", "KSL102", "KSL103", "KSL104", "KSL105", "KSL106")  # the codes a change can fix
_UPSAMPLING = re.compile(r"^(?:UpSampling[123]D|Conv[123]DTranspose|Resizing)$")
_CHANNEL_LAYER = re.compile(r"^(?:Conv[123]D|SeparableConv[123]D|Dense)$")


@dataclass
class Edit:
    """Replace lines ``start``..``end`` (1-based, inclusive) with ``new`` lines."""

    start: int
    end: int
    new: list[str]


@dataclass
class Candidate:
    summary: str
    edits: list[Edit] = field(default_factory=list)


@dataclass
class Operand:
    expression: ast.expr
    text: str
    size: str
    origins: tuple


class _Context:
    """What every candidate for one finding needs to know about its merge."""

    def __init__(self, finding, source: Source, site, data_format: str):
        self.finding = finding
        self.source = source
        self.site = site
        self.reader = PathReader(source, site.function, finding.path_condition)
        self.every_path = PathReader(source, site.function, ())
        self.scope = self.reader.scope_at(site.statement)
        self.layout = source.data_format(site, data_format)
        self.channel = "1" if self.layout == "channels_first" else "-1"
        self.prefix = source.layer_prefix(site)
        self.rank = source.spatial_rank(site, finding.witness.args if finding.witness else {})
        sizes = [str(finding.fields.get("left", "")), str(finding.fields.get("right", ""))]
        self.operands = [
            Operand(o, source.segment(o), sizes[i] if i < 2 else "", self.reader.origins(o, self.scope))
            for i, o in enumerate(site.operands)
        ]

    def decided_elsewhere(self, text: str, node: ast.AST) -> bool:
        """Does ``text`` read a name whose test the finding's path decided, at ``node``, which
        runs on paths where that test goes either way?  (``if project:`` decided true: writing
        ``project`` as a size above that ``if`` would give the layer None when it is false.)"""
        try:
            names = {n.id for n in ast.walk(ast.parse(text, mode="eval")) if isinstance(n, ast.Name)}
        except SyntaxError:
            return True
        for branch in ast.walk(self.site.function):
            if not isinstance(branch, ast.If):
                continue
            taken = self.reader.decided(branch.test)
            if taken is None or not names & {n.id for n in ast.walk(branch.test) if isinstance(n, ast.Name)}:
                continue
            side = branch.body if taken else branch.orelse
            if not any(node is inner for statement in side for inner in ast.walk(statement)):
                return True
        return False

    def python_size(self, size: str, scope: dict) -> str | None:
        """The analyser's size as Python in names that hold their value in ``scope``
        (``channels(x)`` -> ``x.shape[-1]``), or None."""
        text = re.sub(r"channels\((\w+)\)", lambda m: f"{m.group(1)}.shape[{self.channel}]", size)
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError:
            return None
        module = self.source.module_names()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id == "int"):
                return None
            if isinstance(node, ast.Name) and node.id != "int":
                if scope.get(node.id) != (Origin("parameter", node.id),) and not (
                        node.id not in scope and node.id in module):
                    return None
        return text

    def projection(self, channels: str, stride: str | None, tensor: str) -> tuple[str, str]:
        """(class name, the call) projecting ``tensor`` to ``channels`` with ``stride``."""
        if self.rank == 0:
            return "Dense", f"{self.prefix}Dense({channels})({tensor})"
        cls = f"Conv{self.rank}D"
        extra = f", strides={stride}" if stride else ""
        if self.layout == "channels_first":
            extra += ', data_format="channels_first"'
        return cls, f"{self.prefix}{cls}({channels}, 1{extra})({tensor})"

    def pooling(self, stride: str, tensor: str) -> tuple[str, str]:
        cls = f"AveragePooling{max(self.rank, 1)}D"
        extra = ', data_format="channels_first"' if self.layout == "channels_first" else ""
        return cls, f'{self.prefix}{cls}(pool_size={stride}, strides={stride}, padding="same"{extra})({tensor})'

    def with_import(self, edits: list[Edit], cls: str) -> list[Edit]:
        """For a file that imports layer classes by name: import ``cls`` too."""
        if self.prefix:
            return edits
        found = import_edit(self.source, cls)
        return ([found] if found is not None else []) + edits


# --------------------------------------------------------------------------- entry point


def candidates(finding, source: Source, data_format: str = "channels_last"):
    """Candidate fixes for ``finding``, most specific first (unchecked)."""
    if finding.code not in MERGE_CODES or source.tree is None:
        return
    site = source.merge_at(finding.line, finding.col, finding.fields.get("merge"))
    if site is not None:
        context = _Context(finding, source, site, data_format)
        if finding.code in ("KSL101", "KSL102", "KSL105"):
            yield from _channels(context)
        elif site.concatenation:
            yield from _concatenation(context)
        else:
            yield from _spatial(context)
    yield from _call_arguments(finding, source)


# --------------------------------------------------------------------------- channels


def _channels(c: _Context):
    if len(c.operands) != 2:
        return
    passed_on = [any(o.kind == "parameter" for o in op.origins) for op in c.operands]
    if passed_on[0] == passed_on[1]:
        if not passed_on[0]:
            first, second = c.operands
            for target, other in ((second, first), (first, second)):
                yield from _resize(c, target, other)
        return
    shortcut, main = (c.operands[0], c.operands[1]) if passed_on[0] else (c.operands[1], c.operands[0])
    if not c.site.additive:
        yield from _resize(c, main, shortcut)
        return
    if is_method(c.site):
        return
    parameter = next(o.name for o in shortcut.origins if o.kind == "parameter")
    yield from _guard_axis(c, parameter)
    yield from _guard_extension(c, shortcut, main, parameter)
    stride = c.reader.stride(main.origins)
    for with_stride in ([stride, None] if stride else [None]):
        yield from _project_where_passed_on(c, shortcut, main, parameter, with_stride)
        yield from _project_before_merge(c, shortcut, main, with_stride)
    if not stride:  # a transformer's residual: bring the branch back to the input's width
        yield from _project_before_merge(c, main, shortcut, None)


def _channels_of(c: _Context, operand: Operand, scope: dict) -> str | None:
    """``operand``'s channel count as Python that holds in ``scope``: the size its last
    channel-setting layer is given as written (``filters * 2``), else the analyser's size."""
    for call, name, _ in c.reader.layers(operand.origins):
        if name in SHAPE_PRESERVING:
            continue
        if _CHANNEL_LAYER.match(name):
            node = call.args[0] if call.args else (keyword_value(call, "filters") or keyword_value(call, "units"))
            written = c.source.segment(node) if node is not None else None
            if written and c.python_size(written, scope) is not None:
                return written
        break
    size = c.python_size(operand.size, scope)
    if size is not None and size.isdigit() and size not in _written_sizes(c):
        size = None  # a count from one caller: not this function's to write
    if size is None and isinstance(operand.expression, ast.Name) and \
            scope.get(operand.text) == c.scope.get(operand.text) is not None:
        size = f"{operand.text}.shape[{c.channel}]"  # the input holds the same value there and at the merge
    return size


def _written_sizes(c: _Context) -> set[str]:
    """The first arguments (filters, units) of the layers the function constructs."""
    return {c.source.segment(node.args[0]) for node in ast.walk(c.site.function)
            if isinstance(node, ast.Call) and node.args and called_name(node.func) and
            called_name(node.func)[:1].isupper()}


def _resize(c: _Context, target: Operand, other: Operand):
    """Give the layer that sets ``target``'s channels ``other``'s channel count."""
    edits, places = [], []
    for origin in target.origins:
        for call, name, where in c.reader.layers((origin,)):
            if name in SHAPE_PRESERVING:
                continue
            if not _CHANNEL_LAYER.match(name):
                break
            size_node = call.args[0] if call.args else (keyword_value(call, "filters") or keyword_value(call, "units"))
            channels = _channels_of(c, other, where.scope or {})
            if size_node is not None and channels and c.source.segment(size_node) != channels \
                    and not c.decided_elsewhere(channels, call):
                edit = replace_node(c.source, size_node, channels)
                if edit is not None and all(e.start != edit.start for e in edits):
                    edits.append(edit)
                    places.append(f"the `{name}` at line {call.lineno}")
            break
    if not edits:
        return
    channels = _channels_of(c, other, c.scope) or other.size
    if identity_of(other.origins):
        yield Candidate(
            f"`{target.text}` gets its {_count(target.size)} from {' and '.join(places)}, while `{other.text}` "
            f"has {other.size}: size it from that input instead ({channels}), so both always agree.", edits)
    else:
        yield Candidate(
            f"`{target.text}` gets its {_count(target.size)} from {' and '.join(places)}, while "
            f"`{other.text}` has {other.size}: make that layer produce {_count(channels)}.", edits)


def _count(size: str) -> str:
    return "1 channel" if size == "1" else f"{size} channels"


def _guard_axis(c: _Context, parameter: str):
    """A guard that reads ``x.shape[-1]`` in a channels_first block reads a spatial size."""
    if c.layout != "channels_first":
        return
    wrong = f"{parameter}.shape[-1]"
    for node in ast.walk(c.site.function):
        if not isinstance(node, (ast.If, ast.IfExp)) or c.reader.decided(node.test) is None:
            continue
        test = c.source.segment(node.test)
        if wrong in test:
            edit = replace_node(c.source, node.test, test.replace(wrong, f"{parameter}.shape[1]"))
            if edit is not None:
                yield Candidate(
                    f"The test at line {node.test.lineno} reads `{wrong}`, which in channels_first data is the "
                    f"last spatial size, not the channels: read `{parameter}.shape[1]` instead.", [edit])


def _guard_extension(c: _Context, shortcut: Operand, main: Operand, parameter: str):
    """The merge runs under an ``if`` on the path: let that ``if`` also ask for equal channels."""
    guard = _enclosing_if(c.site.function, c.site.statement)
    if guard is None or c.reader.decided(guard.test) is not True:
        return
    channels = _channels_of(c, main, c.reader.scope_at(guard))
    if channels is None:
        return
    test = c.source.segment(guard.test)
    if isinstance(guard.test, (ast.BoolOp, ast.IfExp, ast.NamedExpr, ast.Lambda)) and not (
            isinstance(guard.test, ast.BoolOp) and isinstance(guard.test.op, ast.And)):
        test = f"({test})"
    condition = f"{parameter}.shape[{c.channel}] == {_wrapped(channels)}"
    edit = replace_node(c.source, guard.test, f"{test} and {condition}")
    if edit is not None:
        yield Candidate(
            f"The merge at line {c.site.statement.lineno} runs whenever `{c.source.segment(guard.test)}`, but "
            f"`{parameter}` must also have {_count(channels)}: merge only when `{condition}` holds too.", [edit])


def _project_where_passed_on(c: _Context, shortcut: Operand, main: Operand, parameter: str, stride):
    """Project right after each statement that passes the input on (``shortcut = x``)."""
    aliases = []
    for origin in shortcut.origins:
        if origin.kind == "parameter" and origin.aliases and origin.aliases[-1] not in aliases:
            aliases.append(origin.aliases[-1])
    if not aliases or not isinstance(shortcut.expression, ast.Name):
        return
    edits, cls, channels = [], None, None
    for alias in aliases:
        channels = _channels_of(c, main, c.reader.scope_at(alias))
        if channels is None or alias.lineno != (alias.end_lineno or alias.lineno):
            return
        condition = _differ(f"{parameter}.shape[{c.channel}]", channels, stride)
        cls, call = c.projection(channels, stride, parameter)
        body = _guarded(c.source.indent_of(alias.lineno), condition, f"{shortcut.text} = {call}")
        edits.append(Edit(alias.lineno, alias.lineno, [c.source.line(alias.lineno)] + body))
    lines = ", ".join(str(a.lineno) for a in aliases)
    yield Candidate(
        f"`{shortcut.text}` is `{parameter}` passed on unchanged at line {lines}, so it keeps "
        f"{_count(shortcut.size)} while `{main.text}` has {main.size}: project it with "
        f"{'a Dense layer' if c.rank == 0 else 'a 1x1 convolution'} to {_count(channels)}"
        + (f" and the main branch's strides `{stride}`" if stride else "")
        + " whenever they differ.",
        c.with_import(edits, cls))


def _project_before_merge(c: _Context, shortcut: Operand, main: Operand, stride):
    if not isinstance(shortcut.expression, ast.Name):
        return
    statement = c.site.statement
    if c.source.line(statement.lineno)[statement.col_offset:] == "" or \
            c.source.indent_of(statement.lineno) != c.source.line(statement.lineno)[:statement.col_offset]:
        return
    channels = _channels_of(c, main, c.scope)
    if channels is None and isinstance(main.expression, ast.Name):
        channels = f"{main.text}.shape[{c.channel}]"
    if channels is None:
        return
    name = shortcut.text
    condition = _differ(f"{name}.shape[{c.channel}]", channels, stride)
    cls, call = c.projection(channels, stride, name)
    body = _guarded(c.source.indent_of(statement.lineno), condition, f"{name} = {call}")
    edits = [Edit(statement.lineno, statement.lineno, body + [c.source.line(statement.lineno)])]
    yield Candidate(
        f"`{name}` keeps {_count(shortcut.size)} while `{main.text}` has {main.size}: project it with a "
        f"{'Dense layer' if c.rank == 0 else '1x1 convolution'} to {_count(channels)}"
        + (f" and the main branch's strides `{stride}`" if stride else "")
        + f" just before the merge at line {statement.lineno}, whenever they differ.",
        c.with_import(edits, cls))


def _differ(channels_now: str, channels: str, stride) -> str | None:
    """The test for "the shortcut must be projected"; None when it always must."""
    parts = [f"{channels_now} != {_wrapped(channels)}"]
    stride_test = _stride_differs(stride) if stride else None
    if stride_test is True:
        return None
    if stride_test:
        parts.append(stride_test)
    return " or ".join(parts)


def _stride_differs(stride: str):
    """``strides != 1`` for a stride the caller picks; True for a literal stride other than 1."""
    try:
        literal = ast.literal_eval(stride)
    except (ValueError, SyntaxError):
        literal = None
    if isinstance(literal, int):
        return literal != 1 or None
    if isinstance(literal, tuple):
        return any(v != 1 for v in literal) or None
    try:
        node = ast.parse(stride, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(node, (ast.Tuple, ast.List)):
        return f"{stride} != ({', '.join('1' for _ in node.elts)})"
    return f"{_wrapped(stride)} != 1"


# --------------------------------------------------------------------------- spatial sizes


def _spatial(c: _Context):
    if len(c.operands) != 2:
        return
    strides = [c.reader.stride(o.origins) for o in c.operands]
    upsampled = any(_UPSAMPLING.match(name) for o in c.operands for _, name, _ in c.reader.layers(o.origins))
    if upsampled:
        return
    if bool(strides[0]) != bool(strides[1]):
        main, shortcut = (c.operands[0], c.operands[1]) if strides[0] else (c.operands[1], c.operands[0])
        stride = strides[0] or strides[1]
        yield from _stride_shortcut(c, shortcut, main, stride, c.reader)
        every = PathReader(c.source, c.site.function, ())
        yield from _stride_shortcut(c, shortcut, main, stride, every, everywhere=True)
        yield from _pool_before_merge(c, shortcut, main, stride)
    for main, shortcut in ((c.operands[0], c.operands[1]), (c.operands[1], c.operands[0])):
        yield from _pad_valid(c, main, shortcut)


def _stride_shortcut(c: _Context, shortcut: Operand, main: Operand, stride: str, reader: PathReader,
                     everywhere: bool = False):
    """Give the shortcut's unstrided 1x1 projections the stride, and pool it where it is
    the input passed on unchanged."""
    if not isinstance(shortcut.expression, ast.Name):
        return
    origins = reader.origins(shortcut.expression, reader.scope_at(c.site.statement))
    edits, projected, pooled = [], [], []
    cls = None
    for origin in origins:
        if origin.kind == "parameter":
            if not origin.aliases:
                return  # the merge takes the parameter itself: pooling goes before the merge
            alias = origin.aliases[-1]
            if any(e.start == alias.lineno for e in edits):
                continue
            cls, pool = c.pooling(stride, shortcut.text)
            test = _stride_differs(stride)
            if not test:
                return
            body = _guarded(c.source.indent_of(alias.lineno), None if test is True else test,
                            f"{shortcut.text} = {pool}")
            edits.append(Edit(alias.lineno, alias.lineno, [c.source.line(alias.lineno)] + body))
            pooled.append(alias.lineno)
            continue
        if origin.kind != "assigned":
            return
        for call, name, _ in reader.layers((origin,)):
            if name in SHAPE_PRESERVING:
                continue
            if re.match(r"^Conv[123]D$", name) and is_one(kernel(call)) and not any(
                    keyword_value(call, k) is not None and not is_one(keyword_value(call, k))
                    for k in ("strides", "stride")):
                edit = add_keyword(c.source, call, "strides", stride)
                if edit is None:
                    return
                if all(e.start != edit.start for e in edits):
                    edits.append(edit)
                    projected.append(call.lineno)
            break
    if not edits:
        return
    said = []
    if projected:
        said.append(f"give the 1x1 projection{'s' if len(projected) > 1 else ''} of `{shortcut.text}` at line "
                    f"{', '.join(map(str, projected))} the same strides")
    if pooled:
        said.append(f"pool `{shortcut.text}` by the same stride where line {', '.join(map(str, pooled))} "
                    "passes the input on unchanged")
    yield Candidate(
        f"`{main.text}` is downsampled by `{stride}` but `{shortcut.text}` is not"
        + (" on every path" if everywhere else "") + ": " + " and ".join(said) + ".",
        c.with_import(edits, cls) if cls else edits)


def _pool_before_merge(c: _Context, shortcut: Operand, main: Operand, stride: str):
    if not isinstance(shortcut.expression, ast.Name):
        return
    statement = c.site.statement
    if c.source.indent_of(statement.lineno) != c.source.line(statement.lineno)[:statement.col_offset]:
        return
    test = _stride_differs(stride)
    if not test:
        return
    cls, pool = c.pooling(stride, shortcut.text)
    body = _guarded(c.source.indent_of(statement.lineno), None if test is True else test, f"{shortcut.text} = {pool}")
    edits = [Edit(statement.lineno, statement.lineno, body + [c.source.line(statement.lineno)])]
    yield Candidate(
        f"`{main.text}` is downsampled by `{stride}` but `{shortcut.text}` is not: pool `{shortcut.text}` "
        f"with the same stride just before the merge at line {statement.lineno}.",
        c.with_import(edits, cls))


def _pad_valid(c: _Context, main: Operand, shortcut: Operand):
    """Pad the 'valid' convolutions (kernel larger than 1) on the way to ``main``."""
    edits, changed = [], []
    for call, name, _ in c.reader.layers(main.origins):
        if not re.match(r"^(?:Conv|SeparableConv|DepthwiseConv)[123]D$", name) or is_one(kernel(call)):
            continue
        padding = keyword_value(call, "padding")
        if padding is not None and not (isinstance(padding, ast.Constant) and padding.value == "valid"):
            continue
        edit = add_keyword(c.source, call, "padding", '"causal"' if name == "Conv1D" else '"same"')
        if edit is not None and all(e.start != edit.start for e in edits):
            edits.append(edit)
            changed.append(f"`{name}` at line {call.lineno}")
    if edits:
        changed = [text for _, text in sorted(zip([e.start for e in edits], changed))]
        padding = "causal" if all("Conv1D" in text for text in changed) else "same"
        yield Candidate(
            f"`{main.text}` loses border positions to 'valid' padding ({main.size} against "
            f"{shortcut.size}): pad {', '.join(changed)} with padding=\"{padding}\" so it keeps the size of "
            f"`{shortcut.text}`.", sorted(edits, key=lambda e: e.start))


# --------------------------------------------------------------------------- concatenations


def _concatenation(c: _Context):
    yield from _concat_axis(c)
    edits, changed = [], []
    for operand in c.operands:
        for call, name, _ in c.reader.layers(operand.origins):
            if not SPATIAL_LAYER.match(name):
                continue
            padding = keyword_value(call, "padding")
            if isinstance(padding, ast.Constant) and padding.value == "same":
                continue
            size = kernel(call)
            strided = any(keyword_value(call, k) is not None and not is_one(keyword_value(call, k))
                          for k in ("strides", "stride"))
            if is_one(size) and not strided:
                continue
            edit = add_keyword(c.source, call, "padding", '"same"')
            if edit is not None and all(e.start != edit.start for e in edits):
                edits.append(edit)
                changed.append(f"`{name}` at line {call.lineno}")
    if edits:
        changed = [text for _, text in sorted(zip([e.start for e in edits], changed))]
        axis = c.finding.fields.get("axis", "a spatial axis")
        yield Candidate(
            f"The inputs differ on {axis} ({c.finding.fields.get('left')} against {c.finding.fields.get('right')}): "
            f"pad {', '.join(changed)} with padding=\"same\" so every input keeps the same spatial size.",
            sorted(edits, key=lambda e: e.start))


def _concat_axis(c: _Context):
    """Channels differ and the concatenation runs along another axis: use the channel axis."""
    if c.finding.fields.get("axis") != "channel axis" or not isinstance(c.site.node, ast.Call):
        return
    layer = c.site.node.func if isinstance(c.site.node.func, ast.Call) else c.site.node
    axis = keyword_value(layer, "axis")
    if axis is None and layer is c.site.node and len(layer.args) > 1:
        axis = layer.args[1]
    if axis is None:
        return
    try:
        current = ast.literal_eval(axis)
    except ValueError:
        return
    wanted = c.channel
    edit = replace_node(c.source, axis, wanted)
    if edit is not None and str(current) != wanted:
        yield Candidate(
            f"The inputs are concatenated along axis {current}, so their channels "
            f"({c.finding.fields.get('left')} and {c.finding.fields.get('right')}) must agree; concatenate along "
            f"the channel axis (axis={wanted}), where the channel counts may differ.", [edit])


# --------------------------------------------------------------------------- the calls that lead there


def _call_arguments(finding, source: Source):
    """Flip a True/False argument of a call (in this file) on the finding's call chain."""
    for site in finding.call_chain:
        if getattr(site, "file", ""):
            continue
        for call in source.calls_named(site.line, site.function):
            for keyword in call.keywords:
                if isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, bool):
                    value = keyword.value.value
                    edit = replace_node(source, keyword.value, str(not value))
                    if edit is not None:
                        yield Candidate(
                            f"Pass {keyword.arg}={not value} to {site.function}() at line {site.line}: with "
                            f"{keyword.arg}={value} the merge it leads to fails.", [edit])


# --------------------------------------------------------------------------- edits


def replace_node(source: Source, node, replacement: str) -> Edit | None:
    if node is None or node.lineno != node.end_lineno:
        return None
    line = source.line(node.lineno)
    encoded = line.encode("utf-8")
    new = encoded[: node.col_offset].decode() + replacement + encoded[node.end_col_offset:].decode()
    return Edit(node.lineno, node.lineno, [new])


def add_keyword(source: Source, call: ast.Call, name: str, value: str) -> Edit | None:
    """Insert or replace ``name=value`` in a constructor call that sits on one line."""
    existing = keyword_value(call, name)
    if existing is not None:
        return replace_node(source, existing, value)
    if call.lineno != call.end_lineno:
        return None
    encoded = source.line(call.lineno).encode("utf-8")
    head = encoded[: call.end_col_offset - 1].decode()
    tail = encoded[call.end_col_offset - 1:].decode()
    separator = "" if head.rstrip().endswith(("(", ",")) else ", "
    return Edit(call.lineno, call.lineno, [f"{head.rstrip()}{separator}{name}={value}{tail}"])


def import_edit(source: Source, class_name: str) -> Edit | None:
    """For bare-name style: add ``class_name`` to the ``from ... import`` that brings in layers."""
    if class_name in source.module_names():
        return None
    for node in source.tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith("layers") \
                and node.lineno == node.end_lineno:
            code, _, comment = source.line(node.lineno).partition("#")
            code = code.rstrip()
            new = f"{code}, {class_name}" if not code.endswith(")") else f"{code[:-1].rstrip()}, {class_name})"
            if comment:
                new += "  #" + comment
            return Edit(node.lineno, node.lineno, [new])
    return None


def _guarded(indent: str, condition: str | None, statement: str) -> list[str]:
    """``statement`` at ``indent``, under ``if condition:`` when there is one."""
    if condition is None:
        return [f"{indent}{statement}"]
    step = "\t" if indent.startswith("\t") else "    "
    return [f"{indent}if {condition}:", f"{indent}{step}{statement}"]


def _enclosing_if(function, statement):
    """The innermost ``if`` whose body holds ``statement`` directly."""
    for node in ast.walk(function):
        if isinstance(node, ast.If) and statement in node.body:
            return node
    return None


def _wrapped(expression: str) -> str:
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        return f"({expression})"
    loose = (ast.IfExp, ast.BoolOp, ast.Compare, ast.Lambda, ast.NamedExpr)
    return f"({expression})" if isinstance(node, loose) else expression


__all__ = ["Candidate", "Edit", "candidates", "called_name", "parameters"]
