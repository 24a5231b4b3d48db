"""Paths that part inside a called function and come back alike go on as one; a ``while``
whose test no path can decide runs as many rounds as a ``for`` over a symbolic range."""

from __future__ import annotations

import textwrap

from keras_shape_lint.analysis import analyse_text
from keras_shape_lint.interpreter import PATHS_JOINED

CALLS = 12  # 2**12 paths if nothing joined: far over the default budget of 32


def _stack(second_branch_width: str) -> str:
    """Twelve calls of a helper that returns early on one side of a flag."""
    params = ", ".join(f"f{i}=False" for i in range(CALLS))
    calls = "\n".join(f"    x = step(x, f{i})" for i in range(CALLS))
    return textwrap.dedent("""
        from keras import layers


        def step(x, flag):
            if flag:
                return layers.Dense(8, activation="relu")(x)
            return layers.Dense({width})(x)

    """).format(width=second_branch_width) + (
        f"\ndef block(inputs, {params}):\n"
        "    x = layers.Dense(8)(inputs)\n"
        f"{calls}\n"
        "    return layers.Add()([x, layers.Dense(4)(inputs)])\n"
    )


def test_returns_of_the_same_value_go_on_as_one_path():
    findings, analysis = analyse_text(_stack("8"))
    assert not analysis.budget_notes, analysis.budget_notes
    assert [f.code for f in findings] == ["KSL101"]
    assert "8 and 4 channels" in findings[0].message
    # one path through the twelve calls: the steps grow with the calls, not with 2**12 paths
    assert analysis.interp.steps < 1000, analysis.interp.steps


def test_returns_of_different_values_stay_apart():
    findings, analysis = analyse_text(_stack("4"))
    # each call gives two widths: the paths multiply until those past the budget are joined
    assert analysis.opaque_reasons[PATHS_JOINED] > 0
    assert not analysis.budget_notes, analysis.budget_notes
    assert analysis.interp.steps > 1000, analysis.interp.steps
    # the last call decides the width: the path where it returned 8 channels fails
    assert [f.code for f in findings] == ["KSL101"]
    assert findings[0].witness.args["f11"] is True


def test_a_while_loop_on_a_test_no_path_decides_stops_at_the_symbolic_bound():
    source = textwrap.dedent("""
        from keras import layers


        def block(inputs, size):
            while size > 1:
                inputs = layers.Dense(size)(inputs)  # a layer call: not a loop over plain values
                size = size // 2
            return layers.Add()([layers.Dense(size)(inputs), layers.Dense(1)(inputs)])
    """)
    _, analysis = analyse_text(source)
    assert analysis.budget_notes["symbolic loop bound"] == 1
    assert "while loop" not in analysis.budget_notes
    # five rounds at most (the default symbolic unrolling is 4), not 512
    assert analysis.interp.steps < 200, analysis.interp.steps
    assert analysis.statistics()["proven"] == 1


def test_a_while_loop_on_a_concrete_test_runs_to_its_end():
    source = textwrap.dedent("""
        from keras import layers


        def block(inputs):
            size = 64
            while size > 1:
                size = size // 2
            return layers.Add()([layers.Dense(size)(inputs), layers.Dense(1)(inputs)])
    """)
    findings, analysis = analyse_text(source)
    assert not analysis.budget_notes, analysis.budget_notes
    assert not findings
    assert analysis.statistics()["proven"] == 1


def test_paths_apart_only_on_an_undecidable_branch_are_joined_untainted():
    # both sides of a branch nobody can decide build the same width: the merge after the call
    # does not depend on the branch, so it is flagged (a path hanging on the branch would not be)
    source = textwrap.dedent("""
        import numpy as np
        from keras import layers


        def step(x, heads):
            if np.random.rand() > 0.5:
                return layers.Dense(heads * 8, activation="relu")(x)
            return layers.Dense(heads * 8)(x)


        def block(inputs, heads=4):
            x = step(inputs, heads)
            return layers.Add()([x, layers.Dense(16)(inputs)])
    """)
    findings, analysis = analyse_text(source)
    assert [f.code for f in findings] == ["KSL102"]
    assert findings[0].witness.args["heads"] != 2
    assert analysis.statistics()["undecided"] == 0


def _unknown_steps() -> str:
    """Twelve calls of a helper that returns what one of two unknown functions gives."""
    params = ", ".join(f"f{i}=False" for i in range(CALLS))
    calls = "\n".join(f"    y = step(y, f{i})" for i in range(CALLS))
    return textwrap.dedent("""
        import mystery
        from keras import layers


        def step(x, flag):
            if flag:
                return mystery.encode(x)
            return mystery.decode(x)

    """) + (
        f"\ndef block(inputs, {params}):\n"
        "    y = mystery.start()\n"
        f"{calls}\n"
        "    return layers.Add()([layers.Dense(8)(inputs), layers.Dense(4)(inputs)]), y\n"
    )


def test_returns_of_values_nobody_knows_go_on_as_one_path():
    findings, analysis = analyse_text(_unknown_steps())
    assert not analysis.budget_notes, analysis.budget_notes
    assert [f.code for f in findings] == ["KSL101"]
    assert "8 and 4 channels" in findings[0].message
    assert analysis.interp.steps < 1000, analysis.interp.steps


def test_results_nobody_knows_are_alike_only_where_they_alias_alike():
    from keras_shape_lint.state import _alike_results
    from keras_shape_lint.values import opaque

    a, b, c, d = (opaque("an unknown call") for _ in range(4))
    assert _alike_results((a, b), (c, d), {}, {})
    # one side returns one value twice, the other two values: a caller can tell them apart
    assert not _alike_results((a, a), (c, d), {}, {})
    assert not _alike_results((a, b), (c, c), {}, {})
    assert not _alike_results((a, b), (c,), {}, {})


def _probing(calls: int) -> str:
    """A block that asks ``calls`` times a helper which probes the backend (its answer one
    nobody knows, its paths joined again) whether to take a fused path."""
    asks = "\n".join("    y = layers.Dense(8)(y) if fused() else y" for _ in range(calls))
    return textwrap.dedent("""
        import keras
        from keras import layers


        def fused():
            if hasattr(keras.config, "is_flash_attention_enabled"):
                try:
                    from jax.nn import dot_product_attention
                except ImportError:
                    return False
                return True
            return False

    """) + f"\ndef block(x):\n    y = layers.Dense(8)(x)\n{asks}\n    return layers.Add()([x, y])\n"


def test_a_helper_without_arguments_whose_answer_nobody_knows_is_read_once():
    # each later call hands out an answer as opaque as the first one's (the helper changes
    # nothing): the block costs a few steps more per call, not a run of the helper's body
    steps = {}
    for calls in (2, 20):
        findings, analysis = analyse_text(_probing(calls))
        assert [f.code for f in findings] == ["KSL102"]  # the Add of x and the 8-wide y
        steps[calls] = analysis.interp.steps
    assert steps[20] - steps[2] < 18 * 20, steps  # the body run each time: about 35 steps a call


_ROUNDING = textwrap.dedent("""
    from keras import layers


    def make_divisible(value, divisor=8):
        rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
        if rounded < 0.9 * value:
            rounded += divisor
        return rounded

""")


def _rounded_stack(shortcut: str) -> str:
    """Twelve convolutions, each as wide as its own width rounded to a multiple of eight."""
    params = ", ".join(f"w{i}" for i in range(CALLS))
    convs = "\n".join(f"    x = layers.Conv2D(make_divisible(w{i}), 1)(x)" for i in range(CALLS))
    return _ROUNDING + (
        f"\ndef block(inputs, {params}):\n"
        "    x = inputs\n"
        f"{convs}\n"
        f"    return layers.Add()([x, layers.Conv2D({shortcut}, 1)(inputs)])\n"
    )


def test_sizes_returned_on_branches_that_cover_every_case_go_on_as_one_path():
    # each call returns one width or another (``rounded`` or ``rounded + 8``) on branches that
    # between them cover every width: one path with the size that takes either, not 2**12
    # paths past the budget
    findings, analysis = analyse_text(_rounded_stack(f"make_divisible(w{CALLS - 1})"))
    assert not analysis.budget_notes, analysis.budget_notes
    assert not analysis.opaque_reasons.get(PATHS_JOINED), analysis.opaque_reasons
    assert findings == [] and analysis.statistics()["proven"] == 1
    assert analysis.interp.steps < 2000, analysis.interp.steps


def test_a_size_that_takes_either_value_keeps_each_branch_exact():
    # the joined size is the rounded width where rounding lost less than a tenth and one step
    # more where it lost more: a shortcut of 16 fails for w11 = 20 (rounded to 24), and the
    # witness is one Keras would build up to that Add
    findings, analysis = analyse_text(_rounded_stack("16"))
    assert [f.code for f in findings] == ["KSL102"]
    args = findings[0].witness.args
    value = args[f"w{CALLS - 1}"]
    rounded = max(8, int(value + 4) // 8 * 8)
    rounded += 8 if rounded < 0.9 * value else 0
    assert rounded != 16, args
    # and a width the analysis must round up the extra step (11 -> 8 -> 16) is proven to fit
    source = _ROUNDING + (
        "\ndef block(inputs):\n"
        "    x = layers.Conv2D(make_divisible(11), 1)(inputs)\n"
        "    return layers.Add()([x, layers.Conv2D(16, 1)(inputs)])\n"
    )
    findings, analysis = analyse_text(source)
    assert findings == [] and analysis.statistics()["proven"] == 1


def test_a_block_that_called_its_softmax_on_one_path_only_goes_on_as_one_path():
    # a fused op on one side of the flag, the block's own Softmax layer on the other: the
    # Softmax is built on one path only, which no later call can tell (Keras keeps nothing
    # of its first input), so the twelve blocks leave one path, not 2**12 past the budget
    params = ", ".join(f"f{i}=False" for i in range(CALLS))
    flags = ", ".join(f"f{i}" for i in range(CALLS))
    source = textwrap.dedent("""
        from keras import layers, ops


        class Block(layers.Layer):
            def __init__(self, fused, **kwargs):
                super().__init__(**kwargs)
                self.fused = fused
                self.softmax = layers.Softmax()
                self.dense = layers.Dense(8)

            def call(self, x):
                if self.fused:
                    x = ops.softmax(x)
                else:
                    x = self.softmax(x)
                return self.dense(x)

    """) + (f"\ndef stack(inputs, {params}):\n"
            f"    blocks = [Block(flag) for flag in ({flags})]\n"
            "    x = layers.Dense(8)(inputs)\n"
            "    for block in blocks:\n"
            "        x = block(x)\n"
            "    return layers.Add()([x, layers.Dense(4)(inputs)])\n")
    findings, analysis = analyse_text(source)
    assert [f.code for f in findings] == ["KSL101"] and "8 and 4 channels" in findings[0].message
    assert not analysis.opaque_reasons.get(PATHS_JOINED), analysis.opaque_reasons
    assert analysis.interp.steps < 2000, analysis.interp.steps  # 8,600 with a path each


def test_only_layers_whose_build_nothing_keeps_compare_alike_built_or_not():
    from keras_shape_lint.analysis import analyse_text as _load  # registers the layer catalogue
    from keras_shape_lint.layers import REGISTRY
    from keras_shape_lint.state import _same
    from keras_shape_lint.values import LayerValue

    _load("x = 1\n")

    def pair(name, built):
        model = REGISTRY[f"keras.layers.{name}"]
        one, other = LayerValue(model, {}), LayerValue(model, {})
        one.built = built
        return one, other

    assert _same(*pair("Softmax", (None, {})), {})  # built or not: no later call tells
    assert _same(*pair("Dropout", (None, {})), {})
    # a Dense layer's first call sizes its kernel (and a built one takes an undefined last axis)
    assert not _same(*pair("Dense", (2, {-1: 16})), {})
    assert not _same(*pair("Dense", (None, {})), {})
    assert not _same(*pair("Conv2D", (4, {-1: 3})), {})
