"""``layer(x, training=training)`` where the layer's ``call()`` takes no ``training``: Keras passes
``training`` on only to a call() that declares it, so the call runs (any other keyword call() does
not take raises TypeError).  A block that hands ``training`` to every sublayer is common (D-FINE's
decoder, Stable Diffusion 3's backbone); the paths through such a call go on to the merges after it."""

from __future__ import annotations

import os
import textwrap

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from oracle import analyse_module, build_from_witness, check_finding  # noqa: E402

BLOCK = textwrap.dedent('''
    import keras
    from keras import layers


    class Projection(keras.layers.Layer):
        def __init__(self, width, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(width)

        def call(self, x):
            return self.dense(x)


    class Block(keras.layers.Layer):
        def __init__(self, width, **kwargs):
            super().__init__(**kwargs)
            self.first = Projection(width)
            self.second = Projection({second})

        def call(self, x, training=None):
            y = self.first(x, training=training)
            return {merge}
    ''')


def _analysed(tmp_path, source):
    return analyse_module(tmp_path, "block.py", source)


def test_the_merge_after_a_call_given_training_is_checked(tmp_path):
    path, findings, stats = _analysed(tmp_path, BLOCK.format(second="width", merge="x + y"))
    assert [(f.code, f.line) for f in findings] == [("KSL102", 23)], (findings, stats)
    assert (stats["flagged"], stats["unreached"]) == (1, 0), stats
    check_finding(path, findings[0].to_json())  # Keras runs the call and fails at the merge


def test_a_block_whose_sublayers_agree_is_proven_and_builds(tmp_path):
    merge = "y + self.second(x, training=training)"
    path, findings, stats = _analysed(tmp_path, BLOCK.format(second="width", merge=merge))
    assert findings == [] and (stats["proven"], stats["undecided"], stats["unreached"]) == (1, 0, 0), stats
    outcome = build_from_witness(path, {"entry": "Block", "args": {"width": 8},
                                        "call": {"x": {"shape": [None, 5, 3]}}})
    assert outcome.error is None, outcome.error


def test_another_keyword_call_does_not_take_still_ends_the_path(tmp_path):
    # Keras raises TypeError for ``mask=`` (or any keyword but ``training``) that call() lacks
    merge = "y + self.second(x, mask=None)"
    path, findings, stats = _analysed(tmp_path, BLOCK.format(second="width * 2", merge=merge))
    assert findings == [] and stats["flagged"] == 0, (findings, stats)
    outcome = build_from_witness(path, {"entry": "Block", "args": {"width": 8},
                                        "call": {"x": {"shape": [None, 5, 3]}}})
    assert isinstance(outcome.error, TypeError), outcome.error
