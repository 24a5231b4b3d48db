"""What a person reads in a message: the right code, the right words, short enough.

* every fixture's messages: at most MAX_MESSAGE characters, no conditional expression
  (``a if c else b``) from the analyser's own model, "1 channel" not "1 channels",
  and an axis called spatial is never the channel axis of the input;
* KSL101 when the channel counts can never be equal (``filters`` against
  ``filters + 1`` or ``filters*2``), with a witness Keras rejects;
* sizes as people write them (symbolic.show): a broadcast size is ``max(a, b)``, sums
  are collected, ``and`` inside ``or`` is parenthesised, a decided conditional shows
  one side;
* KSL106 names the user's Input, and an example that is the defaults says so.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import z3

from keras_shape_lint import symbolic as S
from keras_shape_lint.analysis import analyse_text
from keras_shape_lint.findings import MAX_MESSAGE, CallSite, Finding, Witness

from oracle import REPO_ROOT, check_finding, display_path, fixture_paths

FIXTURES = fixture_paths()
_CONDITIONAL = re.compile(r"\bif\b.+\belse\b")


def _channel_axis(path: Path, finding: dict) -> int | None:
    """The Keras axis (batch = 0) of the channels of the witness's input tensors, if one has a shape."""
    shapes = [v["shape"] for v in {**finding["witness"]["args"], **finding["witness"].get("call", {})}.values()
              if isinstance(v, dict) and "shape" in v]
    if not shapes:
        return None
    return 1 if "channels_first" in path.read_text(encoding="utf-8") else len(shapes[0]) - 1


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_messages_read_well(path, analyser_findings):
    for finding in analyser_findings[display_path(path)]:
        message = finding["message"]
        assert len(message) <= MAX_MESSAGE, f"{len(message)} characters: {message}"
        assert not _CONDITIONAL.search(message), message
        assert "1 channels" not in message, message
        assert "it needs" not in message or not re.search(r"it needs \d+ == \d+(?=$|[\s,;)])", message), message
        channel = _channel_axis(path, finding)
        for axis in re.findall(r"spatial axis (\d+)", message):
            assert channel is None or int(axis) != channel, f"the channel axis called spatial: {message}"


def _message(analyser_findings, name: str, code: str) -> str:
    found = [f for f in analyser_findings[f"fixtures/{name}"] if f["code"] == code]
    assert found, f"{name} has no {code}"
    return found[0]["message"]


def test_channels_concatenated_off_axis_are_called_channels(analyser_findings):
    message = _message(analyser_findings, "densenet_axis_bug.py", "KSL104")
    assert "24 and 12 channels" in message
    assert "spatial axis 3" not in message
    assert "they can never be equal" in message and "may" not in message.split(":")[0]
    assert message.endswith("(with the defaults)")


def test_a_parameter_set_or_not_reads_as_truthy_and_a_flag_as_true(analyser_findings):
    # `if project:` with project=None by default: the path holds for any width, never `project=True`
    message = _message(analyser_findings, "optional_projection.py", "KSL102")
    assert "when project is truthy" in message and "project=True" not in message
    # `if conv_shortcut:` with a bool default is a flag: its value is True on that path
    assert "when conv_shortcut=False" in _message(analyser_findings, "seed_resnext_block.py", "KSL102")


def test_constant_sizes_are_never_a_precondition(analyser_findings):
    message = _message(analyser_findings, "concat_pool_branch_mismatch.py", "KSL104")
    assert "Concatenate() concatenates spatial axis 1 sizes 16 and 15: they can never be equal" in message
    assert "it needs" not in message and "may concatenate" not in message


def test_data_sizes_are_named_after_the_users_input(analyser_findings):
    message = _message(analyser_findings, "dynamic_size_stride_branch.py", "KSL106")
    assert "image" in message
    assert "input1" not in message and "input 1" not in message


def test_a_conditional_size_shows_the_side_that_fails(analyser_findings):
    found = next(f for f in analyser_findings["fixtures/conditional_stride_bad.py"] if f["code"] == "KSL103")
    assert "downsample=True" in found["path_condition"]
    assert "(x.shape[1] + 1)//2" in found["message"]


def test_broadcast_sizes_never_show_as_conditionals(analyser_findings):
    for found in analyser_findings["fixtures/fpn_odd_size.py"]:
        assert " if " not in found["message"] and "== 1 else" not in found["message"]


def test_a_size_clamped_to_its_axis_reads_as_min_or_max():
    # a slice x[..., :n] keeps min(n, channels): z3 holds it as a conditional, shown as min/max
    import z3

    from keras_shape_lint import symbolic as S

    n, c = z3.Ints("n c")
    assert S.show(z3.If(n <= c, n, c)) == "min(n, c)"
    assert S.show(z3.If(n < c, c, n)) == "max(c, n)"
    assert S.show(z3.If(n >= c, n, c)) == "max(n, c)"
    assert " if " in S.show(z3.If(n <= c, n + 1, c))  # not a min: the sides are not the operands


# --------------------------------------------------------------------------- the code


@pytest.fixture
def scratch():
    """A scratch folder inside the repository (the oracle names files relative to it),
    under the git-ignored .pytest_cache, removed afterwards."""
    parent = REPO_ROOT / ".pytest_cache"
    parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="messages-", dir=parent) as folder:
        yield Path(folder)


def _findings(tmp_path, source: str) -> list[dict]:
    path = tmp_path / "block.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "keras_shape_lint", "--format", "json", "--isolated", path.name],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("other", ["filters + 1", "filters * 2"])
def test_channels_that_are_never_equal_are_ksl101(scratch, other):
    findings = _findings(scratch, f'''\
        from keras import layers


        def block(x, filters):
            a = layers.Conv2D(filters, 1)(x)
            b = layers.Conv2D({other}, 1)(x)
            return layers.Add()([a, b])
    ''')
    assert [(f["line"], f["code"]) for f in findings] == [(7, "KSL101")]
    assert "they can never be equal" in findings[0]["message"]
    assert "it needs" not in findings[0]["message"]
    check_finding(scratch / "block.py", findings[0])  # Keras rejects the witness at the merge


def test_channels_equal_for_some_input_stay_ksl102(tmp_path):
    findings = _findings(tmp_path, '''\
        from keras import layers


        def block(x, filters, width):
            a = layers.Conv2D(filters, 1)(x)
            b = layers.Conv2D(width * 2, 1)(x)
            return layers.Add()([a, b])
    ''')
    assert [(f["line"], f["code"]) for f in findings] == [(7, "KSL102")]
    assert "it needs filters == width*2" in findings[0]["message"]


# --------------------------------------------------------------------------- sizes as shown


def test_a_broadcast_size_reads_as_max():
    a, b = z3.Int("a"), z3.Int("b")
    assert S.show(z3.If(a == 1, b, a)) == "max(a, b)"
    assert S.show(z3.If(a == 1, b, a) * 2) == "max(a, b)*2"


def test_a_decided_conditional_shows_one_side():
    x, flag = z3.Int("x.shape[1]"), z3.Bool("downsample")
    stride = z3.If(flag, 2, 1)
    size = (x + stride - 1) / stride
    assert S.show(size, decide=lambda c: True if c.eq(flag) else None) == "(x.shape[1] + 1)//2"
    assert S.show(size, decide=lambda c: False if c.eq(flag) else None) == "x.shape[1]"


def test_sums_are_collected_when_that_reads_shorter():
    x, d, k = z3.Int("x.shape[1]"), z3.Int("dilation_rate"), z3.Int("kernel_size")
    shrunk = x - (d * (k - 1) + 1) + 1 - (d * (k - 1) + 1) + 1
    shown = S.show(shrunk)
    assert len(shown) < 60 and "+ 1 -" not in shown
    filters, groups = z3.Int("filters"), z3.Int("groups")
    assert S.show(filters / groups + filters / groups) == "filters//groups*2"
    assert S.show(filters * (filters / groups)) == "filters*(filters//groups)"  # not filters*filters//groups


def test_and_inside_or_is_parenthesised():
    a, b, c = z3.Bool("a"), z3.Bool("b"), z3.Bool("c")
    assert S.show(z3.Or(z3.And(a, b), c)) == "(a and b) or c"
    assert S.show(z3.And(z3.Or(a, b), c)) == "(a or b) and c"


def _finding(code: str, **fields) -> Finding:
    base = {"merge": "Add()", "left": "filters", "right": "1", "axis": "channel axis", "when": "", "chain": "",
            "example": "", "defaults": {"filters": 32}, "names": ["filters"]}
    base.update(fields)
    return Finding(code, 10, 4, base, witness=Witness("block", {"filters": 32}))


def test_one_channel_is_singular_and_defaults_are_said():
    message = _finding("KSL105").message
    assert "filters channels and 1 channel" in message
    assert message.endswith("(with the defaults)")


def test_a_long_message_is_told_briefly():
    long_size = "(((image_size + 1)//2 + 1)//2 + 1)//2*4"
    finding = _finding("KSL103", left=long_size, right="(image_size + 1)//2", axis="spatial axis 1",
                       when=" when conv_shortcut=False", names=["image_size"],
                       chain=" (called build() -> top() at line 40 -> middle() at line 30 -> block() at line 20)",
                       defaults={})
    finding.witness = Witness("build", {"image_size": 65, "channels": 3, "pyramid_channels": 64})
    finding.path_condition = ["conv_shortcut=False"]
    finding.call_chain = [CallSite("top", 40), CallSite("middle", 30), CallSite("block", 20)]
    message = finding.message
    assert len(message) <= MAX_MESSAGE, message
    assert "when conv_shortcut=False" in message and "image_size=65" in message
    assert "pyramid_channels" not in message  # the sizes do not depend on it


def test_the_shortest_message_gives_the_sizes_at_the_witness():
    finding = _finding("KSL103", left="((img_input.shape[1] - 3)//2 - 1)//2 + 1", right="img_input.shape[1]//4",
                       axis="spatial axis 1", when=" when not (weights == 'imagenet' and include_top and "
                       "classes != 1000)", chain=" (called NASNetLarge() -> NASNet() at line 10 -> _normal_a_cell() "
                       "at line 20)", data_names=["img_input"], defaults={})
    finding.witness = Witness("NASNetLarge", {}, data=[[None, 56, 56, 3]])
    finding.call_chain = [CallSite("NASNet", 10), CallSite("_normal_a_cell", 20)]
    message = finding.message
    assert len(message) <= MAX_MESSAGE, message
    assert "13 and 14 with img_input of shape (1, 56, 56, 3)" in message


def test_every_example_message_in_the_docs_fits(tmp_path):
    for code in ("KSL101", "KSL102", "KSL103", "KSL104", "KSL105", "KSL106"):
        text = (REPO_ROOT / "docs" / "rules" / f"{code}.md").read_text(encoding="utf-8")
        failing = re.search(r"```python failing\n(.*?)```", text, re.S).group(1)
        findings, _ = analyse_text(failing)
        assert findings, code
        for finding in findings:
            assert len(finding.message) <= MAX_MESSAGE and not _CONDITIONAL.search(finding.message)


BACKEND_BRANCH = textwrap.dedent('''
    import keras
    from keras import layers


    def head(x, wide=False):
        if keras.config.backend() == "tensorflow":
            y = layers.Dense(16 if wide else 8)(x)
        else:
            y = layers.Dense(8)(x)
        return layers.Add()([layers.Dense(8)(x), y])
    ''')


def _the_finding(tmp_path, name: str, text: str, expected: tuple) -> tuple:
    """The one finding (code, line) of ``text`` written to ``name``: its record, and the path."""
    path = tmp_path / name
    path.write_text(text)
    findings, _ = analyse_text(text, None, str(path))
    assert [(f.code, f.line) for f in findings] == [expected]
    return findings[0].to_json(), path


def test_a_finding_past_a_branch_on_the_backend_says_which_backend(tmp_path):
    # the analysis runs code as TensorFlow does: a finding behind ``backend() == "tensorflow"``
    # says so (another backend takes the other branch here, which builds), one elsewhere does not
    record, path = _the_finding(tmp_path, "backend_branch.py", BACKEND_BRANCH, ("KSL102", 11))
    assert "wide=True, on the TensorFlow backend" in record["message"], record["message"]
    assert 'keras.config.backend() == "tensorflow"' in record["path_condition"]
    check_finding(path, record)  # and TensorFlow, the oracle's backend, fails there
    plain = BACKEND_BRANCH.replace('keras.config.backend() == "tensorflow"', "True")
    findings, _ = analyse_text(plain, None, str(path))
    assert [f.code for f in findings] == ["KSL102"] and "backend" not in findings[0].to_json()["message"]


INPUTS_ON_EACH_PATH = textwrap.dedent('''
    import keras
    from keras import layers


    def build(wide=False):
        if wide:
            y = keras.Input((None, 8), name="y")
        else:
            y = keras.Input((None, 4), name="y")
        x = keras.Input((None, 8), name="x")
        out = layers.Add()([layers.Conv1D(8, 3)(x), x])
        return keras.Model([y, x], [out, y])
    ''')


def test_a_ksl106_witness_gives_data_for_its_own_paths_inputs(tmp_path):
    # each path makes its own Inputs: the witness's data is for those of the path that fails,
    # named as the user named them, not for every Input any path made
    record, path = _the_finding(tmp_path, "inputs_on_each_path.py", INPUTS_ON_EACH_PATH, ("KSL106", 12))
    assert len(record["witness"]["data"]) == 2 and record["witness"]["data_names"] == ["y", "x"], record["witness"]
    assert "input2" not in record["message"] and "x of shape" in record["message"], record["message"]
    check_finding(path, record)
