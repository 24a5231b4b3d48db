"""Command line: ``python -m keras_shape_lint [--format text|json] FILE...``."""

from __future__ import annotations

import argparse
import json
import sys

from .analysis import Options, analyse_text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-shape-lint",
        description="Find Keras merges (Add, Concatenate, x + y ...) whose input shapes can differ.",
    )
    parser.add_argument("paths", nargs="+", help="Python files to check ('-' reads standard input)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--data-format", choices=("channels_last", "channels_first"), default="channels_last",
                        help="Keras image data format assumed where code asks the backend (default: channels_last)")
    parser.add_argument("--stats", action="store_true", help="print per-file merge statistics to stderr")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    options = Options(data_format=args.data_format)
    report = []
    for path in args.paths:
        try:
            text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
        except OSError as error:
            print(f"keras-shape-lint: cannot read {path}: {error}", file=sys.stderr)
            return 2
        findings, analysis = analyse_text(text, options)
        for finding in findings:
            report.append((path, finding))
        if args.stats and analysis is not None:
            print(json.dumps({"path": path, **analysis.statistics()}), file=sys.stderr)
    if args.format == "json":
        print(json.dumps([{"path": path, **finding.to_json()} for path, finding in report], indent=2))
    else:
        for path, finding in report:
            print(f"{path}:{finding.line}:{finding.col + 1}: {finding.code} {finding.message}")
    return 1 if report else 0
