"""Paths that differ only in what nobody can know join again: a number nobody knows that a
caller's flag changed (``w = w * scale`` on ``np.random`` data), and the two sides of a
branch on a value nobody knows that left everything alike.  Nothing later can be proven or
witnessed of such a value, so one path stands for both, and a finding past such a branch is
still a finding."""

from __future__ import annotations

import os
import textwrap

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_shape_lint.analysis import Options, analyse_text  # noqa: E402

from oracle import check_finding, write_module  # noqa: E402

# four rates a caller passes, each changing numbers drawn at random (which nobody knows):
# sixteen paths through the code after them before, one now
RATES = textwrap.dedent('''
    import numpy as np
    from keras import layers


    def block(x, filters, dither, scale, emphasis, boost):
        w = np.random.default_rng(0).standard_normal(100)
        if dither > 0.0:
            w = w + dither * np.random.default_rng(1).standard_normal(100)
        if scale != 1.0:
            w = w * scale
        if emphasis > 0.0:
            w = w - emphasis * w
        if boost > 0.0:
            w = w * (1.0 + boost)
        y = layers.Conv2D(filters, 1)(x)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU()(y)
        y = layers.Conv2D(filters, 1)(y)
        return layers.Add()([x, y]), w
    ''')

# a branch on a value nobody knows whose two sides leave every value read after it alike
UNDECIDABLE_NOTE = textwrap.dedent('''
    import random

    from keras import layers


    def block(x, filters):
        if random.random() > 0.5:
            note = "a"
        else:
            note = "b"
        y = layers.Conv2D(filters, 1)(x)
        return layers.Add()([x, y])
    ''')

def test_numbers_nobody_knows_do_not_part_the_path_on_each_rate(tmp_path):
    path = write_module(tmp_path, "rates.py", RATES)
    findings, analysis = analyse_text(RATES, Options(time_budget_s=600.0), str(path))
    assert [(f.code, f.line) for f in findings] == [("KSL102", 21)], findings
    record = findings[0].to_json()
    # the rates do not matter to the merge: the message names none of them as a condition
    assert " when " not in record["message"], record["message"]
    check_finding(path, record)  # Keras fails there with the witness
    assert analysis.interp.steps < 300, analysis.interp.steps  # (988 with the sixteen paths apart)


def test_a_branch_nobody_can_decide_that_changed_nothing_keeps_the_finding(tmp_path):
    path = write_module(tmp_path, "undecidable_note.py", UNDECIDABLE_NOTE)
    findings, analysis = analyse_text(UNDECIDABLE_NOTE, None, str(path))
    stats = analysis.statistics()
    assert [(f.code, f.line) for f in findings] == [("KSL102", 13)], stats
    check_finding(path, findings[0].to_json())
