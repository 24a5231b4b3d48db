"""``--explain``: what a finding means for this code, and a change that fixes it.

For each finding the explanation shows the merge, the two sizes it compares
as expressions in the user's names, the path condition, the call chain, the
witness written as a call of the entry function, and a suggested change.

The suggestion reads the user's source (Python's :mod:`ast`, no import of the
code) to find the merge's inputs and how they were made:

* KSL101/KSL102/KSL105 on an additive merge with an identity shortcut (an input that
  is the function's own argument, directly or through ``shortcut = x``): project
  the shortcut with a 1x1 convolution (``Dense`` for vectors) to the main
  branch's channels, with the main branch's strides, whenever channels or
  stride differ.  When both inputs are computed, resize the 1x1 projection.
* KSL103: give the shortcut's projection the main branch's strides, or pool an
  identity shortcut with the same stride.
* KSL104: pad the strided or pooled branch ``"same"`` so the spatial sizes agree
  before the concatenation (or crop / resize).

Where the code allows it, the suggestion comes with concrete line edits
(:class:`Edit`) written with the user's own names and layer spelling; the
tests apply them and check that the analyser and Keras both accept the result.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from .findings import Finding

ADDITIVE_MERGES = {"Add", "add", "Subtract", "subtract", "Average", "average", "Maximum", "maximum",
                   "Minimum", "minimum"}
ADDITIVE_OPERATORS = (ast.Add, ast.Sub)
CONCAT_MERGES = {"Concatenate", "concatenate"}
STRIDE_KEYWORDS = ("strides", "stride", "subsample")
SHAPE_PRESERVING = {"BatchNormalization", "LayerNormalization", "GroupNormalization", "Activation", "ReLU",
                    "LeakyReLU", "PReLU", "ELU", "Softmax", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
                    "SpatialDropout3D", "GaussianNoise", "GaussianDropout"}
_SPATIAL_LAYER = re.compile(r"^(?:Conv|SeparableConv|DepthwiseConv|MaxPooling|AveragePooling|MaxPool|AvgPool|"
                            r"LocallyConnected)([123])D$")
_LAYER_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@dataclass
class Edit:
    """Replace lines ``start``..``end`` (1-based, inclusive) with ``new`` lines."""

    start: int
    end: int
    new: list[str]


@dataclass
class Suggestion:
    summary: str
    edits: list[Edit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- reading the source


@dataclass
class MergeSite:
    node: ast.expr
    statement: ast.stmt
    function: ast.FunctionDef | ast.AsyncFunctionDef | None
    operands: list[ast.expr]
    layer: str  # "Add", "concatenate", "+" ...


class Source:
    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines()
        try:
            self.tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError):
            self.tree = None

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ast.unparse(node)

    def line(self, number: int) -> str:
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def indent_of(self, number: int) -> str:
        line = self.line(number)
        return line[: len(line) - len(line.lstrip())]

    # ----------------------------------------------------------------- the merge
    def merge_at(self, line: int, col: int, merge: str | None = None) -> MergeSite | None:
        """The merge expression starting at (line, col); with ``merge`` (the finding's
        ``Add()`` or ```+```), only one that is that merge (a finding reported at a call
        into another module points at the call, not at a merge)."""
        if self.tree is None:
            return None
        byte_col = len(self.line(line)[:col].encode("utf-8"))
        statement = None
        for node in ast.walk(self.tree):
            if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno):
                if statement is None or (node.lineno >= statement.lineno and _span(node) <= _span(statement)):
                    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If,
                                             ast.For, ast.While, ast.With, ast.Try)):
                        statement = node
        if statement is None:
            return None
        for node in ast.walk(statement):
            if not isinstance(node, ast.expr) or node.lineno != line or node.col_offset != byte_col:
                continue
            site = self._merge_site(node, statement)
            if site is not None and (merge is None or _same_merge(site.layer, merge)):
                return site
        return None

    def _merge_site(self, node: ast.expr, statement: ast.stmt) -> MergeSite | None:
        function = self.function_around(statement.lineno)
        if isinstance(node, ast.BinOp):
            symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}.get(type(node.op), "?")
            return MergeSite(node, statement, function, [node.left, node.right], symbol)
        if isinstance(node, ast.Call):
            layer = _called_name(node.func.func if isinstance(node.func, ast.Call) else node.func)
            if node.args and isinstance(node.args[0], (ast.List, ast.Tuple)):
                operands = list(node.args[0].elts)
            elif node.args:
                operands = list(node.args[:1])
            else:
                operands = []
            return MergeSite(node, statement, function, operands, layer or "merge")
        return None

    def function_around(self, line: int):
        found = None
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    and node.lineno <= line <= (node.end_lineno or node.lineno):
                if found is None or node.lineno > found.lineno:
                    found = node
        return found

    # ----------------------------------------------------------------- names
    def assignments(self, function, name: str, before: int) -> list[ast.Assign]:
        """``name = ...`` statements in ``function`` (not nested functions) before line ``before``."""
        found = []
        for node in _walk_function(function):
            if isinstance(node, ast.Assign) and node.lineno < before and any(
                    isinstance(t, ast.Name) and t.id == name for t in node.targets):
                found.append(node)
        return sorted(found, key=lambda n: n.lineno)

    def module_names(self) -> set[str]:
        names = set()
        for node in self.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
        return names

    # ----------------------------------------------------------------- layer spelling
    def layer_prefix(self, site: MergeSite) -> str:
        """How this file spells a layer class: 'layers.', 'tf.keras.layers.', 'KL.', or '' (imported)."""
        call = site.node.func.func if isinstance(site.node, ast.Call) and isinstance(site.node.func, ast.Call) \
            else None
        prefixes = []
        if call is not None and _LAYER_NAME.match(_called_name(call) or ""):
            prefixes.append(_prefix(call))
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Call):
                name = _called_name(node.func.func)
                if name and _LAYER_NAME.match(name):
                    prefixes.append(_prefix(node.func.func))
        return prefixes[0] if prefixes else "keras.layers."

    def import_edit(self, class_name: str) -> Edit | None:
        """For bare-name style: add ``class_name`` to the ``from ... import`` that brings in layers."""
        if class_name in self.module_names():
            return None
        for node in self.tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith("layers") \
                    and node.lineno == node.end_lineno:
                line = self.line(node.lineno)
                code, _, comment = line.partition("#")
                code = code.rstrip()
                new = f"{code}, {class_name}" if not code.endswith(")") else f"{code[:-1].rstrip()}, {class_name})"
                if comment:
                    new += "  #" + comment
                return Edit(node.lineno, node.lineno, [new])
        return None


def _same_merge(layer: str, merge: str) -> bool:
    """Does the merge read from the source (``Add``, ``+``) match the finding's (``Add()``, ```+```)?"""
    return layer.lower() == merge.strip("`").removesuffix("()").split(".")[-1].lower()


def _span(node: ast.AST) -> int:
    return (node.end_lineno or node.lineno) - node.lineno


def _walk_function(function):
    if function is None:
        return
    stack = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                stack.append(child)


def _called_name(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _prefix(func) -> str:
    if isinstance(func, ast.Attribute):
        return ast.unparse(func.value) + "."
    return ""


def _is_method(site: MergeSite) -> bool:
    params = _parameters(site.function)
    return bool(params) and params[0] in ("self", "cls")


def _parameters(function) -> list[str]:
    if function is None:
        return []
    args = function.args
    return [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]


def _is_one(node: ast.expr | None) -> bool:
    if isinstance(node, ast.Constant) and node.value == 1:
        return True
    return isinstance(node, (ast.Tuple, ast.List)) and all(_is_one(e) for e in node.elts)


def _layer_call(value: ast.expr):
    """``Conv2D(...)(x)`` -> (the constructor call, its class name, the input expression)."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Call):
        name = _called_name(value.func.func)
        if name and _LAYER_NAME.match(name):
            return value.func, name, value.args[0] if value.args else None
    return None


def _kernel(call: ast.Call):
    if len(call.args) > 1:
        return call.args[1]
    keyword = _keyword(call, "kernel_size")
    return keyword.value if keyword is not None else None


def _keyword(call: ast.Call, name: str):
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword
    return None


# --------------------------------------------------------------------------- what the code looks like


@dataclass
class Branches:
    """The two inputs of a two-input merge, read as main branch and shortcut."""

    main: ast.expr
    main_size: str
    shortcut: ast.expr
    shortcut_size: str
    identity_source: str | None = None  # the argument the shortcut passes on unchanged
    alias: ast.Assign | None = None  # ``shortcut = x``, when that is how it does


def _identity(source: Source, site: MergeSite, operand: ast.expr):
    """(source name, alias statement or None) when ``operand`` passes a parameter through unchanged."""
    if not isinstance(operand, ast.Name) or site.function is None:
        return None
    params = _parameters(site.function)
    merge_line = site.statement.lineno
    assigned = source.assignments(site.function, operand.id, merge_line)
    if operand.id in params and not assigned:
        return operand.id, None
    for assign in reversed(assigned):
        value = assign.value
        if isinstance(value, ast.IfExp):  # ``shortcut = x if ... else Conv2D(...)(x)``
            value = value.body if isinstance(value.body, ast.Name) else value.orelse
        if isinstance(value, ast.Name) and value.id in params \
                and not source.assignments(site.function, value.id, assign.lineno):
            return value.id, assign
    return None


def _branches(source: Source, site: MergeSite, finding: Finding) -> Branches | None:
    if len(site.operands) != 2:
        return None
    left, right = site.operands
    sizes = (str(finding.fields.get("left", "")), str(finding.fields.get("right", "")))
    for shortcut, main, shortcut_size, main_size in ((right, left, sizes[1], sizes[0]),
                                                     (left, right, sizes[0], sizes[1])):
        found = _identity(source, site, shortcut)
        if found is not None and _identity(source, site, main) is None:
            return Branches(main, main_size, shortcut, shortcut_size, found[0], found[1])
    # both computed: the shortcut is the side that is not strided (or has the simpler size)
    if _strided(source, site, left) and not _strided(source, site, right):
        return Branches(left, sizes[0], right, sizes[1])
    if _strided(source, site, right) and not _strided(source, site, left):
        return Branches(right, sizes[1], left, sizes[0])
    if len(sizes[0]) < len(sizes[1]):
        return Branches(right, sizes[1], left, sizes[0])
    return Branches(left, sizes[0], right, sizes[1])


def _chain_nodes(source: Source, site: MergeSite, operand: ast.expr) -> list[ast.AST]:
    """Every node that computes ``operand``: the expression itself and, transitively, the
    assignments (before the merge) of the names it uses, in source order."""
    nodes: list[ast.AST] = []
    pending = [operand]
    seen: set[str] = set()
    while pending:
        expression = pending.pop()
        for node in ast.walk(expression):
            nodes.append(node)
            if isinstance(node, ast.Name) and node.id not in seen:
                seen.add(node.id)
                pending.extend(a.value for a in source.assignments(site.function, node.id, site.statement.lineno))
    return sorted(nodes, key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))


def _strided(source: Source, site: MergeSite, operand: ast.expr) -> bool:
    """Does the operand's computation use a stride other than 1 (or pass a stride argument on)?"""
    return _chain_stride(source, site, operand) is not None


def _chain_stride(source: Source, site: MergeSite, operand: ast.expr) -> str | None:
    """The stride applied on the way to ``operand``: a ``strides=`` that is not 1, else a name
    like ``strides`` handed to a helper."""
    nodes = _chain_nodes(source, site, operand)
    for node in nodes:
        if isinstance(node, ast.Call):
            for name in STRIDE_KEYWORDS:
                keyword = _keyword(node, name)
                if keyword is not None and not _is_one(keyword.value):
                    return source.segment(keyword.value)
    for node in nodes:
        if isinstance(node, ast.Name) and "stride" in node.id.lower():
            return node.id
    return None


def _chain_layers(source: Source, site: MergeSite, operand: ast.expr) -> list[tuple[ast.Call, str]]:
    """(constructor call, class name) of each layer applied on the way to ``operand``."""
    found = []
    for node in _chain_nodes(source, site, operand):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Call):
            name = _called_name(node.func.func)
            if name and _LAYER_NAME.match(name):
                found.append((node.func, name))
    return found


def _python_size(size: str, allowed: set[str]) -> str | None:
    """The analyser's size expression as Python in the user's names, if it is one."""
    try:
        tree = ast.parse(size, mode="eval")
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            return None
        if isinstance(node, ast.Name) and node.id not in allowed:
            return None
    return ast.unparse(tree)


def _main_stride(source: Source, site: MergeSite, branches: Branches) -> str | None:
    """The stride the main branch applies (None when it applies none the code shows)."""
    return _chain_stride(source, site, branches.main)


def _spatial_rank(source: Source, site: MergeSite, finding: Finding) -> int:
    """1, 2 or 3 for the convolutions the function uses, 0 for vectors (Dense)."""
    names = [_called_name(n.func) for n in _walk_function(site.function) if isinstance(n, ast.Call)]
    for name in names:
        match = _SPATIAL_LAYER.match(name or "")
        if match:
            return int(match.group(1))
    if "Dense" in names:
        return 0
    args = finding.witness.args if finding.witness else {}
    for value in args.values():
        if isinstance(value, dict) and isinstance(value.get("shape"), list):
            return max(0, len(value["shape"]) - 2)
    return 2


def _wrap(expression: str) -> str:
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        return f"({expression})"
    loose = (ast.IfExp, ast.BoolOp, ast.Compare, ast.Lambda, ast.NamedExpr)
    return f"({expression})" if isinstance(node, loose) else expression


# --------------------------------------------------------------------------- suggestions


def suggest(finding: Finding, text: str, data_format: str = "channels_last") -> Suggestion | None:
    """A concrete change for this finding (None for KSL9xx or code it cannot read)."""
    if finding.code in ("KSL901", "KSL902"):
        return None
    source = Source(text)
    site = source.merge_at(finding.line, finding.col, finding.fields.get("merge"))
    if site is None:
        return Suggestion(
            f"The {finding.fields.get('merge', 'merge')} is not on this line: the call here leads to it (the "
            "message says where). Change the arguments passed here, or run --explain on the module that "
            "holds the merge for a change there."
        )
    try:
        if finding.code in ("KSL101", "KSL102", "KSL105"):
            suggestion = _suggest_channels(source, site, finding, data_format)
        elif finding.code == "KSL103":
            suggestion = _suggest_spatial(source, site, finding, data_format)
        else:
            suggestion = _suggest_concat(source, site, finding, data_format)
    except (AttributeError, TypeError, ValueError, IndexError):  # odd code: fall back to words
        return Suggestion("Make both inputs of this merge the same shape before merging.")
    suggestion.edits = sorted((e for e in suggestion.edits
                               if e.new != [source.line(n) for n in range(e.start, e.end + 1)]),
                              key=lambda e: e.start)
    return suggestion


def _channel_index(data_format: str) -> str:
    return "1" if data_format == "channels_first" else "-1"


def _projection(prefix: str, rank: int, channels: str, stride: str | None, tensor: str,
                layout: str = "channels_last") -> tuple[str, str]:
    """(class name, the call) projecting ``tensor`` to ``channels`` with ``stride``."""
    if rank == 0:
        return "Dense", f"{prefix}Dense({channels})({tensor})"
    cls = f"Conv{rank}D"
    extra = f", strides={stride}" if stride else ""
    if layout == "channels_first":
        extra += ', data_format="channels_first"'
    return cls, f"{prefix}{cls}({channels}, 1{extra})({tensor})"


def _suggest_channels(source: Source, site: MergeSite, finding: Finding, data_format: str) -> Suggestion:
    branches = _branches(source, site, finding)
    additive = site.layer in ADDITIVE_MERGES or site.layer in ("+", "-")
    if branches is None:
        return Suggestion("Give every input of this merge the same number of channels (a 1x1 convolution "
                          "projects a tensor to a given channel count).")
    main_text = source.segment(branches.main)
    shortcut_text = source.segment(branches.shortcut)
    if not additive:
        return Suggestion(
            f"`{site.layer}` is not a residual sum, so a projection is not the fix: size the branch that yields "
            f"{branches.main_size} channels from the other input (for example `{shortcut_text}.shape"
            f"[{_channel_index(_data_format(site, data_format))}]`) instead of a separate argument, so both "
            "always agree."
        )
    params = set(_parameters(site.function))
    prefix = source.layer_prefix(site)
    rank = _spatial_rank(source, site, finding)
    layout = _data_format(site, data_format)
    if _is_method(site) and branches.identity_source is not None:
        return Suggestion(
            f"The shortcut `{shortcut_text}` passes the input through unchanged, so it keeps "
            f"{branches.shortcut_size} channels while `{main_text}` has {branches.main_size}. In a layer "
            "class, create a 1x1 projection (with the main branch's strides) in __init__ and apply it "
            "to the shortcut whenever the channels or the stride differ, instead of only when a flag asks."
        )
    if branches.identity_source is not None:
        stride = _main_stride(source, site, branches)
        return _project_identity(source, site, branches, prefix, rank, layout, stride, params)
    # both inputs are computed: resize a 1x1 projection on either side to the other's channels
    for target, target_size, other_size in ((branches.shortcut, branches.shortcut_size, branches.main_size),
                                            (branches.main, branches.main_size, branches.shortcut_size)):
        edit = _resize_projection(source, site, target, target_size, other_size, params)
        if edit is not None:
            name = source.segment(target)
            return Suggestion(
                f"The 1x1 projection that makes `{name}` yields {target_size} channels, but the other "
                f"input has {other_size}: project to {other_size} channels instead.",
                [edit],
            )
    return Suggestion(
        f"`{main_text}` has {branches.main_size} channels and `{shortcut_text}` has "
        f"{branches.shortcut_size}: project one of them with a 1x1 convolution to the other's channel count "
        "before the merge."
    )


def _project_identity(source, site, branches: Branches, prefix, rank, layout, stride, params) -> Suggestion:
    channel = _channel_index(layout)
    shortcut = source.segment(branches.shortcut)
    main = source.segment(branches.main)
    identity = branches.identity_source
    edits = []
    alias = branches.alias
    allowed = set(params) | source.module_names()
    if alias is not None:
        # the size must be computable where ``shortcut = x`` stands: parameters not yet reassigned
        allowed = {p for p in allowed if p not in params or not source.assignments(site.function, p, alias.lineno)}
    channels = _python_size(branches.main_size, allowed)
    if channels is not None and alias is not None and isinstance(alias.value, ast.Name):
        indent = source.indent_of(alias.lineno)
        condition = f"{identity}.shape[{channel}] != {_wrap(channels)}"
        if stride:
            condition += f" or {_wrap(stride)} != 1"
        cls, call = _projection(prefix, rank, channels, stride, identity, layout)
        edits.append(Edit(alias.lineno, alias.end_lineno or alias.lineno, [
            source.line(alias.lineno),
            f"{indent}if {condition}:",
            f"{indent}    {shortcut} = {call}",
        ]))
        where = f"where line {alias.lineno} passes `{identity}` through unchanged"
    else:
        if channels is None:
            channels = f"{main}.shape[{channel}]"
        indent = source.indent_of(site.statement.lineno)
        condition = f"{shortcut}.shape[{channel}] != {_wrap(channels)}"
        if stride:
            condition += f" or {_wrap(stride)} != 1"
        cls, call = _projection(prefix, rank, channels, stride, shortcut, layout)
        edits.append(Edit(site.statement.lineno, site.statement.lineno, [
            f"{indent}if {condition}:",
            f"{indent}    {shortcut} = {call}",
            source.line(site.statement.lineno),
        ]))
        where = f"before the merge at line {site.statement.lineno}"
    if not prefix:
        imported = source.import_edit(cls)
        if imported is not None:
            edits.insert(0, imported)
    what = "a 1x1 convolution" if rank else "a Dense layer"
    origin = "the block's input" if shortcut == identity else f"the block's input `{identity}`"
    summary = (f"The shortcut `{shortcut}` is {origin}, unchanged, so it keeps "
               f"{branches.shortcut_size} channels while `{main}` has {branches.main_size}. Project the "
               f"shortcut with {what} to {channels} channels"
               + (f" and the main branch's stride `{stride}`" if stride else "")
               + f" whenever they differ, {where}.")
    return Suggestion(summary, edits)


def _resize_projection(source, site, target, target_size, other_size, params) -> Edit | None:
    if not isinstance(target, ast.Name):
        return None
    allowed = set(params) | source.module_names()
    channels = _python_size(other_size, allowed)
    if channels is None or channels not in _written_sizes(site):
        return None
    for assign in reversed(source.assignments(site.function, target.id, site.statement.lineno)):
        found = _layer_call(assign.value)
        if found is None:
            return None
        call, name, argument = found
        if name in SHAPE_PRESERVING and isinstance(argument, ast.Name) and argument.id == target.id:
            continue  # ``shortcut = BatchNormalization()(shortcut)``: look further back
        if not re.match(r"^(?:Conv[123]D|Dense)$", name):
            return None
        if name != "Dense" and not _is_one(_kernel(call)):
            return None
        filters = call.args[0] if call.args else (_keyword(call, "filters") or _keyword(call, "units"))
        if filters is None:
            return None
        if isinstance(filters, ast.keyword):
            filters = filters.value
        return _replace_node(source, filters, channels)
    return None


def _written_sizes(site: MergeSite) -> set[str]:
    """The first arguments (filters, units) of the layer constructors in the function, normalised."""
    sizes = set()
    for node in _walk_function(site.function):
        if isinstance(node, ast.Call) and node.args and _LAYER_NAME.match(_called_name(node.func) or ""):
            sizes.add(ast.unparse(node.args[0]))
    return sizes


def _replace_node(source: Source, node: ast.expr, replacement: str) -> Edit | None:
    if node.lineno != node.end_lineno:
        return None
    line = source.line(node.lineno)
    encoded = line.encode("utf-8")
    new = (encoded[: node.col_offset].decode() + replacement + encoded[node.end_col_offset:].decode())
    return Edit(node.lineno, node.lineno, [new])


def _add_keyword(source: Source, call: ast.Call, name: str, value: str) -> Edit | None:
    """Insert or replace ``name=value`` in a constructor call that sits on one line."""
    existing = _keyword(call, name)
    if existing is not None:
        return _replace_node(source, existing.value, value)
    if call.lineno != call.end_lineno:
        return None
    line = source.line(call.lineno)
    encoded = line.encode("utf-8")
    head = encoded[: call.end_col_offset - 1].decode()
    tail = encoded[call.end_col_offset - 1:].decode()
    separator = "" if head.rstrip().endswith(("(", ",")) else ", "
    return Edit(call.lineno, call.lineno, [f"{head.rstrip()}{separator}{name}={value}{tail}"])


def _suggest_spatial(source: Source, site: MergeSite, finding: Finding, data_format: str) -> Suggestion:
    branches = _branches(source, site, finding)
    if branches is None:
        return Suggestion("Downsample every input of this merge by the same factor (same strides, pooling, "
                          "padding) so the spatial sizes agree.")
    shortcut = source.segment(branches.shortcut)
    main = source.segment(branches.main)
    stride = _main_stride(source, site, branches)
    upsampled = any(_UPSAMPLING.match(name) for operand in (branches.main, branches.shortcut)
                    for _, name in _chain_layers(source, site, operand))
    if not stride or upsampled:
        return _spatial_without_stride(source, site, branches)
    prefix = source.layer_prefix(site)
    rank = _spatial_rank(source, site, finding) or 1
    layout = _data_format(site, data_format)
    summary = (f"`{main}` is downsampled by `{stride}` but `{shortcut}` is not: apply the same strides "
               f"(strides={stride}) to the shortcut's projection, or pool an identity shortcut with "
               f"pool_size={stride}, strides={stride}, padding=\"same\".")
    assigns = (source.assignments(site.function, branches.shortcut.id, site.statement.lineno)
               if isinstance(branches.shortcut, ast.Name) else [])
    plain_projections = []  # 1x1 convolutions on the shortcut without the stride
    strided_path = False
    for assign in assigns:
        found = _layer_call(assign.value)
        if found is None or not re.match(r"^Conv[123]D$", found[1]):
            continue
        keyword = next((_keyword(found[0], k) for k in STRIDE_KEYWORDS if _keyword(found[0], k)), None)
        if keyword is None or _is_one(keyword.value):
            plain_projections.append(found[0])
        else:
            strided_path = True
    alias = branches.alias if branches.alias is not None and isinstance(branches.alias.value, ast.Name) else None
    edits = [e for e in (_add_keyword(source, call, "strides", stride) for call in plain_projections) if e]
    cls = f"AveragePooling{rank}D"
    layout_arg = ', data_format="channels_first"' if layout == "channels_first" else ""
    pool = f"{prefix}{cls}(pool_size={stride}, strides={stride}, padding=\"same\"{layout_arg})({shortcut})"
    if branches.identity_source is not None:
        if alias is not None and (plain_projections or strided_path):
            # pool only the path that passes the input through; the projections take the stride
            indent = source.indent_of(alias.lineno)
            edits.append(Edit(alias.lineno, alias.end_lineno or alias.lineno, [
                source.line(alias.lineno),
                f"{indent}if {_wrap(stride)} != 1:",
                f"{indent}    {shortcut} = {pool}",
            ]))
        elif not strided_path:
            # every path of the shortcut keeps the full size: pool it just before the merge
            edits = []
            indent = source.indent_of(site.statement.lineno)
            edits.append(Edit(site.statement.lineno, site.statement.lineno, [
                f"{indent}if {_wrap(stride)} != 1:",
                f"{indent}    {shortcut} = {pool}",
                source.line(site.statement.lineno),
            ]))
        if not prefix and any(cls in line for e in edits for line in e.new):
            imported = source.import_edit(cls)
            if imported is not None:
                edits.insert(0, imported)
    _merge_same_line_edits(edits)
    return Suggestion(summary, edits)


_UPSAMPLING = re.compile(r"^(?:UpSampling[123]D|Conv[123]DTranspose|Resizing)$")


def _spatial_without_stride(source: Source, site: MergeSite, branches: Branches) -> Suggestion:
    shortcut = source.segment(branches.shortcut)
    main = source.segment(branches.main)
    sizes = f"({branches.main_size} vs {branches.shortcut_size})"
    for operand in (branches.main, branches.shortcut):
        if any(_UPSAMPLING.match(name) for _, name in _chain_layers(source, site, operand)):
            return Suggestion(
                f"`{main}` and `{shortcut}` reach the merge at different spatial sizes {sizes}: upsampling "
                "by 2 does not undo a stride-2 layer on odd sizes. Resize or crop the upsampled map to the "
                "other input's size (Resizing, Cropping2D), pad the input to a multiple of the total "
                "stride, or only accept input sizes that divide evenly."
            )
    edits, changed = [], []
    for call, name in _chain_layers(source, site, branches.main):
        if not re.match(r"^(?:Conv|SeparableConv|DepthwiseConv)[123]D$", name):
            continue
        kernel = _kernel(call)
        padding = _keyword(call, "padding")
        if kernel is None or _is_one(kernel) or (padding is not None and not (
                isinstance(padding.value, ast.Constant) and padding.value.value == "valid")):
            continue
        value = '"causal"' if name == "Conv1D" else '"same"'
        edit = _add_keyword(source, call, "padding", value)
        if edit is not None:
            edits.append(edit)
            changed.append(f"`{name}` at line {call.lineno}")
    _merge_same_line_edits(edits)
    if edits:
        return Suggestion(
            f"`{main}` loses border positions to 'valid' padding {sizes}: pad {', '.join(changed)} "
            "(padding=\"same\", or \"causal\" for a sequence model) so the branch keeps the shortcut's size, "
            "or crop the shortcut to match.",
            edits,
        )
    return Suggestion(
        f"`{main}` and `{shortcut}` reach the merge at different spatial sizes {sizes}: use the same "
        "strides and padding on both branches, or crop / resize one of them to the other's size."
    )


def _suggest_concat(source: Source, site: MergeSite, finding: Finding, data_format: str) -> Suggestion:
    axis_fix = _concat_axis_fix(source, site, finding, data_format)
    if axis_fix is not None:
        return axis_fix
    edits = []
    changed = []
    for operand in site.operands:
        if not isinstance(operand, ast.Name):
            continue
        for assign in source.assignments(site.function, operand.id, site.statement.lineno):
            found = _layer_call(assign.value)
            if found is None or not _SPATIAL_LAYER.match(found[1]):
                continue
            call, name, _ = found
            padding = _keyword(call, "padding")
            if padding is not None and isinstance(padding.value, ast.Constant) and padding.value.value == "same":
                continue
            edit = _add_keyword(source, call, "padding", '"same"')
            if edit is not None:
                edits.append(edit)
                changed.append(f"`{name}` at line {call.lineno}")
    _merge_same_line_edits(edits)
    axis = finding.fields.get("axis", "a spatial axis")
    left, right = finding.fields.get("left"), finding.fields.get("right")
    if edits:
        summary = (f"The inputs differ on {axis} ({left} vs {right}): pad "
                   f"{', '.join(changed)} with padding=\"same\" so every branch keeps the same spatial size "
                   "(or crop / resize one branch to the other) before concatenating.")
    else:
        summary = (f"The inputs differ on {axis} ({left} vs {right}): align their spatial sizes before "
                   "concatenating: use padding=\"same\" on the strided or pooled layers, crop the larger "
                   "input (Cropping2D) or resize / pad the smaller one, or only accept input sizes that "
                   "divide evenly by the total stride.")
    return Suggestion(summary, edits)


def _concat_axis_fix(source: Source, site: MergeSite, finding: Finding, data_format: str) -> Suggestion | None:
    """Channels differ and the concat axis is not the channel axis: concatenate along channels."""
    if not isinstance(site.node, ast.Call):
        return None
    call = site.node.func if isinstance(site.node.func, ast.Call) else site.node
    axis = _keyword(call, "axis")
    axis_node = axis.value if axis is not None else (call.args[1] if call is site.node and len(call.args) > 1
                                                     else None)
    if axis_node is None:
        return None
    rank = _spatial_rank(source, site, finding)
    channel_axis = 1 if _data_format(site, data_format) == "channels_first" else rank + 1
    wanted = "1" if channel_axis == 1 else "-1"
    if finding.fields.get("axis") != f"spatial axis {channel_axis}":
        return None
    try:
        current = ast.literal_eval(axis_node)
    except ValueError:
        return None
    if current in (channel_axis, int(wanted)):
        return None
    edit = _replace_node(source, axis_node, wanted)
    return Suggestion(
        f"The inputs are concatenated along axis {current}, so their channels ({finding.fields.get('left')} "
        f"and {finding.fields.get('right')}) must agree; concatenate along the channel axis (axis={wanted}) "
        "instead, where the channel counts may differ.",
        [edit] if edit is not None else [],
    )


def _data_format(site: MergeSite, default: str) -> str:
    """``channels_first`` when the function's own layers say so, else the configured format."""
    for node in _walk_function(site.function):
        if isinstance(node, ast.Call):
            keyword = _keyword(node, "data_format")
            if keyword is not None and isinstance(keyword.value, ast.Constant) \
                    and keyword.value.value in ("channels_first", "channels_last"):
                return keyword.value.value
    return default


def _merge_same_line_edits(edits: list[Edit]) -> None:
    """Keep one edit per starting line (the first), so applying them never overlaps."""
    seen = set()
    kept = []
    for edit in edits:
        if any(line in seen for line in range(edit.start, edit.end + 1)):
            continue
        seen.update(range(edit.start, edit.end + 1))
        kept.append(edit)
    edits[:] = kept


def apply_edits(text: str, edits: list[Edit]) -> str:
    """The source with the edits applied (bottom-up, so line numbers stay valid)."""
    lines = text.splitlines()
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        lines[edit.start - 1: edit.end] = edit.new
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


# --------------------------------------------------------------------------- the explanation


def witness_call(finding: Finding) -> str | None:
    """The witness as Python: ``block(x=keras.Input(shape=(56, 56, 64)), filters=64)``."""
    if finding.witness is None:
        return None
    args = ", ".join(f"{name}={_witness_python(value)}" for name, value in finding.witness.args.items())
    if finding.witness.entry is None:
        return "running the module's top level" + (f" with {args}" if args else "")
    call = getattr(finding.witness, "call", None)
    if call:  # a layer class: construct it, then call it on these inputs
        inputs = ", ".join(_witness_python(value) for value in call.values())
        return f"{finding.witness.entry}({args})({inputs})"
    return f"{finding.witness.entry}({args})"


def _witness_python(value) -> str:
    if isinstance(value, dict) and "shape" in value:
        shape = value["shape"][1:]
        inner = ", ".join("None" if d is None else str(d) for d in shape)
        if len(shape) == 1:
            inner += ","
        return f"keras.Input(shape=({inner}))"
    if isinstance(value, list):
        return "(" + ", ".join(_witness_python(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def explain(finding: Finding, text: str, data_format: str = "channels_last") -> str:
    """The multi-line explanation printed under a finding by ``--explain``."""
    source = Source(text)
    out = []
    fields = finding.fields
    if finding.code in ("KSL901", "KSL902"):
        out.append(f"    {finding.rule.description}")
        out.append("    Raise the budgets (--max-paths, --timeout) or split the module; see "
                   f"{finding.rule.help_uri}.")
        return "\n".join(out)
    site = source.merge_at(finding.line, finding.col, fields.get("merge")) if source.tree is not None else None
    if site is not None:
        out.append(f"    merge:       {_one_line(source.segment(site.node))}  (line {finding.line})")
    else:
        statement = source.line(finding.line).split("  #")[0].strip()
        out.append(f"    merge:       {fields.get('merge', 'a merge')}, reached through "
                   f"`{_one_line(statement)}` (line {finding.line})")
    what = "channels" if finding.code in ("KSL101", "KSL102", "KSL105") else fields.get("axis", "size")
    names = [source.segment(o) for o in site.operands] if site is not None and len(site.operands) >= 2 else []
    left_name = f"`{_one_line(names[0])}`" if names else "first input"
    right_name = f"`{_one_line(names[1])}`" if len(names) > 1 else "other input"
    width = max(len(left_name), len(right_name))
    out.append(f"    inputs:      {left_name.ljust(width)}  {what}: {fields.get('left')}")
    out.append(f"                 {right_name.ljust(width)}  {what}: {fields.get('right')}")
    if finding.code == "KSL101":
        out.append("    verdict:     the two can never be equal (neither is ever 1, which Keras would broadcast)")
    elif finding.code == "KSL105":
        out.append("    verdict:     one input can have a single channel, which Keras broadcasts without an error")
    else:
        out.append(f"    needs:       {fields.get('left')} == {fields.get('right')}")
    condition = " and ".join(finding.path_condition) if finding.path_condition else "on every path"
    out.append(f"    when:        {condition}")
    chain = _chain(finding)
    out.append(f"    call chain:  {chain}")
    call = witness_call(finding)
    if call:
        out.append(f"    witness:     {call}")
        effect = "broadcast the single channel silently" if finding.code == "KSL105" else "raise"
        out.append(f"                 makes Keras {effect} at this merge")
    suggestion = suggest(finding, text, data_format)
    if suggestion is not None:
        out.append("    fix:         " + _indent_wrapped(suggestion.summary, 17, 100))
        for edit in suggestion.edits:
            out.append(f"      line {edit.start}" + (f"-{edit.end}" if edit.end != edit.start else "") + ":")
            for number in range(edit.start, edit.end + 1):
                out.append(f"        - {source.line(number)}")
            for line in edit.new:
                out.append(f"        + {line}")
        for note in suggestion.notes:
            out.append(f"                 {note}")
    return "\n".join(out)


def _chain(finding: Finding) -> str:
    entry = finding.witness.entry if finding.witness else None
    if not finding.call_chain:
        return f"{entry}() is an entry point (nothing in this file calls it)" if entry else "module top level"
    steps = [f"{entry}()" if entry else "module"]
    steps += [f"{site.function}() called at line {site.line}" for site in finding.call_chain]
    return " -> ".join(steps)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _indent_wrapped(text: str, indent: int, width: int) -> str:
    words = text.split()
    lines, current = [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width - indent:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return ("\n" + " " * indent).join(lines)
