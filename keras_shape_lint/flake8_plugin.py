"""flake8 adapter: options in, findings out as ``(line, col, "KSLnnn message", type)``.

The checker reads the source from ``lines`` (editors lint unsaved buffers
through stdin), never raises into flake8, and reports incomplete analyses
(KSL9xx) only when ``--ksl-report-incomplete`` asks for them.
"""

from __future__ import annotations

from . import __version__
from .options import Options
from .prefilter import mentions_keras


class KerasShapeChecker:
    name = "keras-shape-lint"
    version = __version__

    options = Options()
    report_incomplete = False
    strict = False

    def __init__(self, tree, lines=None, filename="(none)"):
        # ``tree`` (the standard library's syntax tree) is what makes flake8 treat
        # this as a tree plugin; the analysis parses ``lines`` with libcst too.
        self.tree = tree
        self.lines = lines or []
        self.filename = filename

    @classmethod
    def add_options(cls, parser) -> None:
        parser.add_option(
            "--ksl-data-format", default="channels_last", parse_from_config=True,
            choices=("channels_last", "channels_first"),
            help="image data format assumed where code asks the Keras backend (default: %(default)s)",
        )
        parser.add_option(
            "--ksl-max-paths", type=int, default=Options.max_paths, parse_from_config=True,
            help="paths explored per function before the analysis stops (default: %(default)s)",
        )
        parser.add_option(
            "--ksl-timeout", type=float, default=Options.time_budget_s, parse_from_config=True,
            help="seconds of analysis per file before it stops (default: %(default)s)",
        )
        parser.add_option(
            "--ksl-report-incomplete", action="store_true", default=False, parse_from_config=True,
            help="report files whose analysis stopped early (KSL901) or failed (KSL902)",
        )

    @classmethod
    def parse_options(cls, options) -> None:
        cls.options = Options(
            data_format=options.ksl_data_format,
            max_paths=max(1, options.ksl_max_paths),
            time_budget_s=max(0.01, options.ksl_timeout),
        )
        cls.report_incomplete = bool(options.ksl_report_incomplete)
        # strict mode (KSL2xx) costs positions for every undecided merge: only when asked for
        asked = [*(getattr(options, "select", None) or []), *(getattr(options, "extend_select", None) or [])]
        cls.strict = any("KSL201".startswith(code) or "KSL202".startswith(code) for code in asked if code)

    def run(self):
        text = "".join(self.lines)
        if not mentions_keras(text):
            return  # the analyser (libcst, z3) is imported only for files that name Keras
        try:
            from . import analysis as engine

            path = self.filename if self.filename not in ("stdin", "-", "(none)") else None
            findings, analysis = engine.analyse_text(text, self.options, path, self.tree)
        except RecursionError:
            findings, analysis = [], None
            if self.report_incomplete:
                yield 1, 0, "KSL901 keras-shape-lint stopped early in module: nesting too deep", type(self)
            return
        except Exception as error:  # never abort the flake8 run
            if self.report_incomplete:
                yield 1, 0, f"KSL902 keras-shape-lint could not analyse module: {type(error).__name__}", type(self)
            return
        if analysis is not None and self.strict:
            findings = findings + analysis.strict_findings()
        for finding in findings:
            yield finding.line, finding.col, f"{finding.code} {finding.message}", type(self)
        if self.report_incomplete and analysis is not None:
            if analysis.budget_notes:
                reason = ", ".join(sorted(analysis.budget_notes))
                yield 1, 0, f"KSL901 keras-shape-lint stopped early in module: {reason}", type(self)
            if analysis.internal_errors:
                yield 1, 0, f"KSL902 keras-shape-lint could not analyse module: {analysis.internal_errors[0]}", type(self)
