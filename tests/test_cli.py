"""The ``keras-shape-lint`` command as users run it: files, folders, options, formats.

Where flake8 reports the same thing (text lines, columns, ``# noqa``, data
format), the command's output is compared with what the real flake8 prints
through the plugin, an independent front end over the same analyser.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keras_shape_lint import cli
from keras_shape_lint import config as configuration
from keras_shape_lint.fixcheck import apply_edits, plan
from keras_shape_lint.analysis import Options, analyse_text
from keras_shape_lint.findings import CODES
from keras_shape_lint.output import escape_data, escape_property

from oracle import REPO_ROOT, build_from_witness, expected_findings

EXAMPLE = REPO_ROOT / "examples" / "resnext_block.py"
JSON_KEYS = {"path", "code", "line", "column", "message", "path_condition", "call_chain", "witness"}

# a public block with an identity shortcut: KSL102 on the Add
IDENTITY_BLOCK = textwrap.dedent('''\
    from keras import layers


    def residual_block(x, filters):
        shortcut = x
        y = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        return layers.Add()([y, shortcut])
''')
IDENTITY_ADD_LINE = 8

# a strided main branch over an unstrided projection: KSL103 on the Add
STRIDED_BLOCK = textwrap.dedent('''\
    from keras import layers


    def downsample_block(x, filters, strides=2):
        shortcut = layers.Conv2D(filters, 1)(x)
        y = layers.Conv2D(filters, 3, strides=strides, padding="same", activation="relu")(x)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        return layers.Add()([y, shortcut])
''')

CLEAN_BLOCK = textwrap.dedent('''\
    from keras import layers


    def residual_block(x, filters):
        shortcut = x
        if x.shape[-1] != filters:
            shortcut = layers.Conv2D(filters, 1)(x)
        y = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        return layers.Add()([y, shortcut])
''')

# a while loop no path decides: the analysis stops at the symbolic loop bound (KSL901)
INCOMPLETE = (
    "from keras import layers\n\n\ndef shrinking_stack(x, size):\n    while size > 1:\n"
    "        x = layers.Dense(size)(x)\n        size = size // 2\n    return layers.Add()([x, x])\n"
)


def run(*args, cwd=REPO_ROOT, stdin=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "keras_shape_lint", *map(str, args)],
        cwd=cwd, input=stdin, capture_output=True, text=True, env=env, timeout=300,
    )


def flake8(*args, cwd=REPO_ROOT):
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "KSL", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def found(output: str) -> set[tuple[str, int, str]]:
    """(path, line, code) of each ``path:line:col: CODE message`` line."""
    result = set()
    for line in output.splitlines():
        match = re.match(r"^(.*?):(\d+):(\d+): (KSL\d{3}) ", line)
        if match:
            result.add((match.group(1), int(match.group(2)), match.group(4)))
    return result


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- entry points and exit codes


def test_console_script_and_module_agree():
    script = shutil.which("keras-shape-lint") or str(Path(sys.executable).parent / "keras-shape-lint")
    assert Path(script).exists(), "the keras-shape-lint console script is not installed"
    by_script = subprocess.run([script, str(EXAMPLE)], capture_output=True, text=True, cwd=REPO_ROOT)
    by_module = run(EXAMPLE)
    assert by_script.returncode == by_module.returncode == 1
    assert by_script.stdout == by_module.stdout
    assert "KSL102" in by_script.stdout


def test_exit_status_is_0_when_clean_and_1_with_findings(tmp_path):
    clean = write(tmp_path, "clean.py", CLEAN_BLOCK)
    flagged = write(tmp_path, "flagged.py", IDENTITY_BLOCK)
    result = run(clean, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "")
    result = run(clean, flagged, cwd=tmp_path)
    assert result.returncode == 1
    assert found(result.stdout) == {(str(flagged), IDENTITY_ADD_LINE, "KSL102")}
    assert run(flagged, "--exit-zero", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("args", [
    ["does/not/exist.py"],
    ["--format", "xml", "x.py"],
    ["--select", "not a code", "x.py"],
    ["--max-paths", "0", "x.py"],
    ["--timeout", "-1", "x.py"],
    ["--timeout", "inf", "x.py"],
    ["--timeout", "nan", "x.py"],
])
def test_usage_errors_exit_2(tmp_path, args):
    write(tmp_path, "x.py", CLEAN_BLOCK)
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_text_output_is_what_flake8_prints(tmp_path):
    files = [write(tmp_path, "identity.py", IDENTITY_BLOCK), write(tmp_path, "strided.py", STRIDED_BLOCK),
             write(tmp_path, "seed.py", EXAMPLE.read_text())]
    ours = run(*[f.name for f in files], "--isolated", cwd=tmp_path)
    theirs = flake8(*[f.name for f in files], cwd=tmp_path)
    assert ours.returncode == theirs.returncode == 1
    assert sorted(ours.stdout.splitlines()) == sorted(theirs.stdout.splitlines())
    assert len(ours.stdout.splitlines()) >= 4


def test_json_output_keeps_its_shape():
    result = run("--format", "json", EXAMPLE)
    report = json.loads(result.stdout)
    assert isinstance(report, list) and len(report) >= 2
    text = run(EXAMPLE).stdout.splitlines()
    for item, line in zip(report, text):
        assert set(item) == JSON_KEYS
        assert item["path"] == str(EXAMPLE)
        assert line == f"{item['path']}:{item['line']}:{item['column']}: {item['code']} {item['message']}"
        assert item["witness"]["entry"] == "block"
        assert item["witness"]["args"]["x"]["shape"][0] is None
        assert item["path_condition"] == ["conv_shortcut=False"]


def test_reads_standard_input_with_a_display_name():
    result = run("-", "--stdin-display-name", "model.py", stdin=EXAMPLE.read_text())
    assert result.returncode == 1
    assert {path for path, _, _ in found(result.stdout)} == {"model.py"}


# --------------------------------------------------------------------------- files and folders


def test_folders_are_walked_and_the_usual_suspects_skipped(tmp_path):
    write(tmp_path, "pkg/model.py", IDENTITY_BLOCK)
    write(tmp_path, "pkg/deep/er/blocks.py", STRIDED_BLOCK)
    write(tmp_path, "pkg/clean.py", CLEAN_BLOCK)
    write(tmp_path, "pkg/notes.txt", IDENTITY_BLOCK)
    for skipped in (".git/hooks/x.py", "pkg/__pycache__/x.py", "build/lib/x.py", "dist/x.py", ".tox/py/x.py",
                    "node_modules/x/x.py", "lib/site-packages/x.py", "env/lib/x.py", "pkg.egg-info/x.py"):
        write(tmp_path, skipped, IDENTITY_BLOCK)
    write(tmp_path, "env/pyvenv.cfg", "home = /usr/bin\n")
    result = run(".", cwd=tmp_path)
    assert result.returncode == 1
    assert {path for path, _, _ in found(result.stdout)} == {
        os.path.join("pkg", "model.py"), os.path.join("pkg", "deep", "er", "blocks.py")}


def test_no_path_means_the_current_folder(tmp_path):
    write(tmp_path, "a.py", IDENTITY_BLOCK)
    assert {p for p, _, _ in found(run(cwd=tmp_path).stdout)} == {"a.py"}


def test_exclude_globs_match_names_and_paths(tmp_path):
    write(tmp_path, "src/keep.py", IDENTITY_BLOCK)
    write(tmp_path, "src/generated_pb2.py", IDENTITY_BLOCK)
    write(tmp_path, "src/legacy/old.py", IDENTITY_BLOCK)
    write(tmp_path, "tests/test_model.py", IDENTITY_BLOCK)
    result = run("src", "tests", "--exclude", "*_pb2.py", "--exclude", "src/legacy", "--exclude", "tests",
                 cwd=tmp_path)
    assert {p for p, _, _ in found(result.stdout)} == {os.path.join("src", "keep.py")}
    # a file named on the command line is still subject to --exclude (pre-commit names every file)
    result = run("src/generated_pb2.py", "--exclude", "*_pb2.py", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "")


def test_gitignore_at_the_root_is_honoured(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, ".gitignore", "# generated\n/out/\n*_gen.py\n!keep_gen.py\nscratch/**/tmp_*.py\n")
    write(tmp_path, "out/a.py", IDENTITY_BLOCK)
    write(tmp_path, "src/out/b.py", IDENTITY_BLOCK)  # /out/ is anchored: this one stays
    write(tmp_path, "src/model_gen.py", IDENTITY_BLOCK)
    write(tmp_path, "src/keep_gen.py", IDENTITY_BLOCK)
    write(tmp_path, "scratch/x/y/tmp_1.py", IDENTITY_BLOCK)
    write(tmp_path, "scratch/x/real.py", IDENTITY_BLOCK)
    expected = {os.path.join("src", "out", "b.py"), os.path.join("src", "keep_gen.py"),
                os.path.join("scratch", "x", "real.py")}
    assert {p for p, _, _ in found(run(".", cwd=tmp_path).stdout)} == expected
    everything = {p for p, _, _ in found(run(".", "--no-gitignore", cwd=tmp_path).stdout)}
    assert everything == expected | {os.path.join("out", "a.py"), os.path.join("src", "model_gen.py"),
                                     os.path.join("scratch", "x", "y", "tmp_1.py")}


# --------------------------------------------------------------------------- selection and noqa


def test_incomplete_analysis_is_off_by_default_and_selectable(tmp_path):
    write(tmp_path, "loop.py", INCOMPLETE)
    assert run("loop.py", cwd=tmp_path).stdout == ""
    for option in (["--select", "KSL901"], ["--extend-select", "KSL9"], ["--select", "KSL"]):
        result = run("loop.py", *option, cwd=tmp_path)
        assert found(result.stdout) == {("loop.py", 1, "KSL901")}, option
        assert result.returncode == 1
    # the same from pyproject.toml
    write(tmp_path, "pyproject.toml", '[tool.keras-shape-lint]\nextend-select = ["KSL901"]\n')
    explained = run("loop.py", "--explain", cwd=tmp_path).stdout
    assert found(explained) == {("loop.py", 1, "KSL901")}
    assert "No option raises this bound" in explained  # a fixed bound: no option to name
    assert "--max-paths" not in explained


def test_the_path_budget_joins_paths_and_is_set_from_the_command_line_or_pyproject(tmp_path):
    # with one path per function the shortcut's two sides are joined: the merge is read but
    # left undecided (KSL201) where the default budget keeps them apart and flags it
    write(tmp_path, "seed.py", EXAMPLE.read_text())

    def codes(*args):
        return {c for _, _, c in found(run("seed.py", "--select", "KSL", *args, cwd=tmp_path).stdout)}

    assert codes() >= {"KSL102"} and "KSL201" not in codes()
    assert codes("--max-paths", "1") == {"KSL201"}
    write(tmp_path, "pyproject.toml", "[tool.keras-shape-lint]\nmax-paths = 1\n")
    assert codes() == {"KSL201"}
    assert "KSL901" not in codes("--max-paths", "1")  # nothing was dropped


def test_select_and_ignore_use_the_longest_prefix(tmp_path):
    write(tmp_path, "seed.py", EXAMPLE.read_text())
    codes = lambda *args: {c for _, _, c in found(run("seed.py", *args, cwd=tmp_path).stdout)}  # noqa: E731
    everything = codes()
    assert {"KSL102", "KSL103"} <= everything
    assert codes("--ignore", "KSL103") == everything - {"KSL103"}
    assert codes("--select", "KSL103") == {"KSL103"}
    assert codes("--select", "KSL102,KSL103") == {"KSL102", "KSL103"}
    # KSL103 (6 characters) beats KSL1 (4); KSL102 only matches KSL (3) and loses to KSL1
    assert codes("--select", "KSL", "--ignore", "KSL1", "--extend-select", "KSL103") == {"KSL103"}
    assert codes("--select", "KSL102", "--ignore", "KSL102") == set()


def _with_comment(text: str, line: int, comment: str) -> str:
    lines = text.splitlines()
    lines[line - 1] += comment
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("comment", [
    "  # noqa",
    "  # noqa: KSL102",
    "  # noqa:KSL103",
    "  # noqa: KSL102,KSL103",
    "  # NOQA: KSL1",
    "  # noqa: E501",
    "  # noqa : KSL102",
])
def test_noqa_matches_flake8(tmp_path, comment):
    seed = EXAMPLE.read_text()
    add_line = next(i for i, line in enumerate(seed.splitlines(), 1) if "Add()([x, shortcut])" in line)
    write(tmp_path, "seed.py", _with_comment(seed, add_line, comment))
    ours = run("seed.py", "--isolated", cwd=tmp_path)
    theirs = flake8("seed.py", cwd=tmp_path)
    assert found(ours.stdout) == found(theirs.stdout)
    assert ours.returncode == theirs.returncode


@pytest.mark.parametrize("first, last, silenced", [("  # noqa: KSL102", "", True), ("", "  # noqa: KSL102", False)])
def test_noqa_in_a_multiline_statement_matches_flake8(tmp_path, first, last, silenced):
    # flake8 looks for noqa on the reported physical line (lines of one token, such as a
    # triple-quoted string, count as one); a comment closing the statement does not reach line 8
    text = IDENTITY_BLOCK.replace(
        "    return layers.Add()([y, shortcut])\n",
        f"    return layers.Add()({first}\n        [y, shortcut]\n    ){last}\n",
    )
    write(tmp_path, "multi.py", text)
    ours = found(run("multi.py", "--isolated", cwd=tmp_path).stdout)
    assert ours == found(flake8("multi.py", cwd=tmp_path).stdout)
    assert ours == (set() if silenced else {("multi.py", 8, "KSL102")})
    assert found(run("multi.py", "--disable-noqa", cwd=tmp_path).stdout) == {("multi.py", 8, "KSL102")}


def test_file_level_flake8_noqa(tmp_path):
    write(tmp_path, "skip.py", "# flake8: noqa\n" + IDENTITY_BLOCK)
    assert run("skip.py", cwd=tmp_path).stdout == ""
    assert run("skip.py", cwd=tmp_path).returncode == 0


# --------------------------------------------------------------------------- configuration


def test_data_format_reaches_the_analyser_like_flake8s(tmp_path):
    write(tmp_path, "strided.py", STRIDED_BLOCK)
    first = run("strided.py", "--data-format", "channels_first", "--isolated", cwd=tmp_path).stdout
    last = run("strided.py", "--isolated", cwd=tmp_path).stdout
    assert first != last
    assert first == flake8("strided.py", "--ksl-data-format", "channels_first", cwd=tmp_path).stdout
    write(tmp_path, "pyproject.toml", '[tool.keras-shape-lint]\ndata-format = "channels_first"\n')
    assert run("strided.py", cwd=tmp_path).stdout == first


def test_pyproject_settings_apply_and_options_override_them(tmp_path):
    write(tmp_path, "pyproject.toml", textwrap.dedent('''\
        [project]
        name = "demo"

        [tool.keras-shape-lint]
        ignore = ["KSL103"]
        exclude = ["generated"]
        format = "json"
    '''))
    write(tmp_path, "src/seed.py", EXAMPLE.read_text())
    write(tmp_path, "src/generated/g.py", IDENTITY_BLOCK)
    nested = tmp_path / "src"
    report = json.loads(run(".", cwd=nested).stdout)  # the nearest pyproject.toml is one folder up
    assert {item["code"] for item in report} == {"KSL102"}
    assert {item["path"] for item in report} == {"seed.py"}
    text = run(".", "--format", "text", "--ignore", "KSL102", cwd=nested).stdout
    assert {c for _, _, c in found(text)} == {"KSL103"}
    isolated = run(".", "--isolated", cwd=nested).stdout
    assert {c for _, _, c in found(isolated)} == {"KSL102", "KSL103"}
    assert os.path.join("generated", "g.py") in {p for p, _, _ in found(isolated)}


def test_bad_configuration_is_a_usage_error(tmp_path):
    write(tmp_path, "a.py", CLEAN_BLOCK)
    write(tmp_path, "pyproject.toml", '[tool.keras-shape-lint]\nformat = "xml"\n')
    result = run("a.py", cwd=tmp_path)
    assert result.returncode == 2 and "format" in result.stderr
    write(tmp_path, "pyproject.toml", '[tool.keras-shape-lint]\nselect = "KSL1"\nshiny = true\n')
    result = run("a.py", cwd=tmp_path)
    assert result.returncode == 0 and "unknown key 'shiny'" in result.stderr


TOML_DOCUMENTS = [
    '[tool.keras-shape-lint]\nselect = ["KSL1", "KSL901"]\n',
    '[project]\nname = "x"\ndescription = """\n[tool.keras-shape-lint]\nfake = 1\n"""\n'
    'license = {text = "MIT"}\n\n[tool.keras-shape-lint]\nignore = \'KSL103\'  # a comment\n',
    '[tool."keras-shape-lint"]\nexclude = [\n  "a/*",  # first\n  "b",\n]\ntimeout = 2.5\nmax-paths = 1_000\n',
    '[tool.keras-shape-lint]\ndata-format = "channels_\\u0066irst"\nflag = false\n[tool.other]\nselect = ["X"]\n',
    '[tool.black]\nline-length = 100\n',
]


@pytest.mark.parametrize("document", TOML_DOCUMENTS)
def test_fallback_toml_reader_agrees_with_tomllib(document):
    tomllib = pytest.importorskip("tomllib")
    expected = tomllib.loads(document).get("tool", {}).get("keras-shape-lint", {})
    assert configuration.parse_table(document) == expected


def test_fallback_toml_reader_is_used_without_a_toml_library(tmp_path, monkeypatch):
    monkeypatch.setattr(configuration, "_toml_loads", lambda: None)
    write(tmp_path, "pyproject.toml", TOML_DOCUMENTS[2])
    settings = configuration.load(tmp_path)
    assert settings.exclude == ["a/*", "b"]
    assert settings.timeout == 2.5 and settings.max_paths == 1000


# --------------------------------------------------------------------------- formats


def test_github_format_is_valid_workflow_commands(tmp_path):
    write(tmp_path, "seed.py", EXAMPLE.read_text())
    result = run("seed.py", "--format", "github", cwd=tmp_path)
    report = json.loads(run("seed.py", "--format", "json", cwd=tmp_path).stdout)
    lines = result.stdout.splitlines()
    assert result.returncode == 1 and len(lines) == len(report)
    for line, item in zip(lines, report):
        match = re.match(r"^::error file=([^,]*),line=(\d+),col=(\d+),title=([^,:]*)::(.*)$", line)
        assert match, line
        assert match.group(1) == "seed.py"
        assert (int(match.group(2)), int(match.group(3))) == (item["line"], item["column"])
        assert match.group(4) == item["code"]
        assert _unescape(match.group(5)) == item["message"]


def _unescape(text: str) -> str:
    return text.replace("%0A", "\n").replace("%0D", "\r").replace("%3A", ":").replace("%2C", ",") \
        .replace("%25", "%")


def test_github_escaping_follows_the_runner_rules():
    assert escape_data("50% of 1\r\n2") == "50%25 of 1%0D%0A2"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert escape_data("a:b,c") == "a:b,c"  # messages keep ':' and ','


def test_github_format_escapes_awkward_file_names(tmp_path):
    write(tmp_path, "odd,name:1.py", IDENTITY_BLOCK)
    line = run("odd,name:1.py", "--format", "github", cwd=tmp_path).stdout.splitlines()[0]
    assert line.startswith("::error file=odd%2Cname%3A1.py,line=8,")


def test_stats_go_to_stderr(tmp_path):
    write(tmp_path, "seed.py", EXAMPLE.read_text())
    write(tmp_path, "clean.py", CLEAN_BLOCK)
    result = run("seed.py", "clean.py", "--stats", "--format", "json", cwd=tmp_path)
    json.loads(result.stdout)  # stdout is still only the report
    records = [json.loads(line) for line in result.stderr.splitlines()]
    per_file = {r["path"]: r for r in records if "path" in r}
    assert set(per_file) == {"seed.py", "clean.py"}
    assert per_file["seed.py"]["flagged"] >= 1 and per_file["clean.py"]["proven"] >= 1
    total = records[-1]["total"]
    assert total["files"] == 2 and total["findings"]["KSL102"] == 1


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("count, terminal, shown", [(25, True, True), (20, True, False), (25, False, False)])
def test_progress_only_on_a_terminal_with_many_files(tmp_path, monkeypatch, count, terminal, shown):
    for i in range(count):
        write(tmp_path, f"m{i:02d}.py", "import keras\n")
    stderr = _Terminal() if terminal else io.StringIO()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stderr", stderr)
    assert cli.main(["."]) == 0
    assert (f"[{count}/{count}]" in stderr.getvalue()) is shown


def test_internal_error_exits_2_and_is_reported_when_selected(tmp_path, monkeypatch, capsys):
    write(tmp_path, "a.py", IDENTITY_BLOCK)
    monkeypatch.chdir(tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("the analyser broke")

    monkeypatch.setattr(cli, "analyse_text", broken)
    assert cli.main(["a.py"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "the analyser broke" in captured.err
    assert cli.main(["a.py", "--select", "KSL902", "--format", "json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert [(item["code"], item["line"]) for item in report] == [("KSL902", 1)]
    assert "RuntimeError: the analyser broke" in report[0]["message"]


# --------------------------------------------------------------------------- --explain


def test_explain_shows_shapes_condition_chain_witness_and_fix():
    output = run("--explain", EXAMPLE).stdout
    report = json.loads(run("--format", "json", EXAMPLE).stdout)
    first = next(item for item in report if item["code"] == "KSL102")
    block = output.split("\n\n")[0]
    args = first["witness"]["args"]
    shape = ", ".join(str(d) for d in args["x"]["shape"][1:])
    assert f"block(x=keras.Input(shape=({shape})), filters={args['filters']}" in block
    assert "conv_shortcut=False" in block
    assert "`shortcut`  channels: channels(x)" in block
    assert "filters*2" in block
    assert "Conv2D(filters * 2, 1, strides=strides)(x)" in block  # the user's names and stride


def test_explain_names_the_call_chain_with_lines():
    path = REPO_ROOT / "fixtures" / "concat_pool_branch_mismatch.py"
    if (11, "KSL104") not in expected_findings(path):
        pytest.skip("fixture changed")
    output = run("--explain", path).stdout
    assert "build_model() -> reduction_block() called at line 17" in output
    assert 'padding="same"' in output


EXPLAINED = [
    ("seed_resnext_block.py", "KSL102"),
    ("resnet_bottleneck_wrong_projection.py", "KSL101"),
    ("stride_one_branch.py", "KSL103"),
    ("conv3d_temporal_stride.py", "KSL103"),
    ("tcn_valid_padding.py", "KSL103"),
    ("concat_pool_branch_mismatch.py", "KSL104"),
    ("densenet_axis_bug.py", "KSL104"),
    ("dense_residual_units.py", "KSL102"),
    ("operator_add_residual.py", "KSL102"),
    ("shortcut_single_channel.py", "KSL105"),
]


@pytest.mark.parametrize("name, code", EXPLAINED)
def test_suggested_fix_satisfies_the_analyser_and_keras(tmp_path, name, code):
    source = REPO_ROOT / "fixtures" / name
    if not source.exists() or code not in {c for _, c in expected_findings(source)}:
        pytest.skip(f"{name} no longer expects {code}")
    text = source.read_text(encoding="utf-8")
    findings, _ = analyse_text(text, Options(), str(source))
    finding = next(f for f in findings if f.code == code)
    suggestion = plan(text, [finding], Options(), str(source))[0]
    assert suggestion is not None and suggestion.edits, suggestion
    fixed = write(tmp_path, name, apply_edits(text, suggestion.edits))
    after = json.loads(run("--format", "json", fixed, cwd=tmp_path).stdout)
    assert not [item for item in after if item["code"] == code], after
    if code != "KSL105":  # KSL105 witnesses build anyway; the others must now build
        outcome = build_from_witness(fixed, finding.witness.to_json())
        assert outcome.error is None, repr(outcome.error)


def test_every_code_has_a_level_and_a_page():
    for code in CODES.values():
        assert code.level in ("error", "warning", "note")
        page = code.help_uri.split("/blob/main/", 1)[1]
        assert page == f"docs/rules/{code.code}.md" and (REPO_ROOT / page).is_file(), code.help_uri
