"""Parsing and name resolution: source text to a libcst tree, import names to Keras names.

The analyser reads only the text flake8 hands over; it never opens files and
never imports the code (or Keras) it reads.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import re

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

# Prefixes that all mean "the Keras API", mapped to one spelling.
_ALIASES = (
    ("tensorflow.python.keras.", "keras."),
    ("tensorflow.keras.", "keras."),
    ("tf_keras.src.", "keras."),
    ("tf_keras.", "keras."),
    ("keras.src.", "keras."),
    ("keras.api.", "keras."),
    ("keras._tf_keras.keras.", "keras."),
    # keras_nlp was renamed keras_hub
    ("keras_nlp.src.", "keras_hub.src."),
    ("keras_nlp.", "keras_hub."),
)

# Older and internal module paths that hold public layers.
_LAYER_SUBMODULES = re.compile(
    r"^keras\.layers\.(?:[a-z_]+\.)+(?=[A-Z]|add$|subtract$|multiply$|average$|maximum$|minimum$|concatenate$)"
)
# keras_hub's layers by their defining modules (keras_hub.src.layers.modeling.rotary_embedding.RotaryEmbedding)
_HUB_LAYER_MODULES = re.compile(r"^keras_hub\.src\.layers\.(?:[a-z_0-9]+\.)+(?=[A-Z])")


def parse(text: str) -> cst.Module | None:
    """libcst's tree of ``text`` (None when it cannot parse it); the last few texts' trees are
    kept: a file linted and then imported by the next file (or imported first, then linted) is
    parsed once.  libcst's trees are never changed, so one can serve every reader."""
    found = _PARSED.get(text)
    if found is not None:
        _PARSED.move_to_end(text)
        return found
    try:
        tree = cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError, ValueError, TypeError):
        return None
    _PARSED[text] = tree
    _PARSED_CHARS[0] += len(text)
    while _PARSED_CHARS[0] > PARSED_KEPT_CHARS and len(_PARSED) > 1:
        gone, _ = _PARSED.popitem(last=False)
        _PARSED_CHARS[0] -= len(gone)
    return tree


PARSED_KEPT_CHARS = 400_000  # source characters whose trees parse() keeps (libcst: about 5.5 kB per node)
_PARSED: collections.OrderedDict = collections.OrderedDict()  # text -> its tree, least recently used first
_PARSED_CHARS = [0]


@functools.lru_cache(maxsize=4096)
def normalise(qualname: str) -> str:
    """One spelling per Keras name: ``tf.keras.layers.Add`` -> ``keras.layers.Add``."""
    name = qualname + "."
    for prefix, replacement in _ALIASES:
        if name.startswith(prefix):
            name = replacement + name[len(prefix):]
    name = name[:-1]
    if name == "tensorflow.keras" or name == "tf_keras":
        return "keras"
    if name.startswith("keras.layers."):
        name = _LAYER_SUBMODULES.sub("keras.layers.", name)
    elif name.startswith("keras_hub.src.layers."):
        name = _HUB_LAYER_MODULES.sub("keras_hub.layers.", name)
    return name


def dotted_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted_name(node.value)
        return None if head is None else f"{head}.{node.attr.value}"
    return None


def positions(module: cst.Module) -> dict:
    """Start positions of every node (computed only for files with findings)."""
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    return wrapper.resolve(PositionProvider)


def statement_index(module: cst.Module) -> dict:
    """id of every node -> the position (in ``module.body``) of the top-level statement holding
    it: one walk of the module, so that placing many findings costs one walk, not one each."""
    owner: dict = {}
    for index, stmt in enumerate(module.body):
        stack = [stmt]
        while stack:
            current = stack.pop()
            owner[id(current)] = index
            stack.extend(children(current))
    return owner


def statement_positions(module: cst.Module, lines: list, index: int):
    """Positions of the nodes of the top-level statement ``module.body[index]``.

    libcst computes positions by generating the code of the whole module; here
    only that statement's code is generated, and its first line comes from
    ``lines``, the first line of each top-level statement in the standard library's
    syntax tree of the same text (libcst starts a ``def`` at the keyword, after its
    decorators, as ``ast`` does).  Returns ``(positions, line offset)`` or None when
    the two trees do not line up.
    """
    # a line of small statements (``a = 1; b = 2``) is one libcst statement, several ast ones
    at = sum(len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1 for stmt in module.body[:index])
    if at >= len(lines):
        return None
    stmt = module.body[index]
    alone = module.with_changes(body=[stmt], header=[], footer=[])
    found = MetadataWrapper(alone, unsafe_skip_copy=True).resolve(PositionProvider)
    return found, lines[at] - found[stmt].start.line


# fields that only hold layout (whitespace, commas, parentheses): never code to look into
_LAYOUT = frozenset({"lpar", "rpar", "lbracket", "rbracket", "lbrace", "rbrace", "leading_lines",
                     "lines_after_decorators", "header", "footer", "comma", "semicolon", "newline",
                     "indent", "equal", "dot", "star", "operator"})
_FIELDS: dict = {}


# the field naming what each binding statement assigns
# methods that change the list, dict or set they are called on
MUTATING_METHODS = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "setdefault", "update", "add",
                              "sort", "reverse", "discard", "popitem"})

_BINDING_FIELDS = {cst.AssignTarget: "target", cst.AugAssign: "target", cst.AnnAssign: "target",
                   cst.For: "target", cst.AsName: "name", cst.NamedExpr: "target"}


def binding_targets(node) -> list:
    """The targets of every binding statement in ``node`` (nested functions included):
    ``a`` of ``a = ...``, ``self.x`` of ``self.x += ...``, ``i`` of ``for i in ...``."""
    found: list = []
    for current in walk(node):
        field = _BINDING_FIELDS.get(type(current))
        if field is not None:
            found.append(getattr(current, field))
    return found


def walk(node):
    """``node`` and every node of code below it, each before its children, in source order
    (as libcst's visitors go, without their machinery: several times faster)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def target_names(target) -> set | None:
    """The plain names an assignment target binds (``a``, ``a, (b, *c)``); None when it also
    stores elsewhere (``x[i]``, ``self.a``)."""
    if type(target) is cst.Name:
        return {target.value}
    if type(target) in (cst.Tuple, cst.List):
        names: set = set()
        for element in target.elements:
            found = target_names(element.value)
            if found is None:
                return None
            names |= found
        return names
    if type(target) is cst.StarredElement:
        return target_names(target.value)
    return None


def children(node) -> list:
    """The child nodes of ``node`` that hold code (layout skipped): libcst's own
    ``children`` goes through its visitor machinery and is several times slower."""
    names = _FIELDS.get(type(node))
    if names is None:
        names = _FIELDS[type(node)] = tuple(
            f.name for f in dataclasses.fields(node) if f.name not in _LAYOUT and "whitespace" not in f.name)
    out = []
    for name in names:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            out.append(value)
        elif isinstance(value, (tuple, list)):
            out.extend(item for item in value if isinstance(item, cst.CSTNode))
    return out
