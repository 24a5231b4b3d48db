"""Each fixture's inline expectations against what the analyser reports.

``x = Add()([x, shortcut])  # KSL102`` in a fixture means the analyser must report
KSL102 on that line; every other line must stay silent.  Exact match: nothing
missing, nothing extra.
"""

from __future__ import annotations

import pytest

from oracle import describe, display_path, expected_findings, fixture_paths, reported

FIXTURES = fixture_paths()


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_findings_match_inline_expectations(path, analyser_findings):
    findings = analyser_findings[display_path(path)]
    expected = expected_findings(path)
    actual = reported(findings)
    missing = sorted(expected - actual)
    extra = sorted(actual - expected)
    assert not missing and not extra, (
        f"{display_path(path)}\n"
        f"missing (line, code): {missing}\n"
        f"extra (line, code): {extra}\n"
        f"reported:\n{describe(findings) or '  (nothing)'}"
    )
