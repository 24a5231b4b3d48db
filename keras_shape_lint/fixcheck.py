"""Checked fixes: a change is offered only when the analyser agrees that it works.

A candidate from fixes.py is applied to the text, the text is parsed with libcst
(its statements must stay where they were: only the edited lines change) and
linted again in process, with the same options and path.  The candidate is kept
only when the finding it was made for is gone, no finding appears that was not
there before, no merge became undecided or unreached, and the analysis did not
stop early where it had not.  A kept fix lists every finding of the file it
clears, so one change that fixes two findings is offered once.

:func:`plan` gives each finding of a file its checked fix (or the fix of an
earlier finding that clears it too); :func:`fix_text` applies checked fixes one
at a time, linting after each, until none is left to apply.
"""

from __future__ import annotations

import difflib
import functools
from collections import Counter
from dataclasses import dataclass, field
from itertools import islice

import libcst as cst

from .analysis import analyse_text
from .fixes import Edit, candidates
from .mergesource import Source

MAX_CANDIDATES = 8  # candidates checked per finding
MAX_CHECKS = 48  # changes linted per text: past that, findings get advice only
MAX_ROUNDS = 32  # fixes applied to one file by fix_text


@dataclass
class Fix:
    summary: str
    edits: list[Edit]
    finding: object  # the finding it was made for
    clears: list = field(default_factory=list)  # every finding of the file it clears, that one included

    def clears_finding(self, finding) -> bool:
        return key(finding) in {key(f) for f in self.clears}


def key(finding) -> tuple:
    return finding.code, finding.line, finding.col


class Checker:
    """The findings of one text, and whether a change to it clears some without adding any."""

    def __init__(self, text: str, options=None, path: str | None = None):
        self.text = text
        self.options = options
        self.path = path
        self.findings, analysis = analyse_text(text, options, path)
        self.statistics = analysis.statistics() if analysis is not None else None
        self.merge_lines = set(_outcomes(analysis)) if analysis is not None else set()
        self.checks = 0
        self._answers: dict = {}  # the same change, proposed for two findings, is linted once

    def check(self, edits: list[Edit]) -> list | None:
        """The findings this change clears, or None if it clears none safely."""
        if not edits or self.statistics is None:
            return None
        fixed = apply_edits(self.text, edits)
        if fixed not in self._answers:
            self._answers[fixed] = self._check(fixed, edits) if self.checks < MAX_CHECKS else None
        return self._answers[fixed]

    def _check(self, fixed: str, edits: list[Edit]) -> list | None:
        if fixed == self.text or not structure_kept(self.text, fixed, edits):
            return None
        self.checks += 1
        after, analysis = analyse_text(fixed, self.options, self.path)
        if analysis is None:
            return None
        statistics = analysis.statistics()
        before = self.statistics
        timed_out = any("time" in reason for reason in statistics["budget"]) and not any(
            "time" in reason for reason in before["budget"])
        if (timed_out or len(statistics["internal_errors"]) > len(before["internal_errors"])
                or statistics["undecided"] > before["undecided"]
                or statistics["unreached"] > before["unreached"]):
            return None
        lines = line_map(self.text, fixed)
        known = {(f.code, lines.get(f.line)) for f in self.findings}
        now = {(f.code, f.line) for f in after}
        if now - known:
            return None
        cleared = [f for f in self.findings if (f.code, lines.get(f.line)) not in now]
        outcomes = _outcomes(analysis)
        unsized = {_line(analysis, node) for node in analysis.unsized_merges}
        for finding in cleared:  # its merge, where this file holds it, was reached and decided
            if finding.line in self.merge_lines and outcomes.get(lines.get(finding.line)) not in ("proven", "flagged"):
                return None
            if lines.get(finding.line) in unsized:
                return None  # proven only where Keras does not know a size yet: data may still fail
        return cleared


def _line(analysis, node) -> int | None:
    try:
        return analysis.main.start(node).line
    except (KeyError, AttributeError):
        return None


def _outcomes(analysis) -> dict[int, str]:
    """Line of each merge the analysis reached in the file -> its outcome (the worst on that line)."""
    rank = {"proven": 0, "undecided": 1, "flagged": 2}
    found: dict = {}
    for node, outcome in analysis.outcomes.items():
        line = _line(analysis, node)
        if line is None:
            continue
        if rank.get(outcome, 1) >= rank.get(found.get(line), -1):
            found[line] = outcome
    return found


def plan(text: str, findings, options=None, path: str | None = None, data_format: str = "channels_last",
         checker: Checker | None = None) -> list:
    """For each finding (in order), the checked fix that clears it, or None.

    A finding that an earlier finding's fix also clears gets that fix, so no
    two offered fixes do the same work twice."""
    checker = checker or Checker(text, options, path)
    source = Source(text)
    chosen: list[Fix] = []
    out = []
    for finding in findings:
        covering = next((fix for fix in chosen if fix.clears_finding(finding)), None)
        if covering is None:
            covering = _first_checked(checker, source, finding, data_format)
            if covering is not None:
                chosen.append(covering)
        out.append(covering)
    return out


def _first_checked(checker: Checker, source: Source, finding, data_format: str) -> Fix | None:
    for candidate in islice(candidates(finding, source, data_format), MAX_CANDIDATES):
        cleared = checker.check(candidate.edits)
        if cleared is not None and key(finding) in {key(f) for f in cleared}:
            return Fix(candidate.summary, sorted(candidate.edits, key=lambda e: e.start), finding, cleared)
    return None


def fix_text(text: str, select=None, options=None, path: str | None = None,
             data_format: str = "channels_last") -> tuple[str, list[Fix]]:
    """The text with checked fixes applied one at a time, and the fixes.

    ``select(findings, text)`` picks the findings to fix (default: all).  After
    each fix the text is linted again, so every fix is checked against the text
    it is applied to."""
    applied: list[Fix] = []
    for _ in range(MAX_ROUNDS):
        checker = Checker(text, options, path)
        wanted = select(checker.findings, text) if select is not None else checker.findings
        source = Source(text)
        fix = next((f for f in (_first_checked(checker, source, finding, data_format) for finding in wanted)
                    if f is not None), None)
        if fix is None:
            break
        text = apply_edits(text, fix.edits)
        applied.append(fix)
    return text, applied


# --------------------------------------------------------------------------- text


def apply_edits(text: str, edits: list[Edit]) -> str:
    """The source with the edits applied (bottom-up, so line numbers stay valid); each
    new line ends the way the line it replaces did."""
    lines = text.splitlines(keepends=True)
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        replaced = lines[edit.start - 1: edit.end]
        ending = _ending(replaced[-1]) if replaced else "\n"
        last = edit.start - 1 + len(replaced) == len(lines)
        new = [line + ending for line in edit.new]
        if last and replaced and not _ending(replaced[-1]) and new:
            new[-1] = new[-1][: len(new[-1]) - len(ending)]
        lines[edit.start - 1: edit.end] = new
    return "".join(lines)


def _ending(line: str) -> str:
    for ending in ("\r\n", "\n", "\r"):
        if line.endswith(ending):
            return ending
    return ""


def line_map(before: str, after: str) -> dict[int, int]:
    """Line numbers of ``before`` -> ``after``: lines that did not change, and lines changed
    in place (a run of lines replaced by as many)."""
    old, new = before.splitlines(), after.splitlines()
    mapping = {}
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for offset in range(i2 - i1):
                mapping[i1 + offset + 1] = j1 + offset + 1
    return mapping


def unified_diff(before: str, after: str, path: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}"))


def structure_kept(before: str, after: str, edits: list[Edit]) -> bool:
    """Does ``after`` parse (libcst), with every statement outside the edits where it was?

    Each statement is compared with the compound statements around it (``if``,
    ``def``, loops): a statement that an edit moved into another block, or whose
    text changed outside the edited lines, fails the check."""
    try:
        old, new = _statements(before), _statements(after)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return False
    edited = {line.strip() for e in edits for line in before.splitlines()[e.start - 1: e.end]}
    written = {line.strip() for e in edits for line in e.new}
    # a block whose header line was edited is the same block
    old, new = _blocks_renamed(old, edited), _blocks_renamed(new, written)
    removed, added = old - new, new - old
    return all(text in edited for _, text in removed) and all(text in written for _, text in added)


@functools.lru_cache(maxsize=8)
def _statements(text: str) -> Counter:
    """(enclosing compound statements' first lines, first line) of every statement; do not modify."""
    module = cst.parse_module(text)
    found: Counter = Counter()

    def first_line(node) -> str:
        code = module.code_for_node(node.with_changes(leading_lines=()))
        lines = [line.strip() for line in code.splitlines() if line.strip() and not line.strip().startswith("@")]
        return lines[0] if lines else ""

    pending = [(module, ())]
    while pending:
        node, path = pending.pop()
        for child in node.children:
            if isinstance(child, cst.SimpleStatementLine):
                found[(path, first_line(child))] += 1
            elif isinstance(child, cst.BaseCompoundStatement):
                head = first_line(child)
                found[(path, head)] += 1
                pending.append((child, path + (head,)))
            elif not isinstance(child, cst.BaseExpression):
                pending.append((child, path))
    return found


def _blocks_renamed(statements: Counter, changed: set) -> Counter:
    out: Counter = Counter()
    for (path, text), count in statements.items():
        out[(tuple("<edited>" if h in changed else h for h in path), text)] += count
    return out
