"""How much of a corpus the analyser decides: merges proven, flagged, undecided and unreached.

    python bench/coverage.py                  # keras-hub's models (keras_hub/src/models)
    python bench/coverage.py keras            # keras.applications
    python bench/coverage.py PATH ... [-j 2] [--timeout S] [--json OUT]

Every file is analysed with its real path (so the modules of its own package that it
imports are read too), in ``-j`` worker processes.  The table gives the merge outcomes,
the *decided share* (proven plus flagged over all merges, unreached included), the files
whose analysis stopped early and why (KSL901's reasons), internal errors (KSL902), every
finding, the reasons undecided and unreached merges give (strict mode's KSL201/KSL202),
the time per file (median, 95th percentile, max) with the slowest files, and the peak
memory of the processes that analysed (``ru_maxrss``: with ``-j 1`` the script's own process).
A benchmark, not a test: the numbers move with the machine's load, because the per-file
time budget does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the analyser of this checkout, not an installed copy of an older one
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nonkeras_corpus import keras_applications, keras_hub_models  # noqa: E402

OUTCOMES = ("merges", "proven", "flagged", "undecided", "unreached")


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def analyse(job):
    path, timeout = job
    from keras_shape_lint.analysis import Options, analyse_text

    started = time.perf_counter()
    text = Path(path).read_text(encoding="utf-8")
    options = Options() if timeout is None else Options(time_budget_s=timeout)
    findings, analysis = analyse_text(text, options, path)
    seconds = time.perf_counter() - started
    if analysis is None:
        return {"path": path, "seconds": seconds, "skipped": True, "peak_mib": _peak_mib()}
    stats = analysis.statistics()
    return {
        "path": path, "seconds": seconds,
        **{key: stats[key] for key in OUTCOMES},
        "budget": sorted(stats["budget"]), "coarser": stats["coarser"], "internal_errors": stats["internal_errors"],
        "undecided_because": stats["undecided_because"], "unreached_because": stats["unreached_because"],
        "findings": [(f.line, f.code, f.message) for f in findings],
        "peak_mib": _peak_mib(),
    }


def corpus(names) -> list[str]:
    if not names or names == ["hub"]:
        return [str(p) for p in keras_hub_models()]
    if names == ["keras"]:
        return [str(p) for p in keras_applications()]
    files = []
    for name in names:
        path = Path(name)
        files.extend(str(p) for p in (sorted(path.rglob("*.py")) if path.is_dir() else [path]))
    return files


def _reason(text: str) -> str:
    """A reason with its line numbers taken out, so that reasons of one kind add up."""
    import re

    return re.sub(r"\(line \d+( of [\w.]+)?\)", "(line …)", text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="files or folders, 'hub' (default) or 'keras'")
    parser.add_argument("-j", "--jobs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=None, help="seconds per file (default: the analyser's)")
    parser.add_argument("--json", help="write every number to this file ('-' for stdout)")
    parser.add_argument("--top", type=int, default=12, help="reasons listed per table")
    args = parser.parse_args(argv)
    files = corpus(args.paths)
    if not files:
        print("no files: is keras-hub installed (pip install --no-deps keras-hub==0.32.0)?", file=sys.stderr)
        return 2
    started = time.perf_counter()
    jobs = [(path, args.timeout) for path in files]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(analyse, jobs, chunksize=4))
    else:
        rows = [analyse(job) for job in jobs]
    wall = time.perf_counter() - started
    peak = max((r["peak_mib"] for r in rows), default=0.0)
    rows = [r for r in rows if not r.get("skipped")]
    totals = Counter()
    for row in rows:
        for key in OUTCOMES:
            totals[key] += row[key]
    stopped = [r for r in rows if r["budget"]]
    # finished, but only on a second try with paths joined (its first try ran out)
    coarser = [r for r in rows if r.get("coarser") and not r["budget"]]
    budgets = Counter(b.split(": ")[-1] for r in stopped for b in r["budget"])
    internal = [(r["path"], e) for r in rows for e in r["internal_errors"]]
    findings = [(r["path"], line, code, message) for r in rows for line, code, message in r["findings"]]
    undecided = Counter()
    unreached = Counter()
    for row in rows:
        for reason, count in row["undecided_because"].items():
            undecided[_reason(reason)] += count
        for reason, count in row["unreached_because"].items():
            unreached[_reason(reason)] += count
    times = sorted(r["seconds"] for r in rows)
    decided = (totals["proven"] + totals["flagged"]) / totals["merges"] if totals["merges"] else 1.0
    summary = {
        "files": len(files), "analysed": len(rows), "wall_s": wall, "jobs": args.jobs, **totals,
        "decided_share": decided, "stopped_early": len(stopped), "stopped_share": len(stopped) / max(len(rows), 1),
        "finished_coarser": len(coarser),
        "budget_reasons": dict(budgets.most_common()), "internal_errors": len(internal),
        "findings": len(findings),
        "seconds_median": statistics.median(times) if times else 0.0,
        "seconds_p95": times[int(0.95 * (len(times) - 1))] if times else 0.0,
        "seconds_max": times[-1] if times else 0.0,
        "peak_mib": peak,
    }
    print(f"{len(rows)} files analysed of {len(files)} in {wall:.1f} s ({args.jobs} process{'es' if args.jobs > 1 else ''})")
    print("merges {merges}: proven {proven}, flagged {flagged}, undecided {undecided}, unreached {unreached}".format(**totals))
    print(f"decided (proven + flagged): {decided:.1%}")
    print(f"stopped early: {len(stopped)} files ({summary['stopped_share']:.1%}): "
          + ", ".join(f"{reason} {count}" for reason, count in budgets.most_common()))
    print(f"finished on a second try, paths joined: {len(coarser)} files"
          + "".join(f"\n  {r['path']} ({', '.join(r['coarser'])})" for r in coarser[: args.top]))
    print(f"internal errors (KSL902): {len(internal)}")
    for path, error in internal[: args.top]:
        print(f"  {path}: {error}")
    print(f"time per file: median {summary['seconds_median']:.2f} s, p95 {summary['seconds_p95']:.2f} s, "
          f"max {summary['seconds_max']:.2f} s; slowest:")
    for row in sorted(rows, key=lambda r: -r["seconds"])[:5]:
        print(f"  {row['seconds']:6.2f} s  {row['path']}" + (f"  ({', '.join(row['budget'])})" if row["budget"] else ""))
    print(f"peak memory: {peak:.0f} MiB per process")
    print(f"findings: {len(findings)}")
    for path, line, code, message in findings:
        print(f"  {path}:{line}: {code} {message[:160]}")
    print("undecided because:")
    for reason, count in undecided.most_common(args.top):
        print(f"  {count:4d}  {reason[:150]}")
    print("unreached because:")
    for reason, count in unreached.most_common(args.top):
        print(f"  {count:4d}  {reason[:150]}")
    if args.json:
        data = {"summary": summary, "rows": rows}
        text = json.dumps(data, indent=1, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
