"""How far tensor functions (keras.ops, tf, numpy) block the analysis of a corpus.

    python bench/ops_coverage.py [ROOT] [--json out.json] [--top 40]

ROOT defaults to keras-hub's models in site-packages.  Every ``*.py`` file under it goes
through ``analyse_text`` in this process; the script sums the merge statistics
(merges, proven, flagged, undecided, unreached) and lists the opaque reasons that name a
``keras.ops``, ``tensorflow`` or ``numpy`` function, most frequent first, with how many
opaque results the ops catalogue's own models gave (reasons that are not qualified names).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

_PREFIXES = ("keras.ops.", "tensorflow.", "numpy.", "keras.activations.")


def default_root() -> Path:
    import sysconfig

    return Path(sysconfig.get_paths()["purelib"]) / "keras_hub" / "src" / "models"


def measure(root: Path, progress: int = 0, only=None) -> dict:
    from keras_shape_lint.analysis import analyse_text
    from keras_shape_lint.options import Options

    totals = Counter()
    reasons = Counter()
    errors = Counter()
    blocked = Counter()
    found = []
    per_file = {}
    files = sorted(root.rglob("*.py"))
    if only is not None:
        files = [f for f in files if str(f.relative_to(root)) in only]
    start = time.perf_counter()
    for index, path in enumerate(files):
        text = path.read_text(encoding="utf-8")
        try:
            findings, analysis = analyse_text(text, Options(), str(path))
        except Exception as error:  # noqa: BLE001 -- counted, the sweep goes on
            totals["exceptions"] += 1
            print(f"{path}: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        if analysis is None:
            continue
        stats = analysis.statistics()
        for key in ("merges", "proven", "flagged", "undecided", "unreached"):
            totals[key] += stats[key]
        per_file[str(path.relative_to(root))] = [stats[k] for k in ("merges", "proven", "flagged", "undecided")]
        totals["internal_errors"] += len(stats["internal_errors"])
        errors.update(str(error)[:160] for error in stats["internal_errors"])
        found.extend(f"{path.relative_to(root)}:{f.line}: {f.code} {f.message}" for f in findings)
        reasons.update(stats["opaque"])
        blocked.update(stats.get("undecided_because") or {})
        if progress and (index + 1) % progress == 0:
            print(f"  {index + 1}/{len(files)}", file=sys.stderr, flush=True)
    totals["files"] = len(files)
    totals["seconds"] = round(time.perf_counter() - start)
    named = {r: n for r, n in reasons.items() if r.startswith(_PREFIXES)}
    return {"totals": dict(totals), "function_reasons": dict(Counter(named).most_common()),
            "all_reasons": dict(reasons.most_common()), "internal_errors": dict(errors.most_common()),
            "undecided_because": dict(blocked.most_common()),
            "findings": found, "per_file": per_file}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=None)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--only", type=Path, help="a file listing the paths (relative to ROOT) to analyse")
    args = parser.parse_args(argv)
    only = set(args.only.read_text().split()) if args.only else None
    result = measure(args.root or default_root(), progress=100, only=only)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["totals"]))
    functions = result["function_reasons"]
    print(f"opaque results naming a function: {sum(functions.values())} ({len(functions)} functions)")
    for reason, count in list(functions.items())[: args.top]:
        print(f"  {count:6d}  {reason}")
    print("undecided merges, by what blocked them:")
    for reason, count in list(result["undecided_because"].items())[: args.top]:
        print(f"  {count:6d}  {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
