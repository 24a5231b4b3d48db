"""The result cache: a hit gives back exactly what the analysis gave, and nothing stale.

Analyses are counted by wrapping ``analysis.analyse_text`` (never by time); across
processes (flake8 ``-j``), an entry file that keeps its inode and modification time
was read, not written again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keras_shape_lint import cache, cli
from keras_shape_lint import config as configuration
from keras_shape_lint.findings import CallSite, Finding, Witness
from keras_shape_lint.options import Options

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

SEVERAL = [
    "resnet_bottleneck_wrong_projection.py",  # KSL102 with a witness
    "operator_add_residual.py",
    "densenet_axis_bug.py",  # KSL104
    "shortcut_single_channel.py",  # KSL105
    "dynamic_size_stride_branch.py",  # KSL106: the witness holds data shapes
    "subclassed_residual_flag.py",  # a layer class: the witness holds call() arguments
    "decorated_blocks.py",
    "model_built_in_init.py",
    "squeeze_excite_clean.py",
    "twofile/model_bad.py",  # the merge is in the imported module: a call chain
    "layerpkg/model_bad.py",
]


@pytest.fixture
def counted(monkeypatch):
    """The paths analysed, one per analysis, however the analyser is reached."""
    from keras_shape_lint import analysis

    calls = []
    real = analysis.analyse_text

    def counting(text, options=None, path=None, tree=None, started=None):
        calls.append(path)
        return real(text, options, path, tree, started)

    monkeypatch.setattr(analysis, "analyse_text", counting)
    return calls


# a time budget no fixture comes near, even on a busy machine: a result cut short by time is never kept
SLOW = {"time_budget_s": 120.0}


def run(path, store, options=None, strict=True, statistics=True, text=None):
    text = Path(path).read_text(encoding="utf-8") if text is None else text
    return cache.analyse(text, options or Options(**SLOW), str(path), strict=strict, store=store,
                         statistics=statistics)


def snapshot(findings, result) -> tuple:
    """Everything a front end reads, in a form where a list is not a tuple and 1 is not True."""
    return (repr(findings), [f.message for f in findings], [json.dumps(f.to_json()) for f in findings],
            repr(result.strict_findings()), repr(sorted(result.budget_notes.items())),
            repr(result.internal_errors), repr(result.statistics()))


def entries(folder: Path) -> dict:
    """Entry name -> (inode, mtime_ns): a file written again gets a new inode (os.replace)."""
    if not folder.is_dir():
        return {}
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.json")}


# --------------------------------------------------------------------------- hits are exact


@pytest.mark.parametrize("name", SEVERAL)
def test_a_hit_gives_back_exactly_what_the_analysis_gave(tmp_path, counted, name):
    store = cache.ResultCache(tmp_path / "cache")
    cold = run(FIXTURES / name, store)
    assert len(counted) == 1 and cold[1] is not None and not cold[1].from_cache
    warm = run(FIXTURES / name, cache.ResultCache(tmp_path / "cache"))  # a fresh object: read from the folder
    assert len(counted) == 1, "the second run analysed again"
    assert warm[1].from_cache
    assert snapshot(*warm) == snapshot(*cold)


def test_the_fixtures_with_findings_are_among_those_checked():
    # the exactness test above is only worth something if witnesses of each kind go through it
    store_free = [cache.analyse((FIXTURES / name).read_text(), Options(), str(FIXTURES / name))[0]
                  for name in ("dynamic_size_stride_branch.py", "subclassed_residual_flag.py", "twofile/model_bad.py")]
    assert any(f.witness is not None and f.witness.data for f in store_free[0])
    assert any(f.witness is not None and f.witness.call is not None for f in store_free[1])
    assert any(f.call_chain for f in store_free[2])


def test_values_of_every_kind_round_trip_exactly():
    value = {"a": (1, 2, (3,)), "b": [True, 1, 1.5, None, "x"], 3: "int key", ("t", 1): [], "~odd": {"nan": -0.0},
             "nested": {"shape": [None, 56, 56, 64]}, "empty": (), "big": 2 ** 80}
    assert repr(cache.decode(json.loads(json.dumps(cache.encode(value))))) == repr(value)
    finding = Finding("KSL102", 3, 4, {"merge": "Add()", "names": ("x", "filters"), "never": False, "n": 1},
                      ["conv_shortcut=False"], [CallSite("block", 9, "blocks.py"), CallSite("stack", 2)],
                      Witness("build", {"x": {"shape": [None, 8, 8, 3]}, "flag": True}, {"training": False},
                              [[None, 9, 9, 3]]))
    back = cache.decode_finding(json.loads(json.dumps(cache.encode_finding(finding))))
    assert repr(back) == repr(finding)
    with pytest.raises(cache.Uncacheable):
        cache.encode({"object": object()})


def test_an_object_the_format_cannot_hold_is_not_kept(tmp_path):
    store = cache.ResultCache(tmp_path / "cache")
    odd = cache.Result([Finding("KSL102", 1, 0, {"merge": object()})], {}, [])
    assert store.store("k" * 64, odd, (), strict=False) is False
    assert entries(tmp_path / "cache") == {}


# --------------------------------------------------------------------------- imported modules


def copy_fixture(tmp_path: Path, name: str) -> Path:
    target = tmp_path / "project" / name
    shutil.copytree(FIXTURES / name, target)
    (tmp_path / "project" / "pyproject.toml").write_text("[project]\nname = 'zoo'\n")
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def codes(findings) -> list:
    return sorted(f.code for f in findings)


def test_a_change_to_the_imported_module_invalidates_the_importer(tmp_path, counted):
    package = copy_fixture(tmp_path, "twofile")
    store = cache.ResultCache(tmp_path / "cache")
    model = package / "model_ok.py"
    assert codes(run(model, store)[0]) == []
    assert codes(run(model, store)[0]) == [] and len(counted) == 1
    # every block of the stack now skips its projection: 16 channels meet 64
    edit(package / "blocks.py", "    x = block(x, filters)\n", "    x = block(x, filters, project=False)\n")
    changed = run(model, store)
    assert len(counted) == 2, "the importer's entry survived a change to the module it imports"
    assert codes(changed[0]) == ["KSL101"]
    assert codes(run(model, store)[0]) == ["KSL101"] and len(counted) == 2


def test_a_change_to_a_custom_layer_module_invalidates_its_users(tmp_path, counted):
    package = copy_fixture(tmp_path, "layerpkg")
    store = cache.ResultCache(tmp_path / "cache")
    bad, ok = package / "model_bad.py", package / "model_ok.py"
    assert codes(run(bad, store)[0]) == ["KSL103"]
    assert codes(run(ok, store)[0]) == []
    assert len(counted) == 2
    run(bad, store), run(ok, store)
    assert len(counted) == 2
    edit(package / "custom_layers.py", "strides=strides, padding", "strides=1, padding")
    assert codes(run(bad, store)[0]) == []  # the stride is gone: nothing to find
    assert codes(run(ok, store)[0]) == []
    assert len(counted) == 4


def new_process(monkeypatch) -> None:
    """Forget the modules parsed so far, as a new flake8 or command-line run starts without them."""
    from collections import OrderedDict

    from keras_shape_lint import project

    monkeypatch.setattr(project, "_CACHE", OrderedDict())
    monkeypatch.setattr(project, "_DEPENDS", {})


def test_modules_read_through_a_module_already_loaded_count_too(tmp_path, counted, monkeypatch):
    """model imports a, which imports b; a was loaded (and kept parsed) for another file first."""
    package = tmp_path / "project" / "pkg"
    package.mkdir(parents=True)
    (tmp_path / "project" / "pyproject.toml").write_text("")
    (package / "__init__.py").write_text("")
    (package / "b.py").write_text(textwrap.dedent("""\
        from keras import layers

        WIDTH = 64


        def block(x):
            return layers.Add()([layers.Conv2D(WIDTH, 1)(x), x])
        """))
    (package / "a.py").write_text("from .b import block\n\n\ndef stack(x):\n    return block(x)\n")
    for name in ("other", "model"):
        (package / f"{name}.py").write_text("import keras\nfrom .a import stack\n\n\ndef build():\n"
                                            "    return stack(keras.Input((8, 8, 64)))\n")
    store = cache.ResultCache(tmp_path / "cache")
    assert codes(run(package / "other.py", store)[0]) == []
    assert codes(run(package / "model.py", store)[0]) == []
    kept = entries(tmp_path / "cache")
    assert len(kept) == 2
    for entry_path in (tmp_path / "cache").glob("*.json"):
        assert sorted(Path(p).name for p, _ in json.loads(entry_path.read_text())["reads"]) == ["a.py", "b.py"]
    edit(package / "b.py", "WIDTH = 64", "WIDTH = 128")
    # this process still holds a as parsed with the old b: what it finds now is not kept
    run(package / "model.py", store)
    assert len(counted) == 3 and entries(tmp_path / "cache") == kept
    new_process(monkeypatch)
    assert codes(run(package / "model.py", store)[0]) == ["KSL101"]
    assert codes(run(package / "model.py", store)[0]) == ["KSL101"]
    assert len(counted) == 4


def lazy_package(tmp_path: Path) -> Path:
    """a imports b1 and b2; other.py uses only what comes from b1, model.py only what comes from b2."""
    package = tmp_path / "project" / "lazy"
    package.mkdir(parents=True)
    (tmp_path / "project" / "pyproject.toml").write_text("")
    (package / "__init__.py").write_text("")
    for name, width in (("b1", 64), ("b2", 64)):
        (package / f"{name}.py").write_text(
            f"from keras import layers\n\n\ndef block_{name}(x):\n"
            f"    return layers.Add()([layers.Conv2D({width}, 1)(x), x])\n")
    (package / "a.py").write_text("from .b1 import block_b1\nfrom .b2 import block_b2\n\n\n"
                                  "def one(x):\n    return block_b1(x)\n\n\ndef two(x):\n    return block_b2(x)\n")
    for name, function in (("other", "one"), ("model", "two")):
        (package / f"{name}.py").write_text(f"import keras\nfrom .a import {function}\n\n\ndef build():\n"
                                            f"    return {function}(keras.Input((8, 8, 64)))\n")
    return package


def test_an_import_first_used_while_another_file_is_analysed_counts_for_that_file(tmp_path, counted, monkeypatch):
    """a was parsed for other.py; b2, which a imports, is read only when model.py first uses it."""
    package = lazy_package(tmp_path)
    store = cache.ResultCache(tmp_path / "cache")
    run(package / "other.py", store)
    assert codes(run(package / "model.py", store)[0]) == []
    entry = json.loads(store.entry_path(max(entries(tmp_path / "cache"), key=lambda name: entries(
        tmp_path / "cache")[name][1])[:-5]).read_text())
    assert sorted(Path(p).name for p, _ in entry["reads"]) == ["a.py", "b1.py", "b2.py"]
    edit(package / "b2.py", "Conv2D(64", "Conv2D(128")
    new_process(monkeypatch)
    assert codes(run(package / "model.py", store)[0]) == ["KSL101"]
    assert len(counted) == 3


def test_an_import_is_read_on_the_clock_of_the_file_being_analysed(tmp_path, counted):
    # a module parsed for other.py reads its own imports lazily, perhaps while model.py is
    # analysed: on model.py's clock, not on other.py's (run out here), so model.py's result is
    # complete and is kept like any other
    package = lazy_package(tmp_path)
    store = cache.ResultCache(tmp_path / "cache")
    _, other = run(package / "other.py", store)
    other.analysis.deadline = 0.0
    found, result = run(package / "model.py", store)
    assert not any("imports" in note for note in result.budget_notes)  # nothing refused for time
    again, _ = run(package / "model.py", store)
    assert codes(found) == codes(again)
    assert len(counted) == 2  # the second run of model.py was read back
    assert len(entries(tmp_path / "cache")) == 2


def test_a_module_that_went_away_is_a_miss(tmp_path, counted):
    package = copy_fixture(tmp_path, "twofile")
    store = cache.ResultCache(tmp_path / "cache")
    run(package / "model_bad.py", store)
    (package / "blocks.py").unlink()
    assert codes(run(package / "model_bad.py", store)[0]) == []
    assert len(counted) == 2


# --------------------------------------------------------------------------- what makes a miss


def test_an_option_change_misses(tmp_path, counted):
    store = cache.ResultCache(tmp_path / "cache")
    path = FIXTURES / "resnet_bottleneck_wrong_projection.py"
    run(path, store)
    for options in (Options(**SLOW, max_paths=8), Options(**SLOW, data_format="channels_first"),
                    Options(time_budget_s=100.0), Options(**SLOW, max_steps=1000)):
        run(path, store, options=options)
    assert len(counted) == 5
    run(path, store, strict=False)  # strict mode's findings are part of the entry
    assert len(counted) == 6
    for options in (Options(**SLOW), Options(**SLOW, max_paths=8), Options(**SLOW, data_format="channels_first")):
        run(path, store, options=options)
    run(path, store, strict=False)
    assert len(counted) == 6, "each setting keeps its own entry"


def test_another_text_or_place_or_tool_misses(tmp_path, counted, monkeypatch):
    store = cache.ResultCache(tmp_path / "cache")
    path = FIXTURES / "operator_add_residual.py"
    text = path.read_text()
    run(path, store)
    run(path, store, text=text + "\n# a comment\n")
    cache.analyse(text, Options(**SLOW), None, strict=True, store=store, statistics=True)  # standard input
    cache.analyse(text, Options(**SLOW), str(tmp_path / "elsewhere.py"), strict=True, store=store, statistics=True)
    assert len(counted) == 4
    cache.analyse(text, Options(**SLOW), None, strict=True, store=store, statistics=True)
    assert len(counted) == 4, "text without a file is cached by its content"
    monkeypatch.setattr(cache, "_TOOL", "another version of the analyser")
    run(path, store)
    assert len(counted) == 5


def test_the_tool_fingerprint_holds_the_package_sources(monkeypatch):
    first = cache.tool_fingerprint()
    monkeypatch.setattr(cache, "_TOOL", None)
    assert cache.tool_fingerprint() == first
    import keras_shape_lint

    monkeypatch.setattr(cache, "_TOOL", None)
    monkeypatch.setattr(cache, "__version__", keras_shape_lint.__version__ + ".dev1")
    assert cache.tool_fingerprint() != first


def test_statistics_asked_for_but_not_kept_is_a_miss(tmp_path, counted):
    store = cache.ResultCache(tmp_path / "cache")
    path = FIXTURES / "densenet_axis_bug.py"
    run(path, store, statistics=False)
    run(path, store, statistics=False)
    assert len(counted) == 1
    findings, result = run(path, store, statistics=True)
    assert len(counted) == 2 and result.statistics()["merges"] >= 1
    run(path, store, statistics=True), run(path, store, statistics=False)
    assert len(counted) == 2


def test_a_result_cut_short_by_time_is_not_kept(tmp_path, monkeypatch):
    from keras_shape_lint import analysis

    real = analysis.analyse_text
    calls = []

    def late(text, options=None, path=None, tree=None, started=None):
        calls.append(path)
        findings, result = real(text, options, path, tree, started)
        if len(calls) == 1:
            result.note_budget("time budget")
        elif len(calls) == 2:
            result.deadline = 0.0  # finished after its deadline, with no note to say so
        elif len(calls) == 3:
            result.solver.unknowns += 1  # z3 ran out of its (wall-clock) time on a query
        return findings, result

    monkeypatch.setattr(analysis, "analyse_text", late)
    store = cache.ResultCache(tmp_path / "cache")
    path = FIXTURES / "operator_add_residual.py"
    for expected in (1, 2, 3, 4, 4):
        run(path, store)
        assert len(calls) == expected
    assert len(entries(tmp_path / "cache")) == 1


def test_other_budgets_are_kept(tmp_path, counted):
    store = cache.ResultCache(tmp_path / "cache")
    path = tmp_path / "loop.py"  # a while loop no path decides: it stops at the symbolic loop bound
    path.write_text("from keras import layers\n\n\ndef block(x, size):\n    while size > 1:\n"
                    "        x = layers.Dense(size)(x)\n        size = size // 2\n"
                    "    return layers.Add()([x, x])\n")
    _, result = run(path, store, options=Options(**SLOW))
    assert "symbolic loop bound" in result.budget_notes
    _, again = run(path, store, options=Options(**SLOW))
    assert len(counted) == 1 and again.budget_notes == result.budget_notes


# --------------------------------------------------------------------------- damaged entries


CORRUPTIONS = {
    "empty": lambda text: "",
    "truncated": lambda text: text[: len(text) // 2],
    "not json": lambda text: "\x00\x01 garbage",
    "a list": lambda text: "[1, 2, 3]",
    "another format": lambda text: text.replace('"format":1', '"format":99'),
    "another key": lambda text: text.replace('"key":"', '"key":"0'),
    "a finding out of shape": lambda text: text.replace('"line":', '"line":"x", "was":'),
    "a bad tag": lambda text: text.replace('"findings":[', '"findings":[{"~tuple": 1},'),
    "a read without a hash": lambda text: text.replace('"reads":[', '"reads":[["/nonexistent/x.py", null],'),
}


@pytest.mark.parametrize("damage", CORRUPTIONS, ids=list(CORRUPTIONS))
def test_a_damaged_entry_is_a_miss_and_is_written_again(tmp_path, counted, damage):
    store = cache.ResultCache(tmp_path / "cache")
    path = FIXTURES / "twofile" / "model_bad.py"
    cold = run(path, store)
    [entry] = (tmp_path / "cache").glob("*.json")
    entry.write_text(CORRUPTIONS[damage](entry.read_text()))
    again = run(path, store)
    assert len(counted) == 2
    assert snapshot(*again) == snapshot(*cold)
    assert snapshot(*run(path, store)) == snapshot(*cold) and len(counted) == 2


def test_an_unreadable_entry_is_a_miss(tmp_path, counted):
    store = cache.ResultCache(tmp_path / "cache")
    path = FIXTURES / "operator_add_residual.py"
    run(path, store)
    [entry] = (tmp_path / "cache").glob("*.json")
    entry.unlink()
    entry.mkdir()  # a folder where the file was: open() fails
    findings, result = run(path, store)
    assert len(counted) == 2 and result is not None


# --------------------------------------------------------------------------- the folder


WRITER = """
import json, sys
from keras_shape_lint import cache
from keras_shape_lint.findings import Finding
store = cache.ResultCache(sys.argv[1])
me = int(sys.argv[2])
for round in range(int(sys.argv[3])):
    for key in range(4):
        fields = {"merge": "Add()", "writer": me, "round": round, "pad": "x" * (500 * me)}
        result = cache.Result([Finding("KSL102", key + 1, 0, fields)], {}, [])
        assert store.store(f"{key:064d}", result, (), strict=False)
"""


def test_concurrent_writers_never_leave_a_broken_entry(tmp_path):
    folder = tmp_path / "cache"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(folder), str(n), "150"]) for n in range(1, 4)]
    store = cache.ResultCache(folder)
    seen = 0
    present = set()
    while any(w.poll() is None for w in writers):
        for key in range(4):
            hit = store.load(f"{key:064d}")
            # a reader sees a whole entry or none, and once there, an entry never goes missing
            assert hit is not None or key not in present, "an entry was read while half written"
            if hit is not None:
                present.add(key)
                seen += 1
                assert hit.findings[0].line == key + 1
                assert len(hit.findings[0].fields["pad"]) == 500 * hit.findings[0].fields["writer"]
    assert all(w.wait() == 0 for w in writers)
    for key in range(4):
        hit = store.load(f"{key:064d}")
        assert hit is not None and hit.findings[0].fields["round"] == 149
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(".json")) == [".gitignore", "CACHEDIR.TAG"]
    assert seen > 0


def store_some(store: cache.ResultCache, count: int, size: int = 100) -> list:
    keys = []
    for number in range(count):
        key = f"{number:064d}"
        result = cache.Result([Finding("KSL102", 1, 0, {"pad": "x" * size})], {}, [])
        assert store.store(key, result, (), strict=False)
        os.utime(store.entry_path(key), (1_000_000 + number, 1_000_000 + number))  # older first
        keys.append(key)
    return keys


def test_the_folder_is_bounded_by_entries_least_recently_used_first(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "TRIM_EVERY", 10_000)
    store = cache.ResultCache(tmp_path / "cache", max_entries=3)
    keys = store_some(store, 5)
    assert store.load(keys[0]) is not None  # a hit makes the oldest entry the most recently used
    assert store.trim() == 2
    assert sorted(entries(tmp_path / "cache")) == sorted(f"{k}.json" for k in (keys[0], keys[3], keys[4]))


def test_the_folder_is_bounded_by_size(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "TRIM_EVERY", 10_000)
    store = cache.ResultCache(tmp_path / "cache")
    keys = store_some(store, 6, size=1000)
    one = store.entry_path(keys[0]).stat().st_size
    store.max_bytes = 4 * one
    assert store.trim() == 2
    assert sorted(entries(tmp_path / "cache")) == sorted(f"{k}.json" for k in keys[2:])


def test_writes_trim_the_folder_as_they_go(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "TRIM_EVERY", 4)
    store = cache.ResultCache(tmp_path / "cache", max_entries=2)
    for number in range(9):
        store.store(f"{number:064d}", cache.Result([], {}, []), (), strict=False)
        os.utime(store.entry_path(f"{number:064d}"), (1_000_000 + number, 1_000_000 + number))
    # trimmed on writes 1, 5 and 9: the two newest then remain
    assert sorted(entries(tmp_path / "cache")) == [f"{7:064d}.json", f"{8:064d}.json"]


def test_a_temporary_file_left_by_a_dead_writer_is_removed(tmp_path):
    store = cache.ResultCache(tmp_path / "cache")
    store_some(store, 1)
    stale, fresh = tmp_path / "cache" / ".tmp-dead", tmp_path / "cache" / ".tmp-busy"
    stale.write_text("{")
    fresh.write_text("{")
    os.utime(stale, (1_000_000, 1_000_000))
    store.trim()
    assert not stale.exists() and fresh.exists()


def test_the_default_folder_is_in_the_project_root_else_the_user_cache(tmp_path, monkeypatch):
    (tmp_path / "project").mkdir()
    assert cache.ResultCache(root=tmp_path / "project").folder == tmp_path / "project" / cache.FOLDER_NAME
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.ResultCache(root=blocked / "project").folder == tmp_path / "xdg" / "keras-shape-lint"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.user_cache_folder() == tmp_path / "home" / ".cache" / "keras-shape-lint"


def test_a_folder_that_cannot_be_written_keeps_nothing_and_breaks_nothing(tmp_path, counted):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    store = cache.ResultCache(blocked / "cache")
    path = FIXTURES / "operator_add_residual.py"
    first, second = run(path, store), run(path, store)
    assert len(counted) == 2 and snapshot(*first) == snapshot(*second)


# --------------------------------------------------------------------------- the command line


def zoo(tmp_path: Path) -> Path:
    """A small model zoo: single-file models, two packages, and a file without Keras."""
    folder = tmp_path / "zoo"
    folder.mkdir()
    for name in ("resnet_bottleneck_wrong_projection.py", "operator_add_residual.py", "densenet_axis_bug.py",
                 "dynamic_size_stride_branch.py", "squeeze_excite_clean.py", "subclassed_residual_flag.py"):
        shutil.copy(FIXTURES / name, folder / name)
    for name in ("twofile", "layerpkg"):
        shutil.copytree(FIXTURES / name, folder / name)
    (folder / "plain.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'zoo'\n")
    return folder


#: the zoo's files that name Keras (the packages' __init__.py and plain.py do not)
KERAS_FILES = 12


def test_the_command_line_warm_run_analyses_nothing_and_says_the_same(tmp_path, monkeypatch, capsys, counted):
    zoo(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["zoo", "--stats", "--extend-select", "KSL2", "--timeout", "120"]) == 1
    cold = capsys.readouterr()
    assert len(counted) == KERAS_FILES
    assert cli.main(["zoo", "--stats", "--extend-select", "KSL2", "--timeout", "120"]) == 1
    warm = capsys.readouterr()
    assert len(counted) == KERAS_FILES
    assert warm.out == cold.out and warm.err == cold.err
    assert "KSL101" in cold.out and '"merges"' in cold.err


def test_no_cache_writes_nothing(tmp_path, monkeypatch, capsys, counted):
    zoo(tmp_path)
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert cli.main(["zoo", "--no-cache"]) == 1
    assert len(counted) == 2 * KERAS_FILES
    assert not any(tmp_path.rglob(cache.FOLDER_NAME))
    capsys.readouterr()


def test_pyproject_settings_turn_the_cache_off_or_move_it(tmp_path, monkeypatch, capsys, counted):
    zoo(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.keras-shape-lint]\ncache = false\n")
    assert cli.main(["zoo/twofile", "--timeout", "120"]) == 1
    assert not any(tmp_path.rglob(cache.FOLDER_NAME)) and not any(tmp_path.rglob("*.json"))
    (tmp_path / "pyproject.toml").write_text("[tool.keras-shape-lint]\ncache-dir = \"build/ksl\"\n")
    assert cli.main(["zoo/twofile", "--timeout", "120"]) == 1
    assert len(entries(tmp_path / "build" / "ksl")) == 3
    monkeypatch.chdir(tmp_path / "zoo")  # relative to the pyproject.toml, not to where the run starts
    assert cli.main(["twofile", "--timeout", "120"]) == 1
    assert len(entries(tmp_path / "build" / "ksl")) == 3
    assert cli.main(["twofile", "--cache-dir", "here", "--timeout", "120"]) == 1
    assert len(entries(tmp_path / "zoo" / "here")) == 3
    capsys.readouterr()


@pytest.mark.parametrize("table, words", [
    ("cache = \"no\"", "cache must be true or false, not 'no'"),
    ("cache-dir = 3", "cache-dir must name a folder, not 3"),
    ("cache-dir = \"pyproject.toml\"", "cache-dir must name a folder, not the file"),
])
def test_bad_pyproject_cache_settings_are_refused(tmp_path, table, words):
    (tmp_path / "pyproject.toml").write_text(f"[tool.keras-shape-lint]\n{table}\n")
    with pytest.raises(configuration.ConfigError, match=words):
        configuration.load(tmp_path)


def test_a_cache_dir_that_is_a_file_is_a_usage_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "model.py").write_text("import keras\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["model.py", "--cache-dir", "model.py"]) == 2
    assert "--cache-dir must name a folder, not the file 'model.py'" in capsys.readouterr().err


# --------------------------------------------------------------------------- flake8


def flake8(cwd: Path, *args) -> subprocess.CompletedProcess:
    # the default codes only: KSL9xx say when a budget ran out, which depends on the machine's load
    result = subprocess.run([sys.executable, "-m", "flake8", "--select", "KSL1", "--ksl-timeout", "120", *args],
                            capture_output=True, text=True, cwd=cwd, timeout=600)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode in (0, 1), result.stderr[-3000:]
    return result


def test_cold_warm_and_parallel_flake8_agree_with_the_command_line(tmp_path):
    zoo(tmp_path)
    outputs = {}
    for jobs in ("1", "2"):
        folder = tmp_path / f"cache-j{jobs}"
        outputs[f"-j {jobs} cold"] = flake8(tmp_path, "-j", jobs, "--ksl-cache-dir", str(folder), "zoo").stdout
        written = entries(folder)
        assert len(written) == KERAS_FILES, sorted(written)
        outputs[f"-j {jobs} warm"] = flake8(tmp_path, "-j", jobs, "--ksl-cache-dir", str(folder), "zoo").stdout
        assert entries(folder) == written, "a warm run wrote entries again: it analysed"
    outputs["-j 2 no cache"] = flake8(tmp_path, "-j", "2", "--ksl-no-cache", "zoo").stdout
    assert not (tmp_path / cache.FOLDER_NAME).exists()
    for run_name in ("command line cold", "command line warm"):
        outputs[run_name] = subprocess.run([sys.executable, "-m", "keras_shape_lint", "--timeout", "120", "zoo"],
                                           capture_output=True, text=True, cwd=tmp_path, timeout=600).stdout
    assert len(entries(tmp_path / cache.FOLDER_NAME)) == KERAS_FILES
    lines = {name: sorted(output.splitlines()) for name, output in outputs.items()}
    first = lines["-j 1 cold"]
    assert any("KSL101" in line for line in first) and any("KSL106" in line for line in first)
    for name, found in lines.items():
        assert found == first, f"{name} differs from -j 1 cold"


def test_flake8_reads_the_cache_settings_from_its_configuration(tmp_path):
    zoo(tmp_path)
    (tmp_path / "setup.cfg").write_text("[flake8]\nksl-cache-dir = build/ksl\n")
    flake8(tmp_path, "zoo/twofile")
    assert len(entries(tmp_path / "build" / "ksl")) == 3
    (tmp_path / "setup.cfg").write_text("[flake8]\nksl-no-cache = true\n")
    flake8(tmp_path, "zoo/layerpkg")
    assert not (tmp_path / cache.FOLDER_NAME).exists() and len(entries(tmp_path / "build" / "ksl")) == 3


@pytest.mark.parametrize("where", ["setup.cfg", "command line"])
def test_flake8_refuses_a_cache_dir_that_is_a_file(tmp_path, where):
    (tmp_path / "model.py").write_text("import keras\n")
    args = ["--ksl-cache-dir=model.py"] if where == "command line" else []
    if where == "setup.cfg":
        (tmp_path / "setup.cfg").write_text("[flake8]\nksl-cache-dir = ./model.py\n")
    result = subprocess.run([sys.executable, "-m", "flake8", *args, "model.py"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "argument --ksl-cache-dir: must name a folder, not the file" in result.stderr.splitlines()[-1]


def test_flake8_standard_input_is_cached_by_content(tmp_path):
    text = (FIXTURES / "resnet_bottleneck_wrong_projection.py").read_text()
    folder = tmp_path / "cache"

    def from_stdin(source):
        return subprocess.run([sys.executable, "-m", "flake8", "--select", "KSL1", "--ksl-timeout", "120",
                               "--ksl-cache-dir", str(folder), "-"],
                              input=source, capture_output=True, text=True, cwd=tmp_path, timeout=300)

    cold = from_stdin(text)
    written = entries(folder)
    assert cold.stdout and len(written) == 1
    assert from_stdin(text).stdout == cold.stdout and entries(folder) == written
    from_stdin(text + "\n")
    assert len(entries(folder)) == 2


def test_the_plugin_in_process_hits_without_the_analyser(tmp_path, counted):
    import argparse

    from keras_shape_lint.flake8_plugin import KerasShapeChecker

    saved = KerasShapeChecker.options, KerasShapeChecker.report_incomplete, KerasShapeChecker.cache
    try:
        KerasShapeChecker.parse_options(argparse.Namespace(
            ksl_data_format="channels_last", ksl_max_paths=32, ksl_timeout=120.0, ksl_report_incomplete=False,
            ksl_no_cache=False, ksl_cache_dir=str(tmp_path / "cache")))
        path = FIXTURES / "twofile" / "model_bad.py"
        lines = path.read_text().splitlines(keepends=True)
        cold = list(KerasShapeChecker(None, lines, str(path)).run())
        warm = list(KerasShapeChecker(None, lines, str(path)).run())
        assert cold and warm == cold and len(counted) == 1
        KerasShapeChecker.parse_options(argparse.Namespace(  # without the cache options: no cache
            ksl_data_format="channels_last", ksl_max_paths=32, ksl_timeout=5.0, ksl_report_incomplete=False))
        assert KerasShapeChecker.cache is None
    finally:
        KerasShapeChecker.options, KerasShapeChecker.report_incomplete, KerasShapeChecker.cache = saved
