"""Command line: ``keras-shape-lint [options] PATH...`` (also ``python -m keras_shape_lint``).

Checks files and folders (recursively; Python files and Jupyter notebooks),
prints findings as text, JSON, SARIF 2.1.0 or GitHub Actions workflow commands,
and exits 0 when nothing was found, 1 when something was, 2 on a usage error, a
file it cannot read (undecodable bytes, a null byte, a syntax error in a file
that names Keras) or an internal error.  Settings come from
``[tool.keras-shape-lint]`` in the nearest pyproject.toml, then from the
command line.  Results are kept between runs (cache.py) unless ``--no-cache``.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from . import cache as results
from . import config as configuration
from .options import Options, check_cache_dir, check_max_paths, check_timeout
from .prefilter import mentions_keras
from .sources import UnreadableSource, read_source, syntax_problem
from .discovery import DiscoveryError, discover
from .findings import CODES, Finding
from .output import FileReport, format_github, format_json, format_sarif, format_text

DEFAULT_SELECT = ("KSL1",)
EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
PROGRESS_THRESHOLD = 20

_CODE_PREFIX = re.compile(r"^[A-Z]{1,3}[0-9]{0,3}$")
# the same comment flake8 honours: ``# noqa`` or ``# noqa: KSL102,KSL103``
_NOQA = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
_NOQA_FILE = re.compile(r"^\s*# flake8[:=]\s*noqa\s*$", re.IGNORECASE | re.MULTILINE)
_NOQA_ANYWHERE = re.compile(r"#\s*(?:flake8[:=]\s*)?noqa", re.IGNORECASE)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-shape-lint",
        description="Find Keras merges (Add, Concatenate, x + y ...) whose input shapes can differ.",
        epilog="Exit status: 0 nothing found, 1 findings, 2 usage or internal error. "
               "Defaults come from [tool.keras-shape-lint] in the nearest pyproject.toml.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or folders to check ('-' reads standard input; default: .)")
    parser.add_argument("--format", choices=configuration.FORMATS, default=None,
                        help="output format (default: text)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of standard output")
    parser.add_argument("--select", metavar="CODES", action="append",
                        help="report only codes starting with these comma-separated prefixes (default: KSL1)")
    parser.add_argument("--extend-select", metavar="CODES", action="append",
                        help="add code prefixes to the selection, e.g. KSL901")
    parser.add_argument("--ignore", metavar="CODES", action="append",
                        help="do not report codes starting with these prefixes")
    parser.add_argument("--exclude", metavar="GLOB", action="append", default=[],
                        help="skip files and folders matching GLOB (name or path); repeatable")
    parser.add_argument("--no-gitignore", action="store_true",
                        help="do not skip what the project's .gitignore ignores")
    parser.add_argument("--data-format", choices=configuration.DATA_FORMATS, default=None,
                        help="Keras image data format assumed where code asks the backend (default: channels_last)")
    parser.add_argument("--max-paths", "--ksl-max-paths", dest="max_paths", type=int, default=None, metavar="N",
                        help=f"paths kept apart per function; those past it are joined into one "
                             f"(default: {Options.max_paths})")
    parser.add_argument("--timeout", "--ksl-timeout", dest="timeout", type=float, default=None, metavar="SECONDS",
                        help=f"seconds of analysis per file (default: {Options.time_budget_s})")
    parser.add_argument("--no-cache", "--ksl-no-cache", dest="no_cache", action="store_true",
                        help="neither read nor keep results between runs (the result cache)")
    parser.add_argument("--cache-dir", "--ksl-cache-dir", dest="cache_dir", metavar="DIR", default=None,
                        help=f"keep results in DIR (default: {results.FOLDER_NAME} in the project root)")
    parser.add_argument("--explain", action="store_true",
                        help="explain each finding: shapes, condition, call chain, witness and a checked fix")
    parser.add_argument("--diff", action="store_true",
                        help="print the checked fixes as a unified diff instead of the report; change nothing")
    parser.add_argument("--fix", action="store_true",
                        help="apply the checked fixes in place, then report what remains")
    parser.add_argument("--stats", action="store_true", help="print per-file merge statistics to stderr")
    parser.add_argument("--stdin-display-name", metavar="NAME", default="-",
                        help="the name to show for standard input")
    parser.add_argument("--disable-noqa", action="store_true", help="report findings even on '# noqa' lines")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    parser.add_argument("--config", metavar="PYPROJECT", help="read settings from this pyproject.toml")
    parser.add_argument("--isolated", action="store_true", help="ignore pyproject.toml settings")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


# --------------------------------------------------------------------------- settings


@dataclass
class Settings:
    select: list[str]
    ignore: list[str]
    exclude: list[str]
    format: str
    data_format: str
    max_paths: int
    timeout: float
    root: Path  # the project root: --exclude patterns are paths from here
    warnings: list[str] = field(default_factory=list)
    repository: Path | None = None  # the git root: .gitignore and SARIF paths (else ``root``)
    cache: results.ResultCache | None = None  # results kept between runs (None: --no-cache)
    stats: bool = False  # --stats: statistics are kept with the results

    def selected(self, code: str) -> bool:
        """flake8's rule: the longest matching prefix decides; a tie goes to --ignore."""
        chosen = max((len(p) for p in self.select if code.startswith(p)), default=-1)
        ignored = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        return chosen >= 0 and chosen > ignored

    @property
    def strict(self) -> bool:
        """Strict mode: report every merge neither proven nor flagged (KSL201, KSL202)."""
        return self.selected("KSL201") or self.selected("KSL202")

    @property
    def report_incomplete(self) -> bool:
        return self.selected("KSL901") or self.selected("KSL902")

    def options(self) -> Options:
        return Options(data_format=self.data_format, max_paths=self.max_paths, time_budget_s=self.timeout)


class UsageError(ValueError):
    pass


def _codes(values) -> list[str]:
    codes = []
    for value in values or ():
        for item in value.split(","):
            item = item.strip().upper()
            if not item:
                continue
            if not _CODE_PREFIX.match(item):
                raise UsageError(f"{item!r} is not a code or code prefix (like KSL1 or KSL102)")
            codes.append(item)
    return codes


def _globs(values) -> list[str]:
    return [item.strip() for value in values or () for item in value.split(",") if item.strip()]


def repository_root(start: Path) -> Path | None:
    """The nearest folder from ``start`` up that holds .git, if any."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def unmatched_prefixes(codes, option: str) -> list[str]:
    """Warnings for code prefixes that select nothing keras-shape-lint reports.  KSL2 (strict
    mode) is reserved: selecting it is not a mistake."""
    known = [*CODES, "KSL2"]
    return [f"{option} {code} matches no keras-shape-lint code (they are {', '.join(CODES)})"
            for code in codes if not any(k.startswith(code) or code.startswith(k) for k in known)]


def resolve_settings(args) -> Settings:
    cwd = Path.cwd()
    try:
        if args.isolated:
            found = configuration.Config()
        else:
            found = configuration.load(cwd, Path(args.config) if args.config else None)
    except configuration.ConfigError as error:
        raise UsageError(str(error)) from error
    select = _codes(args.select) if args.select else _codes(found.select) if found.select is not None \
        else list(DEFAULT_SELECT)
    select += _codes(found.extend_select) + _codes(args.extend_select)
    ignore = _codes(args.ignore) if args.ignore else _codes(found.ignore) if found.ignore is not None else []
    warnings = list(found.warnings)
    for option, given in (("--select", args.select), ("--extend-select", args.extend_select),
                          ("--ignore", args.ignore), ("select", found.select),
                          ("extend-select", found.extend_select), ("ignore", found.ignore)):
        warnings += unmatched_prefixes(_codes(given), option)
    max_paths = args.max_paths if args.max_paths is not None else found.max_paths or Options.max_paths
    timeout = args.timeout if args.timeout is not None else found.timeout or Options.time_budget_s
    for option, check, value in (("--max-paths", check_max_paths, max_paths), ("--timeout", check_timeout, timeout)):
        try:
            check(value)
        except ValueError as error:
            raise UsageError(f"{option} {error}") from None
    root = configuration.project_root(cwd, found.path)
    cache = None
    if not args.no_cache and found.cache is not False:
        folder = args.cache_dir if args.cache_dir is not None else found.cache_dir
        if folder is not None:
            try:
                folder = check_cache_dir(folder)
            except ValueError as error:
                raise UsageError(f"--cache-dir {error}") from None
        cache = results.ResultCache(folder, root=root)
    return Settings(
        select=select,
        ignore=ignore,
        exclude=_globs(found.exclude) + _globs(args.exclude),
        format=args.format or found.format or "text",
        data_format=args.data_format or found.data_format or "channels_last",
        max_paths=max_paths,
        timeout=timeout,
        root=root,
        warnings=warnings,
        repository=repository_root(cwd) or root,
        cache=cache,
        stats=bool(getattr(args, "stats", False)),
    )


# --------------------------------------------------------------------------- one file


@dataclass
class Checked:
    report: FileReport
    analysis: object | None = None
    internal_error: str | None = None
    unreadable: str | None = None  # why Python would refuse the text (``line:column: message``)
    _statistics: dict | None = field(default=None, repr=False)

    @property
    def statistics(self) -> dict | None:
        """The file's merge counts (``--stats``), computed when asked for: they walk the whole
        module again, after its time budget, so a run without ``--stats`` never pays for them."""
        if self._statistics is None and self.analysis is not None:
            self._statistics = self.analysis.statistics()
        return self._statistics


def analyse_text(text: str, options: Options | None = None, path: str | None = None, tree=None):
    """The analyser (analysis.analyse_text), loaded when first needed: a run that the result
    cache answers for every file never imports libcst or z3."""
    from .analysis import analyse_text as analyse

    return analyse(text, options, path, tree)


def check_text(text: str, display: str, settings: Settings, path: str | None = None) -> Checked:
    """Analyse one module's text (read from ``path``, if a file) and keep the selected findings."""
    lines = text.splitlines()
    report = FileReport(display, lines, cells=getattr(text, "cells", None))
    checked = Checked(report)
    found: list[Finding] = []
    try:
        findings, analysis = results.analyse(text, settings.options(), path, strict=settings.strict,
                                             store=settings.cache, statistics=settings.stats,
                                             analyser=analyse_text)
        found.extend(findings)
        if analysis is None and mentions_keras(text):
            checked.unreadable = syntax_problem(text)
            if checked.unreadable is None:
                checked.internal_error = "libcst could not parse the module"
                found.append(Finding.incomplete("KSL902", checked.internal_error))
        if analysis is not None:
            checked.analysis = analysis
            if analysis.internal_errors:
                checked.internal_error = str(analysis.internal_errors[0])
            if settings.strict:
                found.extend(analysis.strict_findings())
            if settings.report_incomplete:
                if analysis.budget_notes:
                    found.append(Finding.incomplete("KSL901", ", ".join(sorted(analysis.budget_notes))))
                if analysis.internal_errors:
                    found.append(Finding.incomplete("KSL902", str(analysis.internal_errors[0])))
    except RecursionError:
        found.append(Finding.incomplete("KSL901", "nesting too deep"))
    except Exception as error:  # noqa: BLE001 -- reported, never a traceback
        checked.internal_error = f"{type(error).__name__}: {error}"
        found.append(Finding.incomplete("KSL902", f"{type(error).__name__}: {error}"))
    report.findings = [f for f in found if settings.selected(f.code)]
    return checked


def noqa_lines(text: str, until: int | None = None) -> dict[int, str]:
    """Line number -> the text searched for ``# noqa``, as flake8 does: the physical line, or all
    the lines of a token that spans several (a triple-quoted string).  Lines after ``until`` are
    not read (a finding near the top of a large file costs only the lines above it)."""
    lines = text.splitlines(keepends=True)
    mapping: dict[int, str] = {}
    first, last = None, None
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in (tokenize.ENDMARKER, tokenize.DEDENT):
                continue
            first = token.start[0] if first is None else min(first, token.start[0])
            last = token.end[0] if last is None else max(last, token.end[0])
            if token.type in (tokenize.NL, tokenize.NEWLINE):
                joined = "".join(lines[first - 1:last])
                for number in range(first, last + 1):
                    mapping[number] = joined
                if until is not None and last >= until:
                    break
                first, last = None, None
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return {i: line for i, line in enumerate(lines, 1)}
    for number, line in enumerate(lines, 1):
        mapping.setdefault(number, line)
    return mapping


def drop_noqa(findings: list[Finding], text: str) -> list[Finding]:
    if not findings or not _NOQA_ANYWHERE.search(text):
        return findings
    if _NOQA_FILE.search(text):
        return []
    mapping = noqa_lines(text, until=max(finding.line for finding in findings))
    kept = []
    for finding in findings:
        match = _NOQA.search(mapping.get(finding.line, ""))
        if match is not None:
            codes_text = match.group("codes")
            if codes_text is None:
                continue
            codes = {c.strip() for c in re.split(r"[,\s]+", codes_text) if c.strip()}
            if finding.code in codes or finding.code.startswith(tuple(codes)):
                continue
        kept.append(finding)
    return kept


# --------------------------------------------------------------------------- the run


class Progress:
    """``[n/N] path`` on a terminal's stderr while many files are checked."""

    def __init__(self, total: int, stream=None):
        self.stream = stream or sys.stderr
        self.total = total
        self.enabled = total > PROGRESS_THRESHOLD and _isatty(self.stream)
        self.width = 0

    def update(self, index: int, path: str) -> None:
        if not self.enabled:
            return
        text = f"[{index}/{self.total}] {path}"
        self.width = max(self.width, len(text))
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def fixed_text(text: str, display: str, path: str, settings: Settings, keep_noqa: bool, diffs: list):
    """The text with the checked fixes for its reported findings applied (None: none applies);
    the unified diff goes to ``diffs`` and a count to standard error."""
    from .fixcheck import fix_text, unified_diff

    def reported(findings, current):
        chosen = [f for f in findings if settings.selected(f.code)]
        return chosen if keep_noqa else drop_noqa(chosen, current)

    try:
        fixed, applied = fix_text(text, reported, settings.options(), None if path == "-" else path,
                                  settings.data_format)
    except Exception as error:  # noqa: BLE001 -- a fix that cannot be made leaves the file as it is
        print(f"keras-shape-lint: no fixes for {display}: {type(error).__name__}: {error}", file=sys.stderr)
        return None
    if not applied:
        return None
    diffs.append(unified_diff(text, fixed, display))
    cleared = sum(len(fix.clears) for fix in applied)
    print(f"keras-shape-lint: {display}: {len(applied)} checked fix{'es' if len(applied) > 1 else ''} "
          f"clear{'s' if len(applied) == 1 else ''} {cleared} finding{'s' if cleared > 1 else ''}", file=sys.stderr)
    return fixed


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = resolve_settings(args)
    except UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"keras-shape-lint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    for warning in settings.warnings:
        print(f"keras-shape-lint: warning: {warning}", file=sys.stderr)
    if args.explain and settings.format != "text":
        print(f"keras-shape-lint: warning: --explain applies to text output, not {settings.format}",
              file=sys.stderr)
    try:
        files = discover(args.paths or ["."], settings.root, settings.exclude,
                         use_gitignore=not args.no_gitignore, gitignore_root=settings.repository).files
    except DiscoveryError as error:
        print(f"keras-shape-lint: error: {error}", file=sys.stderr)
        return EXIT_ERROR

    reports: list[FileReport] = []
    diffs: list[str] = []
    notifications: list[tuple[str, str]] = []
    failed = False
    progress = Progress(len(files))
    totals = {"files": 0, "merges": 0, "proven": 0, "flagged": 0, "undecided": 0}
    for index, path in enumerate(files, 1):
        display = args.stdin_display_name if path == "-" else path
        progress.update(index, display)
        try:
            text = read_source(path, display)
        except OSError as error:
            print(f"keras-shape-lint: cannot read {display}: {error}", file=sys.stderr)
            notifications.append(("error", f"cannot read {display}: {error}"))
            failed = True
            continue
        except UnreadableSource as error:
            print(f"keras-shape-lint: error: {display}:{error}", file=sys.stderr)
            notifications.append(("error", f"{display}:{error}"))
            failed = True
            continue
        checked = check_text(text, display, settings, None if path == "-" else path)
        if checked.unreadable is not None:
            print(f"keras-shape-lint: error: {display}:{checked.unreadable}", file=sys.stderr)
            notifications.append(("error", f"{display}:{checked.unreadable}"))
            failed = True
            continue
        if checked.internal_error is not None:
            print(f"keras-shape-lint: internal error analysing {display}: {checked.internal_error}",
                  file=sys.stderr)
            notifications.append(("error", f"internal error analysing {display}: {checked.internal_error}"))
            failed = True
        report = checked.report
        if not args.disable_noqa:
            report.findings = drop_noqa(report.findings, text)
        # a notebook's cells are never rewritten
        if (args.fix or args.diff) and report.findings and getattr(report, "cells", None) is None:
            fixed = fixed_text(text, display, path, settings, args.disable_noqa, diffs)
            written = False
            if fixed is not None and args.fix and path == "-":
                print("keras-shape-lint: standard input is not fixed in place (--diff shows the fixes)",
                      file=sys.stderr)
            elif fixed is not None and args.fix:
                try:
                    Path(path).write_text(fixed, encoding="utf-8", newline="")
                    written = True
                except OSError as error:
                    print(f"keras-shape-lint: cannot write {display}: {error}", file=sys.stderr)
                    failed = True
            if written:
                text, checked = fixed, check_text(fixed, display, settings, path)
                report = checked.report
                if not args.disable_noqa:
                    report.findings = drop_noqa(report.findings, text)
        if args.explain and settings.format == "text":
            from .explain import explain
            from .fixcheck import plan

            try:
                fixes = plan(text, report.findings, settings.options(), None if path == "-" else path,
                             settings.data_format)
            except Exception:  # noqa: BLE001 -- without fixes, the explanations still stand
                fixes = [None] * len(report.findings)
            for number, finding in enumerate(report.findings):
                try:
                    report.explanations[number] = explain(finding, text, settings.data_format, fixes[number])
                except Exception as error:  # noqa: BLE001 -- an explanation must not cost the report
                    report.explanations[number] = f"    (no explanation: {type(error).__name__}: {error})"
        reports.append(report)
        totals["files"] += 1
        if args.stats:
            stats = checked.statistics or {"merges": 0, "proven": 0, "flagged": 0, "undecided": 0,
                                           "opaque": {}, "budget": {}, "internal_errors": []}
            for key in ("merges", "proven", "flagged", "undecided"):
                totals[key] += stats.get(key, 0)
            progress.close()
            print(json.dumps({"path": display, **stats}), file=sys.stderr)
    progress.close()

    findings_count = sum(len(r.findings) for r in reports)
    if args.stats:
        counts: dict[str, int] = {}
        for report in reports:
            for finding in report.findings:
                counts[finding.code] = counts.get(finding.code, 0) + 1
        print(json.dumps({"total": {**totals, "findings": dict(sorted(counts.items()))}}), file=sys.stderr)

    if settings.format == "json":
        rendered = format_json(reports)
    elif settings.format == "sarif":
        rendered = format_sarif(reports, settings.repository or settings.root, notifications, successful=not failed)
    elif settings.format == "github":
        rendered = format_github(reports)
    else:
        rendered = format_text(reports)
    if args.diff:
        rendered = "".join(diffs)
    if args.output:
        try:
            Path(args.output).write_text(rendered, encoding="utf-8")
        except OSError as error:
            print(f"keras-shape-lint: cannot write {args.output}: {error}", file=sys.stderr)
            return EXIT_ERROR
    else:
        sys.stdout.write(rendered)
        sys.stdout.flush()

    if failed:
        return EXIT_ERROR
    if findings_count and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
