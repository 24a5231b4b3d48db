"""Cross-module analysis: a model file is analysed with the blocks it imports."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "fixtures" / "twofile"
BLOCKS = PROJECT / "blocks.py"


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _flake8(*paths):
    result = subprocess.run([sys.executable, "-m", "flake8", "--select", "KSL", *map(str, paths)],
                            capture_output=True, text=True, cwd=ROOT)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout.splitlines()


def test_only_the_wrong_combination_is_flagged():
    lines = _flake8(PROJECT)
    assert len(lines) == 1, lines
    path, line, _col, message = lines[0].split(":", 3)
    assert path.endswith("model_bad.py")
    assert int(line) == _line_of(PROJECT / "model_bad.py", "# KSL101")
    assert message.split()[0] == "KSL101"
    assert f"blocks.py at line {_line_of(BLOCKS, 'layers.Add()')}" in message


def test_the_blocks_module_alone_is_clean():
    assert _flake8(BLOCKS) == []


def test_keras_agrees(monkeypatch):
    import pytest

    monkeypatch.syspath_prepend(str(PROJECT.parent))
    bad = importlib.import_module("twofile.model_bad")
    good = importlib.import_module("twofile.model_ok")
    good.build()
    with pytest.raises(ValueError, match="incompatible shapes") as raised:
        bad.build()
    frames = [(Path(f.filename).resolve(), f.lineno) for f in __import__("traceback").extract_tb(raised.tb)]
    assert (BLOCKS.resolve(), _line_of(BLOCKS, "layers.Add()")) in frames


def test_the_command_line_reads_the_project_too():
    def run(*paths):
        return subprocess.run([sys.executable, "-m", "keras_shape_lint", "--format", "json", *map(str, paths)],
                              capture_output=True, text=True, cwd=ROOT)

    import json

    flagged = run(PROJECT)
    assert flagged.returncode == 1, flagged.stderr
    findings = json.loads(flagged.stdout)
    assert [(Path(f["path"]).name, f["line"], f["code"]) for f in findings] == [
        ("model_bad.py", _line_of(PROJECT / "model_bad.py", "# KSL101"), "KSL101")]
    clean = run(BLOCKS, PROJECT / "model_ok.py")
    assert clean.returncode == 0 and json.loads(clean.stdout) == []


def test_the_module_cache_keeps_only_recent_modules(tmp_path, monkeypatch):
    # cached modules stay alive (and slow every full garbage collection): the cache is bounded
    from keras_shape_lint import project
    from keras_shape_lint.analysis import analyse_text

    monkeypatch.setattr(project, "_CACHE", project.OrderedDict())
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'probe'\n")
    block = "from keras import layers\n\n\ndef widen(x):\n    return layers.Dense(16)(x)\n" + "#" * 400 + "\n"
    for i in range(6):
        (tmp_path / f"blocks{i}.py").write_text(block)
    size = len(block)
    monkeypatch.setattr(project, "_CACHE_BYTES", 3 * size)
    for i in range(6):
        model = (f"from keras import layers\nfrom blocks{i} import widen\n\n\n"
                 "def net(x):\n    return layers.Add()([widen(x), layers.Dense(8)(x)])  # KSL101\n")
        (tmp_path / f"model{i}.py").write_text(model)
        findings, _ = analyse_text(model, None, str(tmp_path / f"model{i}.py"))
        assert [f.code for f in findings] == ["KSL101"]  # the import was read
    held = [os.path.basename(key[0]) for key in project._CACHE]
    assert held == ["blocks3.py", "blocks4.py", "blocks5.py"]
    # a module read again moves to the back of the queue
    findings, _ = analyse_text(model.replace("blocks5", "blocks3"), None, str(tmp_path / "model3.py"))
    assert [os.path.basename(key[0]) for key in project._CACHE] == ["blocks4.py", "blocks5.py", "blocks3.py"]


LAYERS = ROOT / "fixtures" / "layerpkg"


def test_custom_layers_imported_from_the_package_are_analysed_there():
    lines = _flake8(LAYERS)
    assert len(lines) == 1, lines
    path, line, _col, message = lines[0].split(":", 3)
    assert path.endswith("model_bad.py")
    assert int(line) == _line_of(LAYERS / "model_bad.py", "# KSL103")
    assert message.split()[0] == "KSL103"


def test_a_layer_whose_call_cannot_be_read_is_applied_through_compute_output_shape(tmp_path):
    # without compute_output_shape the same merge cannot be decided: the declared shape is what decides it
    import shutil

    from keras_shape_lint.analysis import analyse_text

    copy = tmp_path / "layerpkg"
    shutil.copytree(LAYERS, copy)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'probe'\n")
    model = (copy / "model_bad.py").read_text()
    findings, analysis = analyse_text(model, None, str(copy / "model_bad.py"))
    assert [f.code for f in findings] == ["KSL103"]
    layers_text = (copy / "custom_layers.py").read_text()
    cut = layers_text.index("    def compute_output_shape")
    (copy / "custom_layers.py").write_text(layers_text[:cut] + "\n\ndef external_scaling(x, scale):\n"
                                           "    return functools.reduce(operator.mul, [x, scale])\n")
    findings, analysis = analyse_text(model, None, str(copy / "model_bad.py"))
    assert findings == []
    assert analysis.statistics()["undecided"] == 1


def test_keras_agrees_on_the_custom_layers(monkeypatch):
    import pytest

    monkeypatch.syspath_prepend(str(LAYERS.parent))
    bad = importlib.import_module("layerpkg.model_bad")
    good = importlib.import_module("layerpkg.model_ok")
    good.build()
    with pytest.raises(ValueError, match="incompatible shapes") as raised:
        bad.build()
    frames = [(Path(f.filename).resolve(), f.lineno) for f in __import__("traceback").extract_tb(raised.tb)]
    assert (LAYERS / "model_bad.py", _line_of(LAYERS / "model_bad.py", "# KSL103")) in frames


def test_a_package_outside_any_project_reads_its_own_modules_and_not_its_neighbours(tmp_path):
    # a folder of packages with no project marker (``pip install --target``, a vendored copy):
    # the package's absolute imports of itself are read, as in site-packages; a package beside
    # it (a dependency) is not
    from keras_shape_lint.analysis import analyse_text
    from keras_shape_lint.project import project_root

    above = [p for p in [tmp_path, *tmp_path.parents] for m in ("pyproject.toml", "setup.cfg", "setup.py", ".git")
             if (p / m).exists()]
    assert not above, f"the test needs a temporary folder outside any project: {above}"
    site = tmp_path / "target"
    models = site / "zoo" / "models"
    models.mkdir(parents=True)
    (site / "zoo" / "__init__.py").write_text("")
    (models / "__init__.py").write_text("")
    (site / "zoo" / "blocks.py").write_text(
        "from keras import layers\n\n\ndef widen(x, filters):\n    return layers.Conv2D(filters, 1)(x)\n")
    (site / "dep").mkdir()
    (site / "dep" / "__init__.py").write_text("")
    (site / "dep" / "heads.py").write_text(
        "from keras import layers\n\n\ndef head(x):\n    return layers.Dense(7)(x)\n")
    model = (
        "import keras\nfrom keras import layers\n\nfrom zoo.blocks import widen\nfrom dep.heads import head\n\n\n"
        "def build(filters=16):\n"
        "    inputs = keras.Input((8, 8, 16))\n"
        "    x = inputs + widen(inputs, filters)\n"
        "    y = head(x) + layers.Dense(5)(x)\n"
        "    return keras.Model(inputs, [x, y])\n")
    path = models / "net.py"
    path.write_text(model)
    assert project_root(str(path)) == str(site)
    findings, analysis = analyse_text(model, None, str(path))
    assert [(f.line, f.code) for f in findings] == [(10, "KSL102")]  # zoo.blocks read: filters may differ
    assert analysis.statistics()["undecided"] == 1  # dep.heads not read: head(x) is unknown
    # a folder of the package without an __init__.py of its own (a namespace package's)
    loose = models / "loose"
    loose.mkdir()
    (loose / "net.py").write_text(model)
    findings, analysis = analyse_text(model, None, str(loose / "net.py"))
    assert [(f.line, f.code) for f in findings] == [(10, "KSL102")]
    assert analysis.statistics()["undecided"] == 1


_HELPER_WITH_UNKNOWN_WIDTH = """\
from keras import layers
from mystery_package import get_width


def block(x):
    y = layers.Dense(get_width())(x)
    return layers.Add()([x, y])
"""

_MODEL_WITH_THE_SAME_MERGE = """\
import keras
from keras import layers
from helper import block
from mystery_package import get_width


def build(width):
    x = keras.Input((8, width))
    y = layers.Dense(get_width())(x)
    z = layers.Add()([x, y])
    return keras.Model(x, block(z))
"""


def test_an_imported_merge_that_hinges_on_an_unknown_value_is_not_asked(tmp_path, monkeypatch):
    """A merge of an imported module is only reported here (its outcome is counted where it is
    linted), and a failure that hinges on a value nobody knows is never reported: the solver is
    not asked about it.  The same merge in the linted module is (it is counted undecided)."""
    from oracle import write_module

    from keras_shape_lint import checks, layer_context
    from keras_shape_lint.analysis import analyse_text
    from keras_shape_lint.solver import Solver

    asked, merges = [], []
    check_path, check_merge = Solver.check_path, checks.check_merge

    def counted_check_path(self, *args, **kwargs):
        asked.append(1)
        return check_path(self, *args, **kwargs)

    def watched_check_merge(analysis, st, node, *args, **kwargs):
        before = len(asked)
        check_merge(analysis, st, node, *args, **kwargs)
        merges.append((st.modules[-1] is analysis.main, len(asked) - before))

    monkeypatch.setattr(Solver, "check_path", counted_check_path)
    monkeypatch.setattr(layer_context, "check_merge", watched_check_merge)
    write_module(tmp_path, "helper.py", _HELPER_WITH_UNKNOWN_WIDTH)
    path = write_module(tmp_path, "model.py", _MODEL_WITH_THE_SAME_MERGE)
    findings, analysis = analyse_text(path.read_text(), None, str(path))
    assert findings == []
    assert analysis.statistics()["undecided"] == 1  # the model's own merge
    assert sorted(merges) == [(False, 0), (True, 1)]


_FROZEN_NORMALIZATION = """\
import keras


class FrozenNormalization(keras.layers.BatchNormalization):
    def __init__(self, freeze, *args, **kwargs):
        self.freeze = freeze
        super(FrozenNormalization, self).__init__(*args, **kwargs)

    def call(self, inputs, training=None):
        if self.freeze:
            training = False
        return super(FrozenNormalization, self).call(inputs, training=training)
"""

_BLOCK_THROUGH_THE_PACKAGE = """\
import keras.layers

import {package}.layers


def block(x, filters, freeze=False):
    y = keras.layers.Conv2D(filters, 3, padding="same")(x)
    y = {package}.layers.FrozenNormalization(freeze, axis=-1)(y)
    return keras.layers.Add()([x, y])
"""


def test_a_package_that_passes_on_its_submodules_layers_is_read_through(tmp_path, monkeypatch):
    """``import pkg.layers`` then ``pkg.layers.FrozenNormalization``, or ``from pkg.layers import
    ...``, where ``pkg/layers/__init__.py`` passes the class on from a submodule of its own; the
    class overrides call() and hands its inputs to the Keras layer's own (``super().call``)."""
    from oracle import check_finding, write_module

    from keras_shape_lint.analysis import analyse_text

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'probe'\n")
    package = tmp_path / "frozenpkg"
    (package / "layers").mkdir(parents=True)
    write_module(package, "__init__.py", "")
    write_module(package / "layers", "__init__.py", "from ._frozen import FrozenNormalization\n")
    write_module(package / "layers", "_frozen.py", _FROZEN_NORMALIZATION)
    dotted = _BLOCK_THROUGH_THE_PACKAGE.format(package="frozenpkg")
    named = dotted.replace("import frozenpkg.layers", "from frozenpkg.layers import FrozenNormalization").replace(
        "frozenpkg.layers.FrozenNormalization(", "FrozenNormalization(")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, text in (("dotted.py", dotted), ("named.py", named)):
        path = write_module(package, name, text)
        findings, analysis = analyse_text(text, None, str(path))
        assert [(f.code, f.line) for f in findings] == [("KSL102", 9)], (name, findings)
        check_finding(path, findings[0].to_json())  # Keras fails at the Add with the witness
        good = text.replace("def block(x, filters, freeze=False):\n", "def block(x, filters, freeze=False):\n"
                                                                       "    filters = x.shape[-1]\n")
        findings, analysis = analyse_text(good, None, str(write_module(package, "good_" + name, good)))
        assert findings == [] and analysis.statistics()["proven"] == 1, (name, findings)


def test_a_catch_all_call_leaves_keras_no_shape_to_build_weights_from(tmp_path):
    """``call(self, *args, **kwargs)`` over a layer whose weights are sized by its input: Keras
    passes build() no shape for a catch-all, and BatchNormalization's build indexes None.  No
    path reaches the merge after it, so nothing is reported there."""
    import pytest
    from oracle import build_from_witness, write_module

    from keras_shape_lint.analysis import analyse_text

    frozen = _FROZEN_NORMALIZATION.replace(
        "def call(self, inputs, training=None):\n        if self.freeze:\n            training = False\n"
        "        return super(FrozenNormalization, self).call(inputs, training=training)",
        "def call(self, *args, **kwargs):\n        if self.freeze:\n            kwargs[\"training\"] = False\n"
        "        return super(FrozenNormalization, self).call(*args, **kwargs)")
    assert "*args" in frozen
    block = _BLOCK_THROUGH_THE_PACKAGE.replace("import {package}.layers\n", "").replace("{package}.layers.", "")
    text = frozen + "\n\n" + block
    path = write_module(tmp_path, "catch_all.py", text)
    findings, analysis = analyse_text(text, None, str(path))
    assert findings == []
    assert analysis.statistics()["unreached"] == 1
    outcome = build_from_witness(path, {"entry": "block", "args": {"x": {"shape": [None, 8, 8, 4]},
                                                                      "filters": 4}}, frozenset())
    assert isinstance(outcome.error, TypeError), outcome.error


_OPS_SHIM = """\
import keras

if keras.version().startswith("3."):
    from keras.ops import *  # noqa: F403
else:
    from keras_two_shim.ops import *  # noqa: F403
"""

_BLOCK_ON_THE_SHIM = """\
import keras

from {star}


def block(x, filters):
    y = keras.layers.Conv2D(filters, 1)(x)
    y = {prefix}reshape(y, (-1, x.shape[1], x.shape[2], filters))
    return keras.layers.Add()([x, y])
"""


def test_star_imports_bind_what_keras_and_the_users_modules_define(tmp_path, monkeypatch):
    """``from keras.ops import *`` in a package's own ops module (a Keras 2/3 shim), then that
    module's names used through it or star-imported again: ``ops.reshape`` is Keras's."""
    from oracle import check_finding, write_module

    from keras_shape_lint.analysis import analyse_text

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'probe'\n")
    package = tmp_path / "shimpkg"
    package.mkdir()
    write_module(package, "__init__.py", "")
    write_module(package, "ops.py", _OPS_SHIM)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, star, prefix in (("through.py", "shimpkg import ops", "ops."), ("star.py", "shimpkg.ops import *", "")):
        text = _BLOCK_ON_THE_SHIM.format(star=star, prefix=prefix)
        path = write_module(package, name, text)
        findings, analysis = analyse_text(text, None, str(path))
        assert [(f.code, f.line) for f in findings] == [("KSL102", 9)], (name, findings)
        check_finding(path, findings[0].to_json())  # Keras fails at the Add with the witness
