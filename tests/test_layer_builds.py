"""A Keras layer object keeps the sizes it was built for (layers/weights.py, Calls.keep_build)."""

from __future__ import annotations

import textwrap

from keras_shape_lint.analysis import analyse_text


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
