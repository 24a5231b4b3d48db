"""What a layer's own methods and attributes give: ``self.name`` of a layer Keras names,
``compute_output_shape`` of a merge layer on a list of shapes, and layer shortcuts made
with ``functools.partial``."""

from __future__ import annotations

import os
import textwrap

import pytest

from keras_shape_lint.analysis import analyse_text

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _analyse(source: str):
    findings, analysis = analyse_text(textwrap.dedent(source))
    return findings, sorted(analysis.outcomes.values())


def test_a_layer_name_is_never_empty():
    # Keras names every layer, so ``8 if self.name else 16`` is 8: the add fails for any input
    # without 8 channels, and says so rather than leaving the merge undecided
    findings, outcomes = _analyse("""
        from keras import layers


        class Block(layers.Layer):
            def call(self, x):
                y = layers.Dense(8 if self.name else 16)(x)
                return x + y
    """)
    assert [f.code for f in findings] == ["KSL102"], [f.message for f in findings]
    assert findings[0].witness.call["x"]["shape"][-1] != 8, findings[0].witness


def test_a_merge_layers_output_shape_is_worked_out_but_not_checked():
    # Concatenate.compute_output_shape sums the concat axis and checks nothing else (Keras
    # gives (None, 8, 8, 3 * filters) for inputs of other heights), so it is no merge site;
    # the shape it gives still sizes the Dense
    findings, outcomes = _analyse("""
        from keras import layers


        def shapes(x, filters):
            a = layers.Conv2D(filters, 3, padding="same")
            b = layers.Conv2D(filters * 2, 3, strides=2, padding="same")
            concat = layers.Concatenate(axis=-1)
            s = concat.compute_output_shape([a.compute_output_shape(x.shape), b.compute_output_shape(x.shape)])
            return layers.Dense(s[-1])(x) + x
    """)
    assert [(f.code, f.line) for f in findings] == [("KSL102", 10)], [f.message for f in findings]
    assert "filters*3" in findings[0].message, findings[0].message
    assert outcomes == ["flagged"]


def test_keras_concatenate_output_shape_checks_nothing_but_the_list():
    # the fact the test above rests on, asked of Keras itself
    keras = pytest.importorskip("keras")
    shape = keras.layers.Concatenate(axis=-1).compute_output_shape([(None, 8, 8, 4), (None, 4, 4, 8)])
    assert tuple(shape) == (None, 8, 8, 12)


def test_a_layer_shortcut_made_with_partial_is_the_layer():
    findings, outcomes = _analyse("""
        import functools

        from keras import layers

        pool = functools.partial(layers.MaxPool2D, pool_size=3, strides=2, padding="same")


        def block(x):
            return layers.Add()([pool()(x), x])
    """)
    assert [f.code for f in findings] == ["KSL103"], [f.message for f in findings]
    assert outcomes == ["flagged"]
