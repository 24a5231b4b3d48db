"""Parsing and name resolution: source text to a libcst tree, import names to Keras names.

The analyser reads only the text flake8 hands over; it never opens files and
never imports the code (or Keras) it reads.
"""

from __future__ import annotations

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
)

# Older and internal module paths that hold public layers.
_LAYER_SUBMODULES = re.compile(
    r"^keras\.layers\.(?:[a-z_]+\.)+(?=[A-Z]|add$|subtract$|multiply$|average$|maximum$|minimum$|concatenate$)"
)


def parse(text: str) -> cst.Module | None:
    try:
        return cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError, ValueError, TypeError):
        return None


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

