"""An axis that is a free parameter (a caller's choice) of a tensor whose rank is known.

The call runs once for each value Keras accepts that the path allows, each on a path
that says which (``axis == v``); a value Keras rejects leaves no path.  An axis that
is opaque (nothing in the analysed code determines it) stays unknown.  Fixture
``free_axis_ops.py`` has the finding and the proof replayed through Keras.
"""

from __future__ import annotations

import textwrap

from keras_shape_lint.analysis import analyse_text


def _analyse(source: str):
    return analyse_text(textwrap.dedent(source))


def _outcomes(analysis) -> list[str]:
    return sorted(analysis.outcomes.values())


def test_a_free_axis_is_split_and_the_finding_names_a_value():
    findings, analysis = _analyse("""
        import keras
        from keras import ops


        def rotary(heads=4, length=8, head_dim=16, expansion_axis=1):
            query = keras.Input((heads, length, head_dim))
            table = keras.Input((length, head_dim))
            cos = ops.expand_dims(table, expansion_axis)
            return query * cos
    """)
    assert [f.code for f in findings] == ["KSL103"]
    args = findings[0].to_json()["witness"]["args"]
    # axes 0 and 1 put the new axis where the heads are: the witness is another axis
    assert args["expansion_axis"] not in (0, 1, -4, -3), args
    assert f"expansion_axis={args['expansion_axis']}" in findings[0].message


def test_a_merge_that_holds_for_every_legal_axis_is_proven():
    findings, analysis = _analyse("""
        import keras
        from keras import ops


        def pooled_scale(length=8, width=16, axis=1):
            x = keras.Input((length, width))
            total = ops.sum(x, axis=axis, keepdims=True)
            return x * total
    """)
    assert findings == []
    assert _outcomes(analysis) == ["proven"]


def _test_of_axis(value: int) -> str:
    """expand_dims of a rank-3 tensor on a free axis, then a mismatched Add behind ``axis == value``."""
    return f"""
        import keras
        from keras import layers, ops


        def widened(length=8, width=16, axis=1):
            x = keras.Input((length, width))
            y = ops.expand_dims(x, axis)
            if axis == {value}:
                return layers.Add()([x, layers.Dense(width + 1)(x)])
            return y
    """


def test_an_axis_keras_rejects_leaves_no_path():
    # expansion_axis=7 fails in expand_dims (a rank-3 tensor takes -4..3): the merge behind
    # the test of it is never reached, and its mismatch is no finding
    findings, analysis = _analyse(_test_of_axis(7))
    assert findings == []
    assert "proven" not in _outcomes(analysis) and "flagged" not in _outcomes(analysis)


def test_each_legal_axis_is_reached():
    # the test of axis == 3 is reached (3 is legal for expand_dims of a rank-3 tensor), and
    # its mismatched Add is a finding on that path alone
    findings, analysis = _analyse(_test_of_axis(3))
    assert [f.code for f in findings] == ["KSL101"]
    assert findings[0].to_json()["witness"]["args"]["axis"] == 3


def test_an_opaque_axis_stays_unknown():
    findings, analysis = _analyse("""
        import keras
        from keras import ops
        from somewhere import choose_axis


        def rotary(heads=4, length=8, head_dim=16):
            query = keras.Input((heads, length, head_dim))
            table = keras.Input((length, head_dim))
            cos = ops.expand_dims(table, choose_axis())
            return query * cos
    """)
    assert findings == []
    assert _outcomes(analysis) == ["undecided"]


def test_an_axis_that_leaves_the_shape_alone_is_not_split():
    # softmax's shape is its input's whatever the axis: the axis is only required to be one
    # Keras accepts (so axis == 9 is never reached), and the paths do not multiply
    findings, analysis = _analyse("""
        import keras
        from keras import layers, ops


        def attention(length=8, width=16, axis=-1):
            x = keras.Input((length, width))
            y = x + ops.softmax(x, axis=axis)
            if axis == 9:
                return layers.Add()([x, layers.Dense(width + 1)(x)])
            return y
    """)
    assert findings == []
    assert "flagged" not in _outcomes(analysis) and "proven" in _outcomes(analysis)
    assert not analysis.budget_notes


def test_a_free_concatenation_axis_is_split():
    # only the last axis (2, or -1 by default) joins (8, 16) with (8, 4)
    findings, analysis = _analyse("""
        import keras
        from keras import ops


        def joined(length=8, width=16, extra=4, axis=-1):
            x = keras.Input((length, width))
            y = keras.Input((length, extra))
            return ops.concatenate([x, y], axis=axis)
    """)
    assert [f.code for f in findings] == ["KSL104"]
    assert findings[0].to_json()["witness"]["args"]["axis"] not in (2, -1)
