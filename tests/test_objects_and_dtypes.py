"""Python questions about objects that decide a merge's path: isinstance of a class of the
analysed code, hasattr of a layer or of the function standing in for one, a call with a
keyword the function does not take, keras.random tensors, and dtype comparisons."""

from __future__ import annotations

import textwrap

from keras_shape_lint.analysis import Options, analyse_text
from keras_shape_lint.dtypes import DType, compare


def _analyse(source: str):
    findings, analysis = analyse_text(textwrap.dedent(source), Options(), "module.py")
    return findings, analysis.statistics()


_MOE_BLOCK = """
    from keras import layers


    class SparseExperts(layers.Layer):
        def __init__(self, width, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(width)

        def call(self, x):
            return self.dense(x), x


    class Block(layers.Layer):
        def __init__(self, width, sparse, **kwargs):
            super().__init__(**kwargs)
            self.mlp = SparseExperts(width) if sparse else layers.Dense({dense_width})

        def call(self, x):
            residual = x
            if isinstance(self.mlp, SparseExperts):
                x = self.mlp(x)
            else:
                x = self.mlp(x)
            if isinstance(x, tuple):
                x, _ = x
            return x + residual
"""


def test_isinstance_of_an_own_class_follows_the_instance():
    findings, stats = _analyse(_MOE_BLOCK.replace("{dense_width}", "width"))
    assert [f.code for f in findings] == ["KSL102"]  # width against the input's channels
    assert stats["undecided"] == 0, stats["undecided_because"]


def test_isinstance_of_an_own_class_is_false_for_a_catalogue_layer():
    # the Dense path is the one that needs width == 2 * width: flagged only there
    findings, stats = _analyse(_MOE_BLOCK.replace("{dense_width}", "2 * width"))
    assert [f.code for f in findings] == ["KSL102"]
    assert stats["undecided"] == 0, stats["undecided_because"]
    assert "sparse" in findings[0].witness.args


_OPTIONAL_NORM = """
    from keras import layers


    class Squeeze(layers.Layer):
        def __init__(self, channels, use_norm=False, **kwargs):
            super().__init__(**kwargs)
            self.fc = layers.Dense(channels)
            self.norm = layers.LayerNormalization() if use_norm else (lambda x: x)

        def build(self, input_shape):
            self.fc.build(input_shape)
            if hasattr(self.norm, "build"):
                self.norm.build(self.fc.compute_output_shape(input_shape))

        def call(self, x):
            return x * self.norm(self.fc(x))
"""


def test_hasattr_tells_a_layer_from_the_lambda_in_its_place():
    findings, stats = _analyse(_OPTIONAL_NORM)
    assert stats["undecided"] == 0, stats["undecided_because"]
    assert [f.code for f in findings] == ["KSL102"]


def test_a_keyword_the_function_does_not_take_ends_the_path():
    # Python raises TypeError at the call: the merge after it is never reached
    _, stats = _analyse("""
        from keras import layers


        def round_channels(channels, divisor=8):
            return channels // divisor * divisor


        class Gate(layers.Layer):
            def __init__(self, channels, **kwargs):
                super().__init__(**kwargs)
                self.fc = layers.Dense(round_channels(channels, limit=0.0))

            def call(self, x):
                return x * self.fc(x)
    """)
    assert stats["merges"] == 0 and stats["flagged"] == 0


def test_random_tensors_have_the_shape_asked_for():
    findings, stats = _analyse("""
        import keras
        from keras import layers


        class Noise(layers.Layer):
            def call(self, x):
                noise = keras.random.normal(keras.ops.shape(x))
                sign = keras.random.randint(keras.ops.shape(x), 0, 2)
                y = x + noise
                return y * keras.ops.cast(sign, y.dtype)
    """)
    assert findings == []
    assert stats["proven"] == 2, stats


def test_dtype_comparisons():
    assert compare("Equal", DType("float16"), "float16") is True
    assert compare("NotEqual", DType("float32"), "float16") is True
    assert compare("Equal", DType(DType.INT), "float32") is False
    assert compare("Equal", DType(DType.INT), "int32") is None  # which integer dtype: unknown
    assert compare("Equal", DType(None), "float16") is None
    assert compare("LessThan", DType("float16"), "float16") is None


def test_a_dtype_branch_is_explored_for_each_dtype_and_the_witness_names_it():
    findings, stats = _analyse("""
        import keras
        from keras import layers, ops


        class Block(layers.Layer):
            def __init__(self, width, **kwargs):
                super().__init__(**kwargs)
                self.dense = layers.Dense(width)

            def call(self, x):
                if x.dtype == "float16":
                    return ops.add(ops.cast(x, "float32"), ops.cast(self.dense(x), "float32"))
                return ops.clip(x, -1.0, 1.0)
    """)
    assert stats["undecided"] == 0, stats["undecided_because"]
    assert [f.code for f in findings] == ["KSL102"]
    assert findings[0].witness.args["dtype"] == "float16"


def test_a_layer_whose_constructor_takes_no_dtype_keeps_its_dtype_unknown():
    _, stats = _analyse("""
        from keras import layers, ops


        class Block(layers.Layer):
            def __init__(self, width):
                super().__init__()
                self.dense = layers.Dense(width)

            def call(self, x):
                if self.compute_dtype == "float16":
                    return ops.add(x, self.dense(x))
                return x
    """)
    assert stats["undecided"] == 1 and stats["flagged"] == 0, stats
