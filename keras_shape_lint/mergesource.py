"""Reading the user's source around a finding: the merge, its inputs, and how each
input was made on the finding's path.

Everything here reads Python's :mod:`ast` of the text; the code is never imported
or run.  A finding's path condition (``conv_shortcut=False``, ``x.shape[-1] != filters``)
is the text of the branch decisions the analyser took; :class:`PathReader` follows
only the branches of ``if`` statements and conditional expressions whose tests read
that way, and both branches of the others, so "what is ``shortcut`` at the merge"
has the answer of the finding's own path.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

ADDITIVE_MERGES = {"add", "subtract", "average", "maximum", "minimum", "+", "-"}
CONCAT_MERGES = {"concatenate"}
STRIDE_KEYWORDS = ("strides", "stride", "subsample")
SHAPE_PRESERVING = {"BatchNormalization", "LayerNormalization", "GroupNormalization", "Activation", "ReLU",
                    "LeakyReLU", "PReLU", "ELU", "Softmax", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
                    "SpatialDropout3D", "GaussianNoise", "GaussianDropout"}
SPATIAL_LAYER = re.compile(r"^(?:Conv|SeparableConv|DepthwiseConv|MaxPooling|AveragePooling|MaxPool|AvgPool|"
                           r"LocallyConnected)([123])D$")
LAYER_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_NEGATED = {ast.Eq: "!=", ast.NotEq: "==", ast.Lt: ">=", ast.GtE: "<", ast.Gt: "<=", ast.LtE: ">",
            ast.Is: "is not", ast.IsNot: "is", ast.In: "not in", ast.NotIn: "in"}


@dataclass
class MergeSite:
    node: ast.expr
    statement: ast.stmt
    function: ast.FunctionDef | ast.AsyncFunctionDef | None
    operands: list[ast.expr]
    layer: str  # "Add", "concatenate", "+" ...

    @property
    def additive(self) -> bool:
        return self.layer.lower() in ADDITIVE_MERGES

    @property
    def concatenation(self) -> bool:
        return self.layer.lower() in CONCAT_MERGES


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
        statement = self.statement_at(line)
        if statement is None:
            return None
        for node in ast.walk(statement):
            if not isinstance(node, ast.expr) or node.lineno != line or node.col_offset != byte_col:
                continue
            site = self._merge_site(node, statement)
            if site is not None and (merge is None or _same_merge(site.layer, merge)):
                return site
        return None

    def statement_at(self, line: int) -> ast.stmt | None:
        """The innermost simple statement that spans ``line``."""
        found = None
        for node in ast.walk(self.tree):
            if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For,
                                     ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try)):
                    continue
                if found is None or (node.lineno >= found.lineno and _span(node) <= _span(found)):
                    found = node
        return found

    def _merge_site(self, node: ast.expr, statement: ast.stmt) -> MergeSite | None:
        function = self.function_around(statement.lineno)
        if isinstance(node, ast.BinOp):
            symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}.get(type(node.op), "?")
            return MergeSite(node, statement, function, [node.left, node.right], symbol)
        if isinstance(node, ast.Call):
            layer = called_name(node.func.func if isinstance(node.func, ast.Call) else node.func)
            if node.args and isinstance(node.args[0], (ast.List, ast.Tuple)):
                operands = list(node.args[0].elts)
            elif isinstance(node.func, ast.Attribute) and len(node.args) >= 2:  # ops.add(x, y)
                operands = list(node.args[:2])
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

    def calls_named(self, line: int, function: str) -> list[ast.Call]:
        """The calls of ``function`` (by its last name) that start on ``line``."""
        if self.tree is None:
            return []
        return [node for node in ast.walk(self.tree) if isinstance(node, ast.Call) and node.lineno == line
                and called_name(node.func) == function.rsplit(".", 1)[-1]]

    # ----------------------------------------------------------------- names
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

    def layer_prefix(self, site: MergeSite) -> str:
        """How this file spells a layer class: 'layers.', 'tf.keras.layers.', 'KL.', or '' (imported)."""
        call = site.node.func.func if isinstance(site.node, ast.Call) and isinstance(site.node.func, ast.Call) \
            else None
        prefixes = []
        if call is not None and LAYER_NAME.match(called_name(call) or ""):
            prefixes.append(_prefix(call))
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Call):
                name = called_name(node.func.func)
                if name and LAYER_NAME.match(name):
                    prefixes.append(_prefix(node.func.func))
        return prefixes[0] if prefixes else "keras.layers."

    def data_format(self, site: MergeSite, default: str) -> str:
        """``channels_first`` when the function's own layers say so, else the configured format."""
        for node in walk_function(site.function):
            if isinstance(node, ast.Call):
                value = keyword_value(node, "data_format")
                if isinstance(value, ast.Constant) and value.value in ("channels_first", "channels_last"):
                    return value.value
        return default

    def spatial_rank(self, site: MergeSite, witness_args: dict) -> int:
        """1, 2 or 3 for the convolutions the function uses, 0 for vectors (Dense)."""
        names = [called_name(n.func) for n in walk_function(site.function) if isinstance(n, ast.Call)]
        for name in names:
            match = SPATIAL_LAYER.match(name or "")
            if match:
                return int(match.group(1))
        if "Dense" in names:
            return 0
        for value in witness_args.values():
            if isinstance(value, dict) and isinstance(value.get("shape"), list):
                return max(0, len(value["shape"]) - 2)
        return 2


# --------------------------------------------------------------------------- the finding's path


@dataclass(frozen=True)
class Origin:
    """One way a name got its value on the path: a parameter passed on unchanged
    (through ``aliases`` such as ``shortcut = x``), an assigned expression, or
    something this reading does not follow (``unknown``)."""

    kind: str  # "parameter", "assigned" or "unknown"
    name: str = ""  # the parameter
    statement: ast.stmt | None = None  # where it was assigned
    value: ast.expr | None = None  # what was assigned (one side of a conditional expression)
    aliases: tuple = ()  # statements that passed it on under another name, in order
    scope: dict | None = field(default=None, compare=False, hash=False)  # origins of every name before it

    def through(self, statement: ast.stmt) -> "Origin":
        return Origin(self.kind, self.name, self.statement, self.value, self.aliases + (statement,), self.scope)


class PathReader:
    """Where each name at a statement of ``function`` came from, on the path the
    ``decisions`` (a finding's path condition) describe."""

    def __init__(self, source: Source, function, decisions=()):
        self.source = source
        self.function = function
        self.decisions = set(decisions)

    # ---------------------------------------------------------- decisions
    def decided(self, test: ast.expr) -> bool | None:
        """True or False when the path condition names this test's outcome, else None."""
        for true_text, false_text in decision_text_forms(self.source, test):
            if true_text in self.decisions:
                return True
            if false_text in self.decisions:
                return False
        return None

    # ---------------------------------------------------------- origins
    def scope_at(self, statement: ast.stmt) -> dict:
        """Each name's origins just before ``statement`` runs (empty if it is not reached)."""
        if self.function is None:
            return {}
        start = {name: (Origin("parameter", name),) for name in parameters(self.function)}
        _, found = self._block(self.function.body, start, statement)
        return found or {}

    def origins(self, expression: ast.expr, scope: dict, statement: ast.stmt | None = None) -> tuple:
        if isinstance(expression, ast.IfExp):
            verdict = self.decided(expression.test)
            sides = [s for s, keep in ((expression.body, verdict is not False),
                                       (expression.orelse, verdict is not True)) if keep]
            return tuple(o for side in sides for o in self.origins(side, scope, statement))
        if isinstance(expression, ast.Name):
            found = scope.get(expression.id)
            if found is None:
                return (Origin("unknown", expression.id),)
            return tuple(o.through(statement) if statement is not None else o for o in found)
        return (Origin("assigned", statement=statement, value=expression, scope=scope),)

    def _block(self, body, scope, target):
        for statement in body:
            if scope is None:
                return None, None
            if statement is target:
                return scope, scope
            scope, found = self._statement(statement, scope, target)
            if found is not None:
                return scope, found
        return scope, None

    def _statement(self, statement, scope, target):
        if isinstance(statement, ast.If):
            verdict = self.decided(statement.test)
            outs = []
            for body, keep in ((statement.body, verdict is not False), (statement.orelse, verdict is not True)):
                if not keep:
                    continue
                out, found = self._block(body, dict(scope), target)
                if found is not None:
                    return out, found
                outs.append(out)
            return _join(outs), None
        if isinstance(statement, (ast.For, ast.AsyncFor, ast.While)):
            entry = dict(scope)
            if isinstance(statement, (ast.For, ast.AsyncFor)):
                _forget(entry, statement.target)
            once, found = self._block(statement.body, dict(entry), target)
            if found is not None:  # later iterations reach it too, from what earlier ones left
                _, again = self._block(statement.body, _join([entry, once]), target)
                return None, _join([found, again])
            after = _join([scope, once])
            return self._block(statement.orelse, after, target) if statement.orelse else (after, None)
        if isinstance(statement, (ast.With, ast.AsyncWith)):
            for item in statement.items:
                if item.optional_vars is not None:
                    _forget(scope, item.optional_vars)
            return self._block(statement.body, scope, target)
        if isinstance(statement, ast.Try):
            out, found = self._block(statement.body, dict(scope), target)
            if found is not None:
                return out, found
            outs = [out]
            for handler in statement.handlers:
                handled, found = self._block(handler.body, dict(scope), target)
                if found is not None:
                    return handled, found
                outs.append(handled)
            return _join(outs), None
        if isinstance(statement, (ast.Return, ast.Raise)):
            return None, None
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            origins = self.origins(statement.value, dict(scope), statement)
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for assigned in targets:
                if isinstance(assigned, ast.Name):
                    scope[assigned.id] = origins
                else:
                    _forget(scope, assigned)
            return scope, None
        if isinstance(statement, ast.AugAssign):
            _forget(scope, statement.target)
            return scope, None
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scope[statement.name] = (Origin("unknown", statement.name),)
        return scope, None

    # ---------------------------------------------------------- what an input went through
    def layers(self, origins) -> list[tuple[ast.Call, str, Origin]]:
        """(constructor call, class name, origin) of every layer applied on the way to a
        value with these origins, the last applied first."""
        found, seen = [], set()
        pending = [(o.value, o) for o in origins if o.kind == "assigned"]
        while pending:
            value, origin = pending.pop(0)
            if value is None or id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Call):
                name = called_name(value.func.func)
                if name and LAYER_NAME.match(name):
                    found.append((value.func, name, origin))
                for argument in value.args[:1]:
                    pending.extend(self._followed(argument, origin))
            elif isinstance(value, ast.Call):  # a helper: what it was given
                for argument in value.args:
                    pending.extend(self._followed(argument, origin))
        return found

    def _followed(self, argument, origin: Origin):
        for inner in self.origins(argument, origin.scope or {}):
            if inner.kind == "assigned":
                yield inner.value, inner

    def stride(self, origins) -> str | None:
        """The stride applied on the way to a value: a ``strides=`` that is not 1, else a
        name like ``strides`` handed to a helper."""
        named = None
        for expression in self._expressions(origins):
            for node in ast.walk(expression):
                if isinstance(node, ast.Call):
                    for name in STRIDE_KEYWORDS:
                        value = keyword_value(node, name)
                        if value is not None and not is_one(value):
                            return self.source.segment(value)
                if named is None and isinstance(node, ast.Name) and "stride" in node.id.lower():
                    named = node.id
        return named

    def _expressions(self, origins):
        seen = set()
        pending = [o for o in origins if o.kind == "assigned"]
        while pending:
            origin = pending.pop(0)
            if id(origin.value) in seen:
                continue
            seen.add(id(origin.value))
            yield origin.value
            for node in ast.walk(origin.value):
                if isinstance(node, ast.Name):
                    pending.extend(o for o in self.origins(node, origin.scope or {}) if o.kind == "assigned")


def identity_of(origins) -> str | None:
    """The parameter an input passes on unchanged, on every way it can come."""
    names = {o.name for o in origins if o.kind == "parameter"}
    if len(names) == 1 and all(o.kind == "parameter" for o in origins):
        return names.pop()
    return None


def _join(scopes):
    scopes = [s for s in scopes if s is not None]
    if not scopes:
        return None
    joined = dict(scopes[0])
    for other in scopes[1:]:
        for name, origins in other.items():
            known = joined.get(name, ())
            joined[name] = known + tuple(o for o in origins if o not in known)
        for name in joined:
            if name not in other:
                joined[name] = joined[name] + (Origin("unknown", name),)
    return joined


def _forget(scope: dict, target) -> None:
    for node in ast.walk(target):
        if isinstance(node, ast.Name):
            scope[node.id] = (Origin("unknown", node.id),)


def decision_text_forms(source: Source, test: ast.expr) -> list:
    """Every way the analyser words the outcomes of a test: a bare name reads ``flag=True`` for a
    flag and ``size is truthy`` for a parameter whose default is no bool."""
    if isinstance(test, ast.Name):
        return [decision_texts(source, test), (f"{test.id} is truthy", f"{test.id} is falsy")]
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return [(false_text, true_text) for true_text, false_text in decision_text_forms(source, test.operand)]
    return [decision_texts(source, test)]


def decision_texts(source: Source, test: ast.expr) -> tuple[str, str]:
    """How the analyser words each outcome of a test in a path condition."""
    if isinstance(test, ast.Name):
        return f"{test.id}=True", f"{test.id}=False"
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        true_text, false_text = decision_texts(source, test.operand)
        return false_text, true_text
    text = source.segment(test)
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _NEGATED:
        left, right = source.segment(test.left), source.segment(test.comparators[0])
        return text, f"{left} {_NEGATED[type(test.ops[0])]} {right}"
    return text, f"not ({text})"


# --------------------------------------------------------------------------- small readers


def _same_merge(layer: str, merge: str) -> bool:
    """Does the merge read from the source (``Add``, ``+``) match the finding's (``Add()``, ```+```)?"""
    return layer.lower() == merge.strip("`").removesuffix("()").split(".")[-1].lower()


def _span(node: ast.AST) -> int:
    return (node.end_lineno or node.lineno) - node.lineno


def walk_function(function):
    """The nodes of a function's body, nested functions and classes left out."""
    if function is None:
        return
    stack = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                stack.append(child)


def called_name(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _prefix(func) -> str:
    if isinstance(func, ast.Attribute):
        return ast.unparse(func.value) + "."
    return ""


def parameters(function) -> list[str]:
    if function is None:
        return []
    args = function.args
    return [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]


def is_method(site: MergeSite) -> bool:
    params = parameters(site.function)
    return bool(params) and params[0] in ("self", "cls")


def is_one(node: ast.expr | None) -> bool:
    if isinstance(node, ast.Constant) and node.value == 1:
        return True
    return isinstance(node, (ast.Tuple, ast.List)) and all(is_one(e) for e in node.elts)


def keyword_value(call: ast.Call, name: str):
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def kernel(call: ast.Call):
    if len(call.args) > 1:
        return call.args[1]
    return keyword_value(call, "kernel_size") or keyword_value(call, "pool_size")
