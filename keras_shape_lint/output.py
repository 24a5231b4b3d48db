"""Report formats: text, JSON, SARIF 2.1.0 and GitHub Actions workflow commands.

Every formatter takes the same input, a list of :class:`FileReport` (one per
checked file, in order), and returns the text to print.  A notebook's findings
are placed by cell: ``model.ipynb:cell_3:12:5`` in text, ``cell`` and the line in
that cell in JSON and SARIF (whose region is the line of the ``.ipynb`` file that
holds the source line, where it can be found).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

from . import __version__
from .findings import CODES, Finding

TOOL_NAME = "keras-shape-lint"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "kerasShapeLint/v1"


@dataclass
class FileReport:
    """One checked file: the path as shown, its source lines, and what was found in it."""

    path: str
    lines: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: extra text shown under each finding in text output (``--explain``), keyed by finding index
    explanations: dict[int, str] = field(default_factory=dict)
    #: for a notebook, where each line of its module text came from (a ``notebook.Cells``)
    cells: object | None = None

    def source_line(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""

    def place(self, line: int) -> str:
        """``line``, or ``cell_N:line`` in a notebook."""
        if self.cells is None:
            return str(line)
        cell, in_cell = self.cells.locate(line)
        return f"cell_{cell}:{in_cell}"

    def message(self, finding: Finding) -> str:
        """The finding's message; in a notebook, the call chain's lines are given by cell."""
        if self.cells is None or not finding.call_chain or "chain" not in finding.fields:
            return finding.message
        entry = finding.witness.entry if finding.witness is not None else None
        written = _chain_text(entry, finding.call_chain, lambda line: f"line {line}")
        chain = finding.fields["chain"]
        if not chain.startswith(written):  # not the form this knows: leave the message as it is
            return finding.message
        placed = _chain_text(entry, finding.call_chain, lambda line: self.place(line).replace(":", " line "))
        return replace(finding, fields={**finding.fields, "chain": placed + chain[len(written):]}).message


def _chain_text(entry, chain, where) -> str:
    """The call chain as a finding's message shows it, each place in this file written by ``where``."""
    if not chain:
        return ""
    steps = " -> ".join(
        f"{site.function}() at {site.file + ' line ' + str(site.line) if site.file else where(site.line)}"
        for site in chain)
    return f" (called {entry + '() -> ' if entry else ''}{steps})"


# --------------------------------------------------------------------------- text and JSON


def text_line(path: str, finding: Finding, report: FileReport | None = None) -> str:
    if report is None:
        return f"{path}:{finding.line}:{finding.col + 1}: {finding.code} {finding.message}"
    return f"{path}:{report.place(finding.line)}:{finding.col + 1}: {finding.code} {report.message(finding)}"


def format_text(reports: list[FileReport]) -> str:
    out = []
    for report in reports:
        for index, finding in enumerate(report.findings):
            out.append(text_line(report.path, finding, report))
            explanation = report.explanations.get(index)
            if explanation:
                out.append(explanation.rstrip("\n"))
                out.append("")
    return "\n".join(out) + ("\n" if out else "")


def format_json(reports: list[FileReport]) -> str:
    """A JSON list, one object per finding: path, code, line, column, message,
    path_condition, call_chain, witness (the oracle tests read exactly this)."""
    items = [json_item(report, finding) for report in reports for finding in report.findings]
    return json.dumps(items, indent=2) + "\n"


def json_item(report: FileReport, finding: Finding) -> dict:
    """One finding as JSON; in a notebook ``line`` counts within ``cell`` (code cells from 1)."""
    item = {"path": report.path, **finding.to_json()}
    if report.cells is not None:
        cell, line = report.cells.locate(finding.line)
        item = {"path": report.path, "cell": cell, **item, "line": line}
        item["message"] = report.message(finding)
        for site in item["call_chain"]:
            if not site.get("file"):
                site["cell"], site["line"] = report.cells.locate(site["line"])
    return item


# --------------------------------------------------------------------------- GitHub Actions


def escape_data(text: str) -> str:
    """Escape a workflow command's message (GitHub's ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (GitHub's ``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


_GITHUB_COMMAND = {"error": "error", "warning": "warning", "note": "notice"}


def format_github(reports: list[FileReport]) -> str:
    """``::error file=PATH,line=L,col=C,title=KSLnnn::message`` per finding."""
    out = []
    for report in reports:
        path = report.path if report.path == "-" else Path(report.path).as_posix()
        for finding in report.findings:
            command = _GITHUB_COMMAND.get(CODES[finding.code].level, "error")
            properties = ",".join([
                f"file={escape_property(path)}",
                f"line={finding.line}",
                f"col={finding.col + 1}",
                f"title={escape_property(finding.code)}",
            ])
            out.append(f"::{command} {properties}::{escape_data(finding.message)}")
    return "\n".join(out) + ("\n" if out else "")


# --------------------------------------------------------------------------- SARIF


def sarif_uri(path: str, root: Path) -> tuple[str, str | None]:
    """(uri, uriBaseId): relative to ``root`` under %SRCROOT% when inside it, else absolute."""
    if path == "-":
        return "stdin", None
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(Path(os.path.abspath(root)))
    except ValueError:
        return absolute.as_uri(), None
    return quote(relative.as_posix(), safe="/"), SRCROOT


def fingerprint(code: str, relative_path: str, source_line: str, occurrence: int) -> str:
    """Stable across edits elsewhere in the file: no line number, only what the line says."""
    text = "\0".join((code, relative_path, source_line.strip(), str(occurrence)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def sarif_rules() -> list[dict]:
    rules = []
    for code in CODES.values():
        rules.append({
            "id": code.code,
            "name": code.name or code.code,
            "shortDescription": {"text": code.title},
            "fullDescription": {"text": code.description or code.title},
            "helpUri": code.help_uri,
            "help": {"text": f"{code.description or code.title} See {code.help_uri}."},
            "defaultConfiguration": {"enabled": code.default_on, "level": code.level},
            "properties": {"tags": ["keras", "shapes"] if code.code.startswith("KSL1") else ["keras-shape-lint"]},
        })
    return rules


def _region(report: FileReport, line: int, column: int | None = None) -> tuple:
    """(line, column) of a module line in the file itself: in a notebook, the line of the
    ``.ipynb`` file that holds it (None where not found), and no column."""
    if report.cells is None:
        return line, column
    return report.cells.raw_lines.get(line), None


def _location(uri: str, base: str | None, line: int | None, column: int | None = None, message: str | None = None,
              location_id: int | None = None) -> dict:
    artifact = {"uri": uri}
    if base is not None:
        artifact["uriBaseId"] = base
    physical: dict = {"artifactLocation": artifact}
    if line is not None:
        physical["region"] = {"startLine": max(1, line)}
        if column is not None:
            physical["region"]["startColumn"] = max(1, column)
    location: dict = {"physicalLocation": physical}
    if location_id is not None:
        location["id"] = location_id
    if message:
        location["message"] = {"text": message}
    return location


def sarif_log(reports: list[FileReport], root: Path, notifications=(), successful: bool = True) -> dict:
    """The SARIF 2.1.0 log for these reports, paths relative to ``root`` (%SRCROOT%)."""
    rule_index = {code: i for i, code in enumerate(CODES)}
    results = []
    for report in reports:
        uri, base = sarif_uri(report.path, root)
        occurrences: dict[tuple[str, str], int] = {}
        for finding in sorted(report.findings, key=lambda f: (f.line, f.col, f.code)):
            source = report.source_line(finding.line)
            key = (finding.code, source.strip())
            occurrence = occurrences.get(key, 0)
            occurrences[key] = occurrence + 1
            rule = CODES[finding.code]
            result = {
                "ruleId": finding.code,
                "ruleIndex": rule_index[finding.code],
                "level": rule.level,
                "message": {"text": report.message(finding)},
                "locations": [_location(uri, base, *_region(report, finding.line, finding.col + 1))],
                "partialFingerprints": {FINGERPRINT_KEY: fingerprint(finding.code, uri, source, occurrence)},
                "properties": _result_properties(finding, report),
            }
            related = [  # the calls that lead to the merge, where they are in this file
                _location(uri, base, *_region(report, site.line), message=f"calls {site.function}()", location_id=i)
                for i, site in enumerate(finding.call_chain) if not getattr(site, "file", "")
            ]
            if related:
                result["relatedLocations"] = related
            results.append(result)
    invocation = {"executionSuccessful": successful}
    if notifications:
        invocation["toolExecutionNotifications"] = [
            {"level": level, "message": {"text": text}} for level, text in notifications
        ]
    run = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": __version__,
                "semanticVersion": __version__,
                "rules": sarif_rules(),
            }
        },
        "originalUriBaseIds": {SRCROOT: {"uri": Path(os.path.abspath(root)).as_uri().rstrip("/") + "/"}},
        "invocations": [invocation],
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _result_properties(finding: Finding, report: FileReport | None = None) -> dict:
    plain = json_item(report, finding) if report is not None else finding.to_json()
    properties: dict = {
        "pathCondition": plain["path_condition"],
        "callChain": plain["call_chain"],
        "witness": plain["witness"],
    }
    if "cell" in plain:  # a notebook: the cell (code cells from 1) and the line in it
        properties["cell"], properties["cellLine"] = plain["cell"], plain["line"]
    for key in ("merge", "left", "right", "axis"):
        if key in finding.fields:
            properties[key] = finding.fields[key]
    return properties


def format_sarif(reports: list[FileReport], root: Path, notifications=(), successful: bool = True) -> str:
    return json.dumps(sarif_log(reports, root, notifications, successful), indent=2) + "\n"
