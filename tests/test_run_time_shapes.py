"""``ops.shape(x)[0]`` while a model is built: Keras does not know the batch size, but the backend
holds it as a value (a tensor in TensorFlow, a symbolic dimension in JAX) that arithmetic takes, so
``ops.shape(x)[0] // group`` goes on (window partitions, merged patches) where ``x.shape[0] // group``
raises TypeError (None).  A size worked out from it is one Keras does not know: a shape given it
has None there."""

from __future__ import annotations

import os
import textwrap

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from oracle import analyse_module, build_from_witness, check_finding  # noqa: E402

GROUPED = textwrap.dedent('''
    import keras
    from keras import layers, ops


    class Grouped(keras.layers.Layer):
        def __init__(self, group, width, **kwargs):
            super().__init__(**kwargs)
            self.group = group
            self.proj = layers.Dense(width)
            self.gate = layers.Dense(width)

        def call(self, x):
            groups = {shape}[0] // self.group
            merged = ops.reshape(x, (groups, self.group * ops.shape(x)[-1]))
            return {merge}
    ''')


def _analysed(tmp_path, source):
    return analyse_module(tmp_path, "grouped.py", source)


def test_a_merge_after_the_batch_size_is_divided_is_checked(tmp_path):
    source = GROUPED.format(shape="ops.shape(x)", merge="merged + self.proj(merged)")
    path, findings, stats = _analysed(tmp_path, source)
    assert [(f.code, f.line) for f in findings] == [("KSL102", 16)], (findings, stats)
    check_finding(path, findings[0].to_json())  # Keras builds the reshape and fails at the merge


def test_sizes_from_the_batch_size_are_unknown_to_keras_and_the_clean_block_builds(tmp_path):
    source = GROUPED.format(shape="ops.shape(x)", merge="self.gate(merged) + self.proj(merged)")
    path, findings, stats = _analysed(tmp_path, source)
    assert findings == [] and (stats["proven"], stats["undecided"]) == (1, 0), (findings, stats)
    outcome = build_from_witness(path, {"entry": "Grouped", "args": {"group": 2, "width": 8},
                                        "call": {"x": {"shape": [None, 6]}}})
    assert outcome.error is None, outcome.error
    assert tuple(outcome.result.shape) == (None, 8), outcome.result.shape  # the batch size: None to Keras


def test_the_static_batch_size_is_none_and_dividing_it_raises(tmp_path):
    source = GROUPED.format(shape="x.shape", merge="merged + self.proj(merged)")
    path, findings, stats = _analysed(tmp_path, source)
    assert findings == [] and stats["flagged"] == 0, (findings, stats)
    outcome = build_from_witness(path, {"entry": "Grouped", "args": {"group": 2, "width": 8},
                                        "call": {"x": {"shape": [None, 6]}}})
    assert isinstance(outcome.error, TypeError), outcome.error  # None // 2


HALVES = textwrap.dedent('''
    import keras
    from keras import layers, ops


    class Halves(keras.layers.Layer):
        def __init__(self, width, **kwargs):
            super().__init__(**kwargs)
            self.proj = layers.Dense(width)

        def call(self, x):
            pairs = ops.reshape(x, (ops.shape(x)[0], -1, 4))
            half = ops.shape(pairs)[1] // 2
            joined = ops.reshape(pairs, (ops.shape(pairs)[0], half, 8))
            return joined + self.proj(joined)
    ''')


def test_an_axis_keras_does_not_know_is_a_value_in_a_layers_call(tmp_path):
    # the -1 axis is None to Keras; ops.shape reads the backend's size, which halves
    path, findings, stats = _analysed(tmp_path, HALVES)
    assert [(f.code, f.line) for f in findings] == [("KSL102", 15)], (findings, stats)
    check_finding(path, findings[0].to_json())


NETWORK = textwrap.dedent('''
    import keras
    from keras import layers, ops


    class Network(keras.Model):
        def __init__(self, group, width, **kwargs):
            x = keras.Input((6,))
            groups = ops.shape(x)[0] // group
            merged = ops.reshape(x, (groups, group * 6))
            y = merged + layers.Dense(width)(merged)
            super().__init__(inputs=x, outputs=y, **kwargs)
    ''')


def test_in_a_functional_model_the_batch_size_is_none_and_dividing_it_raises(tmp_path):
    # outside a layer's call(), ops.shape of a Keras tensor is its static shape
    path, findings, stats = _analysed(tmp_path, NETWORK)
    assert findings == [] and stats["flagged"] == 0, (findings, stats)
    outcome = build_from_witness(path, {"entry": "Network", "args": {"group": 2, "width": 8}})
    assert isinstance(outcome.error, TypeError), outcome.error


GET_SHAPE = textwrap.dedent('''
    import keras
    from keras import layers


    def block(x, filters):
        width = x.get_shape()[-1]
        y = layers.Conv2D(filters, 1)(x)
        return layers.Add()([x, y])
    ''')


def test_get_shape_of_a_keras_tensor_raises_so_nothing_after_it_is_flagged(tmp_path):
    # get_shape() is a TensorFlow tensor's method: a layer's call() has it on that backend
    # (fixtures/get_shape_in_call.py), a functional model's Keras tensors do not
    path, findings, stats = _analysed(tmp_path, GET_SHAPE)
    assert findings == [] and stats["undecided"] == 1, (findings, stats)
    (reason,) = stats["undecided_because"]
    assert "(get_shape() at line 7)" in reason and "symbolic tensors lack" in reason, reason
    outcome = build_from_witness(path, {"entry": "block",
                                        "args": {"x": {"shape": [None, 4, 4, 3]}, "filters": 8}})
    assert isinstance(outcome.error, AttributeError), outcome.error
