"""The result cache: linting unchanged code a second time, against flake8's own checks.

    python bench/cache_cost.py                 # keras.applications and keras-hub's models
    python bench/cache_cost.py keras           # keras.applications only (about a minute)
    python bench/cache_cost.py hub --json out.json

For each corpus, in a fresh cache folder:

* flake8 ``--select E,F,W`` without the plugin (its entry point filtered out, as bench/run.py
  does) and on an empty file: flake8's own checks = the first minus the second;
* the same flake8 with the plugin, ``-j 1``: cold (empty cache), then warm (every result kept),
  then warm with ``-j 2`` beside the plugin-free ``-j 2``; the plugin's cost is the difference
  from the plugin-free run, and the warm cost is given as a multiple of flake8's own checks
  (the aim: at most 0.1x);
* the plugin alone in a fresh process (import, options, ``run()`` on every file's lines), warm:
  its CPU time against flake8's own checks, free of the noise of two whole flake8 runs;
* the command line (``python -m keras_shape_lint``) cold and warm, one process, and
  ``cache.analyse`` in this process, cold then warm, which is the cost without any start-up.

Files whose analysis ran out of time are never kept, so a warm run analyses them again: their
number is printed.  A benchmark, not a test: every number moves with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from nonkeras_corpus import keras_applications, keras_hub_models  # noqa: E402
from run import FLAKE8_WRAPPER, count_lines  # noqa: E402

REPEAT = 5  # runs of each cheap configuration; the fastest is kept (the machine's load only adds)


def timed(argv, env=None, cwd=None):
    """(wall seconds, CPU seconds of the process and its children, result) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result


# The plugin alone in a fresh process, as flake8 drives it: import, options, then run() on each
# file's lines; CPU time from before the import to the last file (flake8's own work left out).
PLUGIN_CHILD = """
import argparse, json, sys, time
start = time.process_time()
from keras_shape_lint.flake8_plugin import KerasShapeChecker
KerasShapeChecker.parse_options(argparse.Namespace(
    ksl_data_format="channels_last", ksl_max_paths=32, ksl_timeout=5.0, ksl_report_incomplete=False,
    ksl_no_cache=False, ksl_cache_dir=sys.argv[1]))
reported = 0
for path in sys.argv[2:]:
    with open(path, encoding="utf-8") as handle:
        lines = handle.readlines()
    reported += len(list(KerasShapeChecker(None, lines, path).run()))
print(json.dumps({"cpu_s": time.process_time() - start, "reported": reported}))
"""


def plugin_alone(paths, cache_dir: Path, cwd: str) -> dict:
    wall, _, result = timed([sys.executable, "-c", PLUGIN_CHILD, str(cache_dir), *map(str, paths)], cwd=cwd)
    if result.returncode != 0:
        raise RuntimeError(f"the plugin failed: {result.stderr[-2000:]}")
    return {"wall_s": wall, **json.loads(result.stdout.strip().splitlines()[-1])}


def fastest(runs) -> dict:
    runs = list(runs)
    return {"wall_s": min(r[0] for r in runs), "cpu_s": min(r[1] for r in runs)}


CORPORA = {"keras": ("keras.applications", keras_applications), "hub": ("keras-hub models", keras_hub_models)}


def flake8(paths, jobs: int, with_plugin: bool, cache_dir: Path | None, cwd: str):
    env = dict(os.environ, KSL_BENCH_DROP="0" if with_plugin else "1")
    argv = [sys.executable, "-c", FLAKE8_WRAPPER, "--isolated", "--select=E,F,W", f"-j{jobs}"]
    if cache_dir is not None:
        argv.append(f"--ksl-cache-dir={cache_dir}")
    wall, cpu, result = timed([*argv, *map(str, paths)], env=env, cwd=cwd)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"flake8 failed ({result.returncode}): {result.stderr[-2000:]}")
    return wall, cpu


def command_line(paths, cache_dir: Path, cwd: str):
    argv = [sys.executable, "-m", "keras_shape_lint", "--isolated", "--format", "json", "--exit-zero",
            "--cache-dir", str(cache_dir), *map(str, paths)]
    wall, cpu, result = timed(argv, cwd=cwd)
    if result.returncode not in (0, 2):  # 2: a file the analyser could not read is reported, not fatal here
        raise RuntimeError(f"keras-shape-lint failed ({result.returncode}): {result.stderr[-2000:]}")
    return wall, cpu


def in_process(paths, cache_dir: Path) -> dict:
    """cache.analyse over the corpus, as the flake8 plugin calls it (default options)."""
    from keras_shape_lint import cache
    from keras_shape_lint.options import Options

    store = cache.ResultCache(cache_dir)
    texts = [(str(p), p.read_text(encoding="utf-8")) for p in paths]
    start, cpu = time.perf_counter(), time.process_time()
    hits = analysed = 0
    for path, text in texts:
        _, result = cache.analyse(text, Options(), path, store=store)
        analysed += result is not None
        hits += bool(result is not None and result.from_cache)
    return {"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu, "hits": hits,
            "results": analysed}


def measure(name: str, paths: list) -> dict:
    log = (lambda *a: print(*a, file=sys.stderr, flush=True))
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        empty = cwd / "empty.py"
        empty.write_text("")
        row = {"corpus": name, "files": len(paths), "lines": count_lines(paths)}
        log(f"{name}: flake8 without the plugin ...")
        row["startup"] = fastest(flake8([empty], 1, False, None, folder) for _ in range(REPEAT))
        row["base_j1"] = fastest(flake8(paths, 1, False, None, folder) for _ in range(REPEAT))
        row["base_j2"] = fastest(flake8(paths, 2, False, None, folder) for _ in range(REPEAT))
        row["checks"] = {unit: row["base_j1"][unit] - row["startup"][unit] for unit in ("wall_s", "cpu_s")}
        flake8_cache = cwd / "flake8-cache"
        log(f"{name}: flake8 with the plugin, cold ...")
        row["cold_j1"] = fastest([flake8(paths, 1, True, flake8_cache, folder)])
        row["entries"] = len(list(flake8_cache.glob("*.json")))
        log(f"{name}: flake8 with the plugin, warm ...")
        row["warm_j1"] = fastest(flake8(paths, 1, True, flake8_cache, folder) for _ in range(REPEAT))
        row["warm_j2"] = fastest(flake8(paths, 2, True, flake8_cache, folder) for _ in range(REPEAT))
        alone = [plugin_alone(paths, flake8_cache, folder) for _ in range(REPEAT)]
        row["plugin_alone_warm"] = min(alone, key=lambda run: run["cpu_s"])
        log(f"{name}: command line and in process ...")
        shared = cwd / "command-line-cache"
        row["cli_cold"] = fastest([command_line(paths, shared, folder)])
        row["cli_warm"] = fastest(command_line(paths, shared, folder) for _ in range(REPEAT))
        own = cwd / "in-process-cache"
        row["in_process_cold"] = in_process(paths, own)
        row["in_process_warm"] = in_process(paths, own)
    for unit in ("wall_s", "cpu_s"):
        checks = row["checks"][unit]
        row[f"plugin_cold_{unit}"] = row["cold_j1"][unit] - row["base_j1"][unit]
        row[f"plugin_warm_j1_{unit}"] = row["warm_j1"][unit] - row["base_j1"][unit]
        row[f"plugin_warm_j2_{unit}"] = row["warm_j2"][unit] - row["base_j2"][unit]
        row[f"warm_j1_over_checks_{unit}"] = row[f"plugin_warm_j1_{unit}"] / checks
        row[f"in_process_warm_over_checks_{unit}"] = row["in_process_warm"][unit] / checks
    row["plugin_alone_over_checks"] = row["plugin_alone_warm"]["cpu_s"] / row["checks"]["cpu_s"]
    return row


def render(rows) -> str:
    out = ["keras-shape-lint result cache: cold and warm runs, seconds as wall / CPU (best of runs)", ""]

    def pair(value: dict) -> str:
        return f"{value['wall_s']:7.2f} / {value['cpu_s']:6.2f}"

    for r in rows:
        warm = r["in_process_warm"]
        out += [
            f"{r['corpus']}: {r['files']} files, {r['lines']} lines; {r['entries']} results kept"
            " (a file without Keras, or one whose analysis ran out of time, keeps none)",
            f"  flake8 --select E,F,W without the plugin  -j1 {pair(r['base_j1'])}   -j2 {pair(r['base_j2'])}",
            f"     start-up {pair(r['startup'])}; flake8's own checks {pair(r['checks'])}",
            f"  with the plugin, cold -j1 {pair(r['cold_j1'])}   plugin cost {r['plugin_cold_wall_s']:6.2f} /"
            f" {r['plugin_cold_cpu_s']:6.2f} = {r['plugin_cold_cpu_s'] / r['checks']['cpu_s']:5.2f}x own checks (CPU)",
            f"  with the plugin, warm -j1 {pair(r['warm_j1'])}   plugin cost {r['plugin_warm_j1_wall_s']:6.2f} /"
            f" {r['plugin_warm_j1_cpu_s']:6.2f} = {r['warm_j1_over_checks_cpu_s']:5.2f}x own checks (CPU)",
            f"  with the plugin, warm -j2 {pair(r['warm_j2'])}   plugin cost {r['plugin_warm_j2_wall_s']:6.2f} /"
            f" {r['plugin_warm_j2_cpu_s']:6.2f} (against flake8 -j2 without it)",
            f"  the plugin alone in a fresh process, warm: {r['plugin_alone_warm']['cpu_s']:.3f} s CPU"
            f" = {r['plugin_alone_over_checks']:.3f}x own checks (import, options, run() on every file)",
            f"  command line, one process: cold {pair(r['cli_cold'])}   warm {pair(r['cli_warm'])}",
            f"  cache.analyse in this process: cold {pair(r['in_process_cold'])}   warm {pair(warm)}"
            f" = {r['in_process_warm_over_checks_cpu_s']:.3f}x own checks (CPU);"
            f" {warm['hits']} of {warm['results']} results read back",
            "",
        ]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", nargs="*", metavar="CORPUS", help="keras, hub (default: both)")
    parser.add_argument("--json", metavar="PATH", help="also write every number as JSON to PATH")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.corpora) - set(CORPORA))
    if unknown:
        parser.error(f"unknown corpus {', '.join(unknown)}: choose from {', '.join(CORPORA)}")
    rows = []
    for key in args.corpora or list(CORPORA):
        name, corpus = CORPORA[key]
        paths = corpus()
        if not paths:
            print(f"{name} is not installed: skipped", file=sys.stderr)
            continue
        rows.append(measure(name, paths))
    print(render(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
