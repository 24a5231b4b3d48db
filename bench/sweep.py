"""Sweep keras-shape-lint over the installed site-packages (keras, tensorflow, numpy ...).

    python bench/sweep.py                    # every .py file (several minutes)
    python bench/sweep.py --every 50         # a deterministic sample: every 50th file
    python bench/sweep.py --json out.json    # also dump per-file numbers

For each file it calls ``analyse_text`` in process (the text is read, never imported) and
counts: files, files past the Keras pre-filter, files with findings, files with KSL901
(a budget was hit) or KSL902 (internal error), exceptions that escaped ``analyse_text``,
and time per file (median, p95, max, the slowest files).  A file that takes longer than
``--limit`` seconds is listed as over budget.  Exit status 1 if any exception escaped or
any file went over the limit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from nonkeras_corpus import site_packages, site_packages_sources  # noqa: E402


def sweep(files, options=None, limit=None, progress=None):
    from keras_shape_lint.analysis import analyse_text

    rows = []
    for index, path in enumerate(files):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        start = time.perf_counter()
        row = {"path": str(path), "lines": text.count("\n") + 1}
        try:
            findings, analysis = analyse_text(text, options, str(path))
        except BaseException as error:  # noqa: BLE001 -- this is what the sweep looks for
            if isinstance(error, KeyboardInterrupt):
                raise
            row["exception"] = f"{type(error).__name__}: {error}"[:300]
            row["traceback"] = traceback.format_exc()[-3000:]
            findings, analysis = [], None
        row["seconds"] = time.perf_counter() - start
        row["analysed"] = analysis is not None
        row["codes"] = sorted({f.code for f in findings})
        if analysis is not None:
            stats = analysis.statistics()
            row["budget"] = sorted(stats.get("budget") or {})
            row["internal_errors"] = [str(e)[:300] for e in stats.get("internal_errors") or []]
        rows.append(row)
        if progress and (index + 1) % progress == 0:
            print(f"  {index + 1}/{len(files)} files", file=sys.stderr, flush=True)
    return summarise(rows, limit)


def summarise(rows, limit=None):
    times = [r["seconds"] for r in rows] or [0.0]
    ordered = sorted(times)
    codes = Counter(code for r in rows for code in r["codes"])
    return {
        "files": len(rows),
        "analysed": sum(r["analysed"] for r in rows),
        "lines": sum(r["lines"] for r in rows),
        "with_findings": sum(bool(r["codes"]) for r in rows),
        "codes": dict(sorted(codes.items())),
        "ksl901_files": [r["path"] for r in rows if r.get("budget")],
        "ksl902_files": [r["path"] for r in rows if r.get("internal_errors")],
        "exceptions": [{"path": r["path"], "exception": r["exception"], "traceback": r["traceback"]}
                       for r in rows if "exception" in r],
        "over_limit": [(r["path"], r["seconds"]) for r in rows if limit is not None and r["seconds"] > limit],
        "total_s": sum(times),
        "median_s": statistics.median(times),
        "p95_s": ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))],
        "max_s": ordered[-1],
        "slowest": sorted(((r["seconds"], r["path"], r.get("budget", [])) for r in rows), reverse=True)[:10],
        "internal_error_samples": sorted({e for r in rows for e in r.get("internal_errors", [])})[:20],
        "rows": rows,
    }


def render(summary, root):
    def short(path):
        try:
            return str(Path(path).relative_to(root))
        except ValueError:
            return path

    out = [
        f"files {summary['files']}  ({summary['lines']} lines), past the Keras pre-filter {summary['analysed']}",
        f"files with findings {summary['with_findings']}  codes {summary['codes']}",
        f"KSL901 (budget hit) files {len(summary['ksl901_files'])}, KSL902 (internal error) files "
        f"{len(summary['ksl902_files'])}, exceptions escaped analyse_text {len(summary['exceptions'])}",
        f"time per file: median {summary['median_s'] * 1000:.1f} ms, p95 {summary['p95_s'] * 1000:.1f} ms, "
        f"max {summary['max_s'] * 1000:.0f} ms, total {summary['total_s']:.1f} s",
        "slowest:",
    ]
    for seconds, path, budget in summary["slowest"]:
        out.append(f"  {seconds * 1000:8.0f} ms  {short(path)}" + (f"  [{', '.join(budget)}]" if budget else ""))
    if summary["over_limit"]:
        out.append(f"over the per-file limit: {len(summary['over_limit'])}")
        for path, seconds in summary["over_limit"]:
            out.append(f"  {seconds:6.1f} s  {short(path)}")
    for item in summary["exceptions"][:20]:
        out.append(f"EXCEPTION {short(item['path'])}: {item['exception']}")
    for path in summary["ksl902_files"][:20]:
        out.append(f"KSL902 {short(path)}")
    for message in summary["internal_error_samples"]:
        out.append(f"  internal error: {message}")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=1, help="take every N-th file (default 1: all)")
    parser.add_argument("--offset", type=int, default=0, help="start at this index of the sorted list")
    parser.add_argument("--limit", type=float, default=15.0, help="per-file seconds counted as over budget")
    parser.add_argument("--timeout", type=float, default=None, help="--ksl-timeout for the analysis (default: Options)")
    parser.add_argument("--json", metavar="PATH", help="dump the summary and per-file rows as JSON")
    args = parser.parse_args(argv)

    from keras_shape_lint.analysis import Options

    options = Options() if args.timeout is None else Options(time_budget_s=args.timeout)
    files = site_packages_sources(args.every, args.offset)
    print(f"sweeping {len(files)} files under {site_packages()} (every {args.every})", file=sys.stderr)
    began = time.perf_counter()
    summary = sweep(files, options, args.limit, progress=200)
    print(render(summary, site_packages()))
    print(f"wall {time.perf_counter() - began:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str))
    return 1 if summary["exceptions"] or summary["over_limit"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
