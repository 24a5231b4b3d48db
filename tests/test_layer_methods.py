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


def _dropout_block(extra: str) -> str:
    # the first test's block, with ``extra`` (a method or statement of the class) added
    return """
        from keras import layers


        class Block(layers.Layer):
            def __init__(self, rate, **kwargs):
                super().__init__(**kwargs)
                self.rate = rate
                if rate > 0:
                    self.drop = layers.Dropout(rate)
    """ + extra + """
            def call(self, x):
                y = x
                if self.rate:
                    y = self.drop(y)
                return layers.Add()([x, y])
    """


def test_an_attribute_the_class_set_on_other_paths_only_ends_the_path():
    # a negative rate is truthy but sets no dropout layer: Python raises AttributeError at
    # self.drop there, so no path reaches the add with an unknown tensor
    findings, outcomes = _analyse(_dropout_block(""))
    assert findings == [] and outcomes == ["proven"], outcomes


def test_an_attribute_a_keras_layer_has_itself_is_not_missing():
    # ``self.trainable`` is Keras's own even where the class's code sets it on some paths only
    findings, outcomes = _analyse("""
        from keras import layers


        class Block(layers.Layer):
            def __init__(self, frozen, **kwargs):
                super().__init__(**kwargs)
                if frozen:
                    self.trainable = False

            def call(self, x):
                y = layers.Dense(8)(x)
                if self.trainable:
                    y = layers.Dense(16)(x)
                return x + y
    """)
    assert "flagged" in outcomes, outcomes  # the path with trainable read is still there


def test_a_handler_goes_on_where_every_path_of_the_try_raised():
    # self.table_width is set by load() only, which construction does not call: the lookup raises
    # AttributeError, which the handler catches
    findings, outcomes = _analyse("""
        from keras import layers


        class Block(layers.Layer):
            def __init__(self, width, **kwargs):
                super().__init__(**kwargs)
                try:
                    size = self.lookup_width()
                except AttributeError:
                    size = width
                self.dense = layers.Dense(size)

            def load(self, table):
                self.table_width = table.width

            def lookup_width(self):
                return self.table_width

            def call(self, x):
                return x + self.dense(x)
    """)
    assert [f.code for f in findings] == ["KSL102"], [f.message for f in findings]
    assert outcomes == ["flagged"]


def test_a_none_axis_default_keras_refuses_is_retried_as_the_callers_choice():
    # BatchNormalization(axis=None) raises TypeError: with channel_axis left at its default no
    # path builds, so channel_axis is a caller's choice, and the merge is checked for each axis
    findings, outcomes = _analyse("""
        from keras import layers


        class Block(layers.Layer):
            def __init__(self, filters, channel_axis=None, **kwargs):
                super().__init__(**kwargs)
                self.channel_axis = channel_axis
                self.conv = layers.Conv2D(filters, 1)

            def build(self, input_shape):
                self.norm = layers.BatchNormalization(axis=self.channel_axis)

            def call(self, x):
                return x + self.norm(self.conv(x))
    """)
    assert [f.code for f in findings] == ["KSL102"], [f.message for f in findings]
    assert findings[0].witness.args.get("channel_axis") == -1, findings[0].witness.args  # the channels


def test_an_attribute_a_class_may_set_by_computed_name_is_not_missing():
    # setattr(self, name, ...), self.__dict__ or a __getattr__ can give the instance
    # ``drop`` on any path: the read is unknown, not an AttributeError, so the add stays open
    for extra in ("""
                for name, layer in kwargs.get("extra_layers", {}).items():
                    setattr(self, name, layer)
    """, """
                self.__dict__.update(kwargs.get("extra_layers", {}))
    """, """
            def __getattr__(self, name):
                return layers.Dense(3)
    """):
        findings, outcomes = _analyse(_dropout_block(extra))
        assert outcomes != ["proven"], (extra, outcomes)
