"""A Keras layer object keeps the sizes it was built for (layers/weights.py, Calls.keep_build)."""

from __future__ import annotations

import textwrap

from keras_shape_lint.analysis import analyse_text

from oracle import REPO_ROOT, build_from_witness, write_module


def _lint(source: str):
    findings, analysis = analyse_text(textwrap.dedent(source))
    return findings, analysis.statistics()


def test_a_shared_dense_makes_its_second_input_as_wide_as_its_first():
    # the Dense is built on x (16 wide): a y of another width is rejected at shared(y), so the
    # merge of x and y below is proven; without the build it would be flagged (16 vs channels(y))
    findings, stats = _lint("""
        import keras
        from keras import layers

        def twin(y):
            x = keras.Input((16,))
            shared = layers.Dense(32)
            shared(x)
            shared(y)
            return layers.Add()([x, y])
    """)
    assert findings == []
    assert stats["proven"] == 1
    findings, _ = _lint("""
        import keras
        from keras import layers

        def twin(y):
            x = keras.Input((16,))
            layers.Dense(32)(x)
            layers.Dense(32)(y)
            return layers.Add()([x, y])
    """)
    assert [f.code for f in findings] == ["KSL102"]  # two layers: nothing ties y to x


def test_a_build_for_a_shape_without_axes_is_not_an_error():
    findings, stats = _lint("""
        from keras import layers

        class Head(layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.dense = layers.Dense(4)

            def build(self, input_shape):
                self.dense.build((None,))

            def call(self, x):
                return x + self.dense(x)
    """)
    assert stats["internal_errors"] == []


def test_a_dense_built_for_a_shape_of_one_axis_takes_it_for_its_features(tmp_path):
    # ``self.qkv.build([dim])`` (ViTDet's attention): Keras's Dense reads input_shape[-1], so the
    # layer takes only inputs key_dim * heads wide; another x fails at the Dense, never at the +
    source = textwrap.dedent("""
        import keras
        from keras import layers


        class Attention(keras.layers.Layer):
            def __init__(self, key_dim, heads, **kwargs):
                super().__init__(**kwargs)
                self.key_dim = key_dim
                self.heads = heads
                self.qkv = layers.Dense(key_dim * heads)

            def build(self, input_shape=None):
                self.qkv.build([self.key_dim * self.heads])

            def call(self, x):
                return x + self.qkv(x)
    """)
    findings, stats = _lint(source)
    assert findings == [] and (stats["proven"], stats["undecided"]) == (1, 0), (findings, stats)
    path = write_module(tmp_path, "attention.py", source)
    builds = build_from_witness(path, {"entry": "Attention", "args": {"key_dim": 4, "heads": 2},
                                       "call": {"x": {"shape": [None, 5, 8]}}})
    assert builds.error is None, builds.error
    other = build_from_witness(path, {"entry": "Attention", "args": {"key_dim": 4, "heads": 2},
                                      "call": {"x": {"shape": [None, 5, 6]}}})
    assert other.error is not None and "dense" in str(other.error).lower(), other.error  # at the Dense


def test_a_dense_built_on_an_input_of_unknown_rank_keeps_its_channels():
    # y's rank is the caller's: Dense is built on its last axis all the same, so shared(x)
    # raises unless y is 16 wide, and the add of y and x is proven (it was flagged, with a
    # witness y: (None, 64) that Keras refuses at shared(x))
    findings, stats = _lint("""
        import keras
        from keras import layers

        def twin(y):
            x = keras.Input((16,))
            shared = layers.Dense(32)
            shared(y)
            shared(x)
            return layers.Add()([y, x])
    """)
    assert findings == []
    assert stats["proven"] == 1


def test_a_build_on_unknown_rank_still_flags_what_the_agreed_sizes_refuse():
    # the reuse makes y 16 wide: an add with a 24-wide tensor never fits, and is not proven
    findings, stats = _lint("""
        import keras
        from keras import layers

        def twin(y):
            x = keras.Input((16,))
            shared = layers.Dense(32)
            shared(y)
            shared(x)
            return layers.Add()([y, keras.Input((24,))])
    """)
    assert [f.code for f in findings] == ["KSL101"]
    assert findings[0].witness.args["y"]["shape"][-1] == 16
    assert stats["proven"] == 0


def test_only_weights_of_the_last_axis_are_kept_before_the_rank_is_known():
    # a normalisation over the first feature axis: nothing names that axis before the rank
    # is known, so the reuse ties nothing and the add stays flagged
    findings, _ = _lint("""
        import keras
        from keras import layers

        def twin(y):
            x = keras.Input((16,))
            norm = layers.LayerNormalization(axis=1)
            norm(y)
            norm(x)
            return layers.Add()([y, x])
    """)
    assert [f.code for f in findings] == ["KSL102"]


def test_a_loop_built_stack_of_one_shared_layer_applied_twice():
    # every position holds the same Dense: the first pass builds it on y (rank unknown),
    # the second on x, which Keras refuses unless y is 16 wide
    findings, stats = _lint("""
        import keras
        from keras import layers

        def stack(y, n):
            x = keras.Input((16,))
            shared = layers.Dense(32)
            blocks = [shared]
            for _ in range(n):
                blocks.append(shared)
            g = y
            for block in blocks:
                g = block(g)
            h = x
            for block in blocks:
                h = block(h)
            return layers.Add()([y, x])
    """)
    assert findings == []
    assert stats["proven"] == 1


def test_a_loop_built_stack_applied_twice_to_tensors_of_different_widths():
    # blocks[0] is built on y in the first pass, then called on x in the second
    findings, stats = _lint("""
        import keras
        from keras import layers

        def stack(y, n):
            x = keras.Input((16,))
            blocks = []
            for _ in range(n):
                blocks.append(layers.Dense(32))
            if n < 1:
                raise ValueError("an empty stack")
            g = y
            for block in blocks:
                g = block(g)
            h = x
            for block in blocks:
                h = block(h)
            return layers.Add()([y, x])
    """)
    assert findings == []
    assert stats["proven"] == 1


def test_an_einsum_dense_over_the_last_axis_keeps_it_before_the_rank_is_known():
    findings, stats = _lint("""
        import keras
        from keras import layers

        def twin(y):
            x = keras.Input((16,))
            shared = layers.EinsumDense("...b,bc->...c", output_shape=32)
            shared(y)
            shared(x)
            return layers.Add()([y, x])
    """)
    assert findings == []
    assert stats["proven"] == 1


_UNDEFINED_SHAPE = """
import keras
from keras import layers


class Block(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(units)

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, x):
        return x + self.dense(x), None

    def compute_output_shape(self, input_shape):
        return input_shape, None
"""


def test_an_entry_layer_whose_compute_output_shape_keras_cannot_build_gives_no_finding(tmp_path):
    # Keras makes the entry's output from compute_output_shape(): `None` for the second output is
    # no shape, so Keras raises there ("Undefined shapes") and never reaches the `+` in call()
    findings, stats = _lint(_UNDEFINED_SHAPE)
    assert findings == []
    assert "Block.compute_output_shape() declares no shape Keras can build" in stats["opaque"]
    # what Keras does with the code the analyser was given
    from oracle import import_fixture, keras

    path = tmp_path / "undefined_shape.py"
    path.write_text(_UNDEFINED_SHAPE, encoding="utf-8")
    module = import_fixture(path)
    try:
        module.Block(32)(keras().Input((10, 16)))
    except ValueError as error:
        assert "Undefined shapes" in str(error)
    else:
        raise AssertionError("Keras built the layer")


def test_a_declared_output_of_one_shape_keeps_the_findings_of_call():
    # the same layer declaring a real shape: Keras builds it, and the `+` fails on data
    findings, _ = _lint(_UNDEFINED_SHAPE.replace("return input_shape, None", "return input_shape")
                        .replace("self.dense(x), None", "self.dense(x)"))
    assert [f.code for f in findings] == ["KSL106"]


def test_a_declared_shape_that_starts_with_sizes_is_one_shape_whatever_its_sizes():
    # (None, None, units): Keras reads a tuple whose first item is a size as one shape, so the
    # layer builds and the `+` in call() fails on data, as with any other declared shape
    findings, _ = _lint(_UNDEFINED_SHAPE.replace("return input_shape, None", "return (None, None, self.units)")
                        .replace("self.dense(x), None", "self.dense(x)")
                        .replace("self.dense = layers.Dense(units)", "self.units = units\n        self.dense = layers.Dense(units)"))
    assert [f.code for f in findings] == ["KSL106"]


def test_an_input_compute_output_shape_asks_for_is_never_none_in_a_witness():
    # Keras passes compute_output_shape() a shape for each tensor the call got: with `context`
    # None it calls compute_output_shape(x_shape) and raises (context_shape missing) before any
    # merge (the fixture's oracle lines and witness replay are tests/test_oracle.py's)
    source = (REPO_ROOT / "fixtures" / "declared_shape_needs_every_input.py").read_text(encoding="utf-8")
    findings, _ = _lint(source)
    assert [f.code for f in findings] == ["KSL106"]
    assert findings[0].witness.call.get("context") is not None, findings[0].witness
    # a default None in call() does not make the input optional where Keras asks for its shape
    findings, _ = _lint(source.replace("def call(self, x, context):", "def call(self, x, context=None):"))
    assert [f.code for f in findings] == ["KSL106"]
    assert findings[0].witness.call.get("context") is not None, findings[0].witness


def test_a_layer_knows_whether_it_was_built():
    # `if not self.proj.built:` is decided: False until build() or the first call built it
    # (it was a test nobody could decide, whose two paths joined into a layer nobody knows)
    findings, stats = _lint("""
        import keras
        from keras import layers


        class Block(keras.layers.Layer):
            def __init__(self, units):
                super().__init__()
                self.proj = layers.Dense(units)

            def build(self, input_shape):
                if not self.proj.built:
                    self.proj.build(input_shape)

            def call(self, x):
                return x + self.proj(x)
    """)
    assert [f.code for f in findings] == ["KSL102"], findings
    assert stats["undecided"] == 0, stats


def test_a_layer_of_the_code_s_own_knows_whether_it_was_built():
    # the same for a layer class the code defines: Keras sets `built` on its first call
    findings, stats = _lint("""
        import keras
        from keras import layers


        class Inner(keras.layers.Layer):
            def __init__(self, units):
                super().__init__()
                self.units = units

            def build(self, input_shape):
                self.proj = layers.Dense(self.units)

            def call(self, x):
                return self.proj(x)


        class Block(keras.layers.Layer):
            def __init__(self, units):
                super().__init__()
                self.inner = Inner(units)

            def build(self, input_shape):
                if not self.inner.built:
                    self.inner.build(input_shape)

            def call(self, x):
                return x + self.inner(x)
    """)
    assert [f.code for f in findings] == ["KSL102"], findings
    assert stats["undecided"] == 0, stats


def test_a_layer_built_by_hand_in_its_holders_build_is_not_built_again_on_its_first_call():
    # Keras marks a layer built once its own build() has run, even when called by hand: the first
    # call then does not build it again from an input whose last size a reshape left unknown (its
    # Dense layers would refuse that), and the residual sum after it is reached and proven
    source = (REPO_ROOT / "fixtures" / "sublayer_built_by_hand_clean.py").read_text()
    findings, stats = _lint(source)
    assert findings == []
    assert (stats["merges"], stats["proven"]) == (1, 1), stats


def test_a_call_input_read_as_a_dict_is_never_written_as_a_tensor_in_a_witness():
    # `inputs.values()` and `inputs.get("points")`: the caller passes a dict (a prompt encoder);
    # the merge fails for odd widths whatever the inputs hold, but a tensor for `inputs` is no
    # call Keras can make (a tensor has no `.values()`), so no witness and no finding
    source = """
        import keras
        from keras import layers, ops


        class PromptEncoder(keras.layers.Layer):
            def __init__(self, embed_dim):
                super().__init__()
                self.points = layers.Dense(embed_dim // 2 * 2)
                self.labels = layers.Dense(embed_dim)

            def call(self, inputs):
                batch = ops.shape(next(iter(inputs.values())))[0]
                points = inputs.get("points", ops.zeros((batch, 1, 2)))
                return self.points(points) + self.labels(points)
    """
    findings, stats = _lint(source)
    assert findings == [] and stats["undecided"] == 1, findings
    # the same merge on an input used as a tensor is reported, with a tensor in its witness
    findings, _ = _lint(source.replace('                batch = ops.shape(next(iter(inputs.values())))[0]\n', '').replace(
        'inputs.get("points", ops.zeros((batch, 1, 2)))', 'inputs'))
    assert [f.code for f in findings] == ["KSL102"], findings
    assert "shape" in findings[0].witness.call["inputs"], findings[0].witness


def test_a_parameter_a_path_never_reads_is_given_a_value_keras_takes_for_it():
    # a witness passes every required parameter; one the failing path never read gets a value
    # by its name: an `initializer_range` is the standard deviation an initializer is made
    # with (keras-hub's T5Gemma), a `kernel_initializer` an initializer's name
    from keras_shape_lint.analysis import _placeholder
    from oracle import keras

    initializers = keras().initializers
    made = initializers.RandomNormal(mean=0.0, stddev=_placeholder("initializer_range"))
    assert tuple(made((2, 3)).shape) == (2, 3)
    assert initializers.get(_placeholder("kernel_initializer")) is not None
