"""Paths a caller's flag parted, joined again where they differ only in what an instance
holds (or a local): the attributes and locals are guarded, and reading one parts the path
again, exactly.  Findings, witnesses and messages are those of the parted paths; the paths
do not multiply through the code after the branch."""

from __future__ import annotations

import os
import textwrap

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_shape_lint.analysis import Options, analyse_text  # noqa: E402

from oracle import check_finding, write_module  # noqa: E402

OPTIONAL_PROJECTION = textwrap.dedent('''
    from keras import layers


    class Block(layers.Layer):
        def __init__(self, units, use_norm=False, use_proj=False, **kwargs):
            super().__init__(**kwargs)
            self.use_norm = use_norm
            self.use_proj = use_proj
            if use_norm:
                self.norm = layers.LayerNormalization()
            if use_proj:
                self.proj = layers.Dense(units * 2)

        def call(self, x):
            y = x
            if self.use_norm:
                y = self.norm(y)
            if self.use_proj:
                y = self.proj(y)
            return x + y
    ''')

LOCAL_WIDTH = textwrap.dedent('''
    from keras import layers


    def head(x, wide=False):
        if wide:
            units = 16
        else:
            units = 8
        return layers.Add()([layers.Dense(units)(x), layers.Dense(8)(x)])
    ''')


def test_an_attribute_a_flag_sets_is_read_on_the_flags_own_path(tmp_path):
    path = write_module(tmp_path, "optional_projection.py", OPTIONAL_PROJECTION)
    findings, analysis = analyse_text(OPTIONAL_PROJECTION, None, str(path))
    assert [(f.code, f.line) for f in findings] == [("KSL102", 21)]
    record = findings[0].to_json()
    assert record["witness"]["args"]["use_proj"] is True, record["witness"]
    assert "use_proj=True" in record["message"], record["message"]
    check_finding(path, record)  # Keras fails there with the witness


def test_a_size_a_flag_sets_keeps_the_flags_own_path(tmp_path):
    # (a size is read at once after the branch: its paths stay apart, the witness names the flag)
    path = write_module(tmp_path, "local_width.py", LOCAL_WIDTH)
    findings, _ = analyse_text(LOCAL_WIDTH, None, str(path))
    assert [(f.code, f.line) for f in findings] == [("KSL101", 10)]  # never equal where wide
    record = findings[0].to_json()
    assert record["witness"]["args"]["wide"] is True and "wide=True" in record["message"], record
    check_finding(path, record)


FLAGS = ["norm_a", "norm_b", "norm_c", "norm_d", "norm_e", "norm_f", "norm_g", "norm_h"]

STACK = textwrap.dedent('''
    import keras
    from keras import layers


    class Block(layers.Layer):
        def __init__(self, dim, {flags}, **kwargs):
            super().__init__(**kwargs)
    {setup}
            self.out = layers.Dense(dim)

        def call(self, x):
            h = x
    {apply}
            return x + self.out(h)


    class Stack(keras.Model):
        def __init__(self, dim=16, num_layers=4, {flags}, **kwargs):
            inputs = keras.Input((None, dim))
            blocks = []
            for _ in range(num_layers):
                blocks.append(Block(dim, {names}))
            x = inputs
            for block in blocks:
                x = block(x)
            super().__init__(inputs, x, **kwargs)
    ''').format(
    flags=", ".join(f"{f}=False" for f in FLAGS),
    names=", ".join(f"{f}={f}" for f in FLAGS),
    setup="\n".join(f"        self.{f} = {f}\n        if {f}:\n            self.layer_{f} = layers.LayerNormalization()"
                    for f in FLAGS),
    apply="\n".join(f"        if self.{f}:\n            h = self.layer_{f}(h)" for f in FLAGS))


def test_flags_of_a_stacks_blocks_do_not_multiply_its_paths(tmp_path):
    # eight optional norms per block: 256 ways to build a block, each a path through the
    # whole stack before; the norms' attributes guarded, the stack is read once
    path = write_module(tmp_path, "flag_stack.py", STACK)
    findings, analysis = analyse_text(STACK, Options(time_budget_s=600.0), str(path))
    stats = analysis.statistics()
    assert findings == [] and not stats["budget"], stats
    assert stats["proven"] == 1 and stats["undecided"] == 0, stats
    assert "paths joined at the path budget" not in stats["opaque"], stats["opaque"]
    assert analysis.interp.steps < 2_000, analysis.interp.steps  # (13,319 with the paths apart)


CHOICES = textwrap.dedent('''
    import keras
    from keras import layers


    class Block(layers.Layer):
        def __init__(self, dim, activation="relu", norm="layer", mode="same", **kwargs):
            super().__init__(**kwargs)
            self.mode = mode
            if activation == "relu":
                self.act = layers.ReLU()
            elif activation == "gelu":
                self.act = layers.Activation("gelu")
            elif activation == "tanh":
                self.act = layers.Activation("tanh")
            elif activation is None:
                self.act = layers.Identity()
            else:
                raise ValueError(activation)
            if norm == "layer":
                self.norm = layers.LayerNormalization()
            elif norm == "batch":
                self.norm = layers.BatchNormalization()
            else:
                self.norm = layers.Identity()
            if mode == "wide":
                self.proj = layers.Dense(dim * 2)
            else:
                self.proj = layers.Dense(dim)

        def call(self, x):
            return x + self.proj(self.act(self.norm(x)))


    class Stack(keras.Model):
        def __init__(self, activation, norm, mode, dim=16, num_layers=4, **kwargs):
            inputs = keras.Input((None, dim))
            blocks = []
            for _ in range(num_layers):
                blocks.append(Block(dim, activation, norm, mode))
            x = inputs
            for block in blocks:
                x = block(x)
            super().__init__(inputs, x, **kwargs)
    ''')


def test_a_string_a_caller_chooses_parts_no_more_than_a_flag(tmp_path):
    # an activation or a norm named by a string the caller must pass (``if activation ==
    # "gelu"``, an elif chain): the layers each choice makes are guarded like a flag's, and the
    # paths do not multiply; the one choice that breaks the merge is still found and named
    path = write_module(tmp_path, "string_choices.py", CHOICES)
    findings, analysis = analyse_text(CHOICES, Options(time_budget_s=600.0), str(path))
    assert [(f.code, f.line) for f in findings] == [("KSL101", 32)], findings
    record = findings[0].to_json()
    assert record["witness"]["args"]["mode"] == "wide" and 'mode == "wide"' in record["message"], record
    check_finding(path, record)  # Keras fails there with the witness
    stats = analysis.statistics()
    assert "paths joined at the path budget" not in stats["opaque"], stats["opaque"]
    assert analysis.interp.steps < 2_000, analysis.interp.steps  # (3,157 with the choices apart)
