"""The pre-commit hook, run the way pre-commit runs it.

pre-commit reads .pre-commit-hooks.yaml, keeps the staged files whose type
matches ``types`` (for ``python``: ``*.py`` files and scripts with a Python
shebang), and runs ``entry`` (split like a shell would) with ``args`` and the
file names appended, from the repository root, in the environment where the
hook's repository is installed.  Here that environment is this one.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from oracle import REPO_ROOT, expected_findings, fixture_paths

HOOKS_FILE = REPO_ROOT / ".pre-commit-hooks.yaml"


def parse_hooks(text: str) -> list[dict]:
    """The small YAML subset a hooks file uses: a list of flat mappings whose values are
    scalars or ``[a, b]`` flow lists (comments and quotes allowed)."""
    hooks: list[dict] = []
    for raw in text.splitlines():
        line = re.sub(r"\s+#.*$", "", raw) if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        match = re.match(r"^(-\s+|\s+)([A-Za-z_]+):\s*(.*)$", line)
        assert match, f"unexpected line in hooks file: {raw!r}"
        if match.group(1).startswith("-"):
            hooks.append({})
        assert hooks, "a key before the first hook"
        hooks[-1][match.group(2)] = _scalar(match.group(3))
    return hooks


def _scalar(value: str):
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        return [_scalar(item) for item in value[1:-1].split(",") if item.strip()]
    if value in ("true", "false"):
        return value == "true"
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


@pytest.fixture(scope="module")
def hook() -> dict:
    hooks = parse_hooks(HOOKS_FILE.read_text(encoding="utf-8"))
    by_id = {h["id"]: h for h in hooks}
    assert "keras-shape-lint" in by_id
    return by_id["keras-shape-lint"]


def test_hook_definition(hook):
    assert hook["entry"] == "keras-shape-lint"
    assert hook["language"] == "python"
    assert hook["types"] == ["python"]
    assert hook.get("name")


def test_hand_parser_agrees_with_pyyaml():
    yaml = pytest.importorskip("yaml")
    assert parse_hooks(HOOKS_FILE.read_text(encoding="utf-8")) == yaml.safe_load(HOOKS_FILE.read_text())


def _is_python(path: Path) -> bool:
    """identify's ``python`` type, as far as a repository's files need it."""
    if path.suffix in (".py", ".pyi"):
        return True
    try:
        first = path.read_bytes().split(b"\n", 1)[0]
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def run_hook(hook: dict, files, cwd=REPO_ROOT):
    command = shlex.split(hook["entry"]) + list(hook.get("args") or [])
    # pre-commit finds the entry on the PATH of the hook's environment
    executable = Path(sys.executable).parent / command[0]
    command[0] = str(executable) if executable.exists() else (shutil.which(command[0]) or command[0])
    wanted = [str(f) for f in files if _is_python(cwd / f)]
    return subprocess.run(command + wanted, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_hook_fails_on_the_fixtures_and_prints_their_findings(hook):
    staged = [p.relative_to(REPO_ROOT) for p in fixture_paths()]
    staged.append(Path("README.md"))  # not Python: pre-commit would not pass it
    result = run_hook(hook, staged)
    assert result.returncode == 1, result.stderr
    printed = set()
    for line in result.stdout.splitlines():
        match = re.match(r"^(.+?):(\d+):\d+: (KSL\d{3}) ", line)
        assert match, f"unexpected output line: {line!r}"
        printed.add((match.group(1), int(match.group(2)), match.group(3)))
    expected = {(p.relative_to(REPO_ROOT).as_posix(), line, code)
                for p in fixture_paths() for line, code in expected_findings(p)}
    assert printed == expected


def test_hook_passes_on_clean_files(hook, tmp_path):
    (tmp_path / "model.py").write_text(
        "from keras import layers\n\n\n"
        "def block(x, filters):\n"
        "    shortcut = x\n"
        "    if x.shape[-1] != filters:\n"
        "        shortcut = layers.Conv2D(filters, 1)(x)\n"
        "    y = layers.Conv2D(filters, 3, padding='same')(x)\n"
        "    return layers.Add()([y, shortcut])\n"
    )
    (tmp_path / "train").write_text("#!/usr/bin/env python3\nimport keras\n")
    (tmp_path / "notes.md").write_text("keras\n")
    result = run_hook(hook, ["model.py", "train", "notes.md"], cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


def test_hook_honours_the_projects_configuration(hook, tmp_path):
    seed = (REPO_ROOT / "examples" / "resnext_block.py").read_text()
    (tmp_path / "block.py").write_text(seed)
    (tmp_path / "pyproject.toml").write_text('[tool.keras-shape-lint]\nignore = ["KSL1"]\n')
    result = run_hook(hook, ["block.py"], cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
