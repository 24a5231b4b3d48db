"""Finding positions: computed from one top-level statement, they match libcst's for the whole module."""

from __future__ import annotations

import ast
from pathlib import Path

import libcst as cst
import pytest

from keras_shape_lint.frontend import children, positions
from keras_shape_lint.state import ModuleInfo

ROOT = Path(__file__).resolve().parent.parent

TRICKY = '''#!/usr/bin/env python
# a header comment
"""Module docstring."""
import keras  # trailing comment


@keras.saving.register_keras_serializable()
# a comment between decorators
@staticmethod
def block(x):
    """Docstring."""
    return keras.layers.Add()([x, x])

a = keras.layers.Dense(1); b = keras.layers.Add()([a,
    a])
if a:
    c = keras.layers.Add()(
        [a, b]
    )
else:
    c = \\
        keras.layers.Dense(2)(a)


class Net(keras.Model):
    def call(self, x):
        text = """a
multi-line string"""
        return keras.layers.Add()([x, x])
'''


def _sources():
    found = {p.relative_to(ROOT).as_posix(): p.read_text() for p in sorted((ROOT / "fixtures").rglob("*.py"))}
    found["tricky"] = TRICKY
    return {name: text for name, text in found.items() if "(" in text}  # modules that call something


SOURCES = _sources()


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_statement_positions_match_whole_module_positions(name):
    text = SOURCES[name]
    module = cst.parse_module(text)
    expected = positions(module)
    info = ModuleInfo(module, syntax=ast.parse(text), generators=frozenset())
    calls, stack = [], [module]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Call):
            calls.append(node)
        stack.extend(children(node))
    assert calls
    for node in calls:
        assert info.start(node) == expected[node].start, cst.Module([]).code_for_node(node)[:60]


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_module_read_from_its_text_places_nodes_by_statement(name):
    # (an imported module: its ModuleInfo is given the text, and reads its own syntax tree)
    text = SOURCES[name]
    module = cst.parse_module(text)
    expected = positions(module)
    info = ModuleInfo(module, syntax=text)
    calls = [node for node in _walk(module) if isinstance(node, cst.Call)]
    assert calls
    for node in calls:
        assert info.start(node) == expected[node].start, cst.Module([]).code_for_node(node)[:60]
    assert info._positions is None  # placed statement by statement, never the whole module at once


def _walk(module):
    stack = [module]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(children(node))
