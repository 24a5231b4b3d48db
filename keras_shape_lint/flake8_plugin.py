"""flake8 adapter: options in, findings out as ``(line, col, "KSLnnn message", type)``.

The checker reads the source from ``lines`` (editors lint unsaved buffers
through stdin) and never raises into flake8.  The optional codes, KSL9xx
(analysis incomplete) and the KSL2xx prefix, are off through flake8's own
default ignore list, as flake8-bugbear's B9 codes are: ``--extend-select KSL9``
turns them on (``--ksl-report-incomplete`` is kept as a spelling of it), and an
explicit ``--select KSL`` selects them with the rest.  Option values are checked
whether they come from the command line or from setup.cfg, tox.ini or .flake8.
Results are kept between runs (cache.py) unless ``--ksl-no-cache`` is given; the
text flake8 hands over is what is hashed, so an editor's unsaved buffer is cached
by its content.
"""

from __future__ import annotations

import argparse

from . import __version__
from .options import DATA_FORMATS, Options, check_cache_dir, check_data_format, check_max_paths, check_timeout
from .prefilter import mentions_keras

#: code prefixes flake8 leaves out unless selected explicitly
OPTIONAL_CODES = ("KSL9", "KSL2")


def _argument(check, option: str):
    """An argparse ``type`` that applies ``check`` and words its refusal for ``option``."""
    def convert(value):
        try:
            return check(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = option.lstrip("-").replace("-", "_")
    return convert


class KerasShapeChecker:
    name = "keras-shape-lint"
    version = __version__

    options = Options()
    report_incomplete = False
    strict = False
    cache = None  # a cache.ResultCache, unless --ksl-no-cache (or a bare namespace without the option)

    def __init__(self, tree, lines=None, filename="(none)"):
        # ``tree`` (the standard library's syntax tree) is what makes flake8 treat
        # this as a tree plugin; the analysis parses ``lines`` with libcst too.
        self.tree = tree
        self.lines = lines or []
        self.filename = filename

    @classmethod
    def add_options(cls, parser) -> None:
        parser.extend_default_ignore(list(OPTIONAL_CODES))
        # the ``type`` checks run on values from configuration files too (flake8 hands them to
        # argparse as strings), where argparse's ``choices`` would not be applied
        parser.add_option(
            "--ksl-data-format", default="channels_last", parse_from_config=True, metavar="FORMAT",
            type=_argument(check_data_format, "--ksl-data-format"), choices=DATA_FORMATS,
            help="image data format assumed where code asks the Keras backend: channels_last or "
                 "channels_first (default: %(default)s)",
        )
        parser.add_option(
            "--ksl-max-paths", type=_argument(check_max_paths, "--ksl-max-paths"), default=Options.max_paths,
            parse_from_config=True, metavar="N",
            help="paths kept apart per function; those past it are joined into one (default: %(default)s)",
        )
        parser.add_option(
            "--ksl-timeout", type=_argument(check_timeout, "--ksl-timeout"), default=Options.time_budget_s,
            parse_from_config=True, metavar="SECONDS",
            help="seconds of analysis per file before it stops (default: %(default)s)",
        )
        parser.add_option(
            "--ksl-no-cache", action="store_true", default=False, parse_from_config=True,
            help="neither read nor keep keras-shape-lint's results between runs",
        )
        parser.add_option(
            "--ksl-cache-dir", default=None, parse_from_config=True, normalize_paths=True, metavar="DIR",
            help="keep keras-shape-lint's results in DIR (default: .keras_shape_lint_cache in the project root)",
        )
        parser.add_option(
            "--ksl-report-incomplete", action="store_true", default=False, parse_from_config=True,
            help="report files whose analysis stopped early (KSL901) or failed (KSL902); "
                 "the same as --extend-select KSL9",
        )

    @classmethod
    def parse_options(cls, manager_or_options, options=None, filenames=None) -> None:
        """flake8 calls this with (option manager, options, file names); a bare options
        namespace is accepted too.  A bad value stops flake8 with a usage error."""
        manager = manager_or_options if options is not None else None
        options = options if options is not None else manager_or_options
        try:
            data_format = check_data_format(options.ksl_data_format)
            max_paths = check_max_paths(options.ksl_max_paths)
            timeout = check_timeout(options.ksl_timeout)
            cache_dir = getattr(options, "ksl_cache_dir", None)
            cache_dir = check_cache_dir(cache_dir) if cache_dir is not None else None
        except ValueError as error:
            which = next(name for name, check, value in (
                ("--ksl-data-format", check_data_format, options.ksl_data_format),
                ("--ksl-max-paths", check_max_paths, options.ksl_max_paths),
                ("--ksl-timeout", check_timeout, options.ksl_timeout),
                ("--ksl-cache-dir", _optional(check_cache_dir), getattr(options, "ksl_cache_dir", None)))
                if not _valid(check, value))
            message = f"argument {which}: {error}"
            parser = getattr(manager, "parser", None)
            if parser is not None:
                parser.error(message)  # exits with status 2, as argparse does for the command line
            raise ValueError(message) from None
        cls.options = Options(data_format=data_format, max_paths=max_paths, time_budget_s=timeout)
        cls.report_incomplete = bool(options.ksl_report_incomplete)
        cls.cache = None
        if hasattr(options, "ksl_no_cache") and not options.ksl_no_cache:
            from .cache import ResultCache

            cls.cache = ResultCache(cache_dir)  # the project root is found from the current folder
        # strict mode (KSL2xx) costs positions for every undecided merge: only when asked for
        asked = [*(getattr(options, "select", None) or []), *(getattr(options, "extend_select", None) or [])]
        cls.strict = any("KSL201".startswith(code) or "KSL202".startswith(code) for code in asked if code)
        if cls.report_incomplete and hasattr(options, "extend_select"):
            options.extend_select = [*(options.extend_select or []), "KSL9"]

    def run(self):
        text = "".join(self.lines)
        if not mentions_keras(text):
            return  # the analyser (libcst, z3) is imported only for files that name Keras
        try:
            from . import cache as results

            path = self.filename if self.filename not in ("stdin", "-", "(none)") else None
            findings, analysis = results.analyse(text, self.options, path, strict=self.strict, store=self.cache,
                                                 tree=self.tree)
        except RecursionError:
            yield 1, 0, "KSL901 keras-shape-lint stopped early in module: nesting too deep", type(self)
            return
        except Exception as error:  # never abort the flake8 run
            yield 1, 0, f"KSL902 keras-shape-lint could not analyse module: {type(error).__name__}", type(self)
            return
        if analysis is not None and self.strict:
            findings = findings + analysis.strict_findings()
        for finding in findings:
            yield finding.line, finding.col, f"{finding.code} {finding.message}", type(self)
        # KSL9xx always go to flake8, which leaves them out unless they are selected
        if analysis is not None:
            if analysis.budget_notes:
                reason = ", ".join(sorted(analysis.budget_notes))
                yield 1, 0, f"KSL901 keras-shape-lint stopped early in module: {reason}", type(self)
            if analysis.internal_errors:
                yield 1, 0, f"KSL902 keras-shape-lint could not analyse module: {analysis.internal_errors[0]}", type(self)


def _optional(check):
    return lambda value: value if value is None else check(value)


def _valid(check, value) -> bool:
    try:
        check(value)
    except ValueError:
        return False
    return True
