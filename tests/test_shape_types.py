"""A tensor's shape is a tuple (Keras 3) or a TensorShape (tf.keras): never a dict, a list or a
number.  ``build`` methods written for one input or a dict of them ask which they got
(``if isinstance(input_shape, dict):``); the shape of a single input goes on as that shape,
its rank and sizes known, rather than joined with the dict branch into a value nobody knows."""

from __future__ import annotations

import os
import textwrap

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

from keras_shape_lint.analysis import analyse_text  # noqa: E402

from oracle import build_from_witness, check_finding, write_module  # noqa: E402

LAYER = textwrap.dedent('''
    import keras
    from keras import layers


    class Mixer(keras.layers.Layer):
        def __init__(self, expansion=1, **kwargs):
            super().__init__(**kwargs)
            self.expansion = expansion

        def build(self, input_shape):
            if {test}:
                input_shape = input_shape["features"]
            self.rank = len(input_shape)
            self.proj = layers.Dense(input_shape[-1] * self.expansion)
            self.proj.build(input_shape)

        def call(self, x):
            y = self.proj(x)
            if self.rank == 3:
                y = layers.LayerNormalization()(y)
            return layers.Add()([x, y])
    ''')


@pytest.mark.parametrize("test", ["isinstance(input_shape, dict)", "isinstance(input_shape, list)",
                                  "not isinstance(input_shape, (tuple, object))"])
def test_a_shape_is_not_a_dict_so_the_merge_is_decided(tmp_path, test):
    source = LAYER.format(test=test)
    path = write_module(tmp_path, "mixer.py", source)
    findings, analysis = analyse_text(source, None, str(path))
    stats = analysis.statistics()
    # a witness-free merge: expansion 1 keeps the width, any other changes it
    assert [(f.code, f.line) for f in findings] == [("KSL102", 22)], (findings, stats)
    assert (stats["flagged"], stats["undecided"]) == (1, 0), stats
    record = findings[0].to_json()
    assert "expansion" in record["message"], record["message"]
    check_finding(path, record)  # Keras fails at the Add with the witness's expansion


def test_the_layer_builds_where_the_analysis_proves_it(tmp_path):
    source = LAYER.format(test="isinstance(input_shape, dict)").replace("input_shape[-1] * self.expansion",
                                                                        "input_shape[-1]")
    path = write_module(tmp_path, "mixer.py", source)
    findings, analysis = analyse_text(source, None, str(path))
    stats = analysis.statistics()
    assert findings == [] and (stats["proven"], stats["undecided"]) == (1, 0), stats
    outcome = build_from_witness(path, {"entry": "Mixer", "args": {}, "call": {"x": {"shape": [None, 7, 5]}}})
    assert outcome.error is None, outcome.error  # Keras builds the layer the analysis proved
