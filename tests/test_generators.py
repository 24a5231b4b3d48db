"""Functions that yield are never run: calling one gives an opaque value."""

from __future__ import annotations

import ast
import textwrap

from keras_shape_lint.analysis import analyse_text
from keras_shape_lint.state import generator_names


def test_only_functions_whose_own_body_yields_are_generators():
    source = textwrap.dedent("""
        def plain():
            return [x for x in range(3)]

        def gen():
            yield 1

        def outer():
            def inner():
                yield from range(3)
            return inner

        def holds_lambda():
            f = lambda: (yield)
            return f

        def holds_class():
            class C:
                def method(self):
                    yield self
            return C

        def decorated_inside():
            @wrap((yield))
            def inner():
                return 1
            return inner
    """)
    assert generator_names(ast.parse(source)) == {"gen", "inner", "method", "decorated_inside"}


def test_a_merge_of_what_a_generator_gives_is_not_judged():
    body = textwrap.dedent("""
        from keras import layers


        def branch(x):
            {statement} layers.Dense(8)(x)


        def block(x):
            y = {call}
            return layers.Add()([y, layers.Dense(4)(x)])
    """)
    plain, _ = analyse_text(body.format(statement="return", call="branch(x)"))
    generated, _ = analyse_text(body.format(statement="yield", call="next(branch(x))"))
    assert [f.code for f in plain] == ["KSL101"]
    assert generated == []
