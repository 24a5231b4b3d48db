"""Benchmark keras-shape-lint: flake8 cost, analyser cost per file, memory, seed model.

    python bench/run.py                 # readable table (about 2-3 minutes on 2 cores)
    python bench/run.py --json out.json # also dump every number ('-' for stdout)
    python bench/run.py --quick         # fewer repetitions, skips the Keras build

Corpora: the installed Keras's ``keras/src/applications/*.py`` (tests excluded) and the
installed flake8 + pyflakes sources (Python that never names Keras).  Keras is located with
``importlib.util.find_spec`` and never imported by the linting side.

flake8 runs every installed plugin whatever ``--select`` says, so ``--select KSL`` and
``--select E,F,W`` both pay for pycodestyle, pyflakes *and* keras-shape-lint.  The plugin's
true cost is therefore measured as (flake8 with the plugin) minus (the same flake8 with the
plugin's entry point removed), run through a small wrapper that filters
``flake8.plugins.finder.find_plugins``.  Both views are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from nonkeras_corpus import keras_applications, non_keras_sources  # noqa: E402

PLUGIN_PACKAGE = "keras-shape-lint"

# Runs flake8's own main() in this interpreter; with KSL_BENCH_DROP=1 the keras-shape-lint
# entry point is filtered out before flake8 loads plugins.  Both variants go through the same
# wrapper so that the only difference between them is the plugin.  ``-j 2`` forks workers,
# which inherit the patched finder (and the already parsed plugin list).
FLAKE8_WRAPPER = f"""
import os, sys
import flake8.plugins.finder as finder
if os.environ.get("KSL_BENCH_DROP") == "1":
    _find = finder.find_plugins
    def find_plugins(cfg, opts):
        return [p for p in _find(cfg, opts) if p.package != {PLUGIN_PACKAGE!r}]
    finder.find_plugins = find_plugins
from flake8.main.cli import main
raise SystemExit(main(sys.argv[1:]))
"""

ANALYSE_CHILD = """
import json, resource, sys, time
mode = sys.argv[1]
from keras_shape_lint.analysis import analyse_text
import libcst, z3  # noqa: F401  (loaded by the plugin anyway)
files = sys.argv[2:]
start = time.perf_counter()
findings = 0
if mode == "analyse":
    for path in files:
        with open(path, encoding="utf-8") as handle:
            found, _ = analyse_text(handle.read(), None, path)
        findings += len(found)
hwm = 0
with open("/proc/self/status") as status:
    for line in status:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
print(json.dumps({"vmhwm_kib": hwm, "seconds": time.perf_counter() - start, "findings": findings}))
"""

# Linux keeps the parent's high-water mark in a child's ru_maxrss across fork+exec, so a
# child started straight from this (large) benchmark process would report at least this
# process's peak.  A bare launcher starts the probe and reads ru_maxrss of its children.
MEMORY_LAUNCHER = """
import json, resource, subprocess, sys
result = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if result.returncode:
    sys.stderr.write(result.stderr)
    raise SystemExit(result.returncode)
child = json.loads(result.stdout.strip().splitlines()[-1])
child["maxrss_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps(child))
"""

KERAS_BUILD_CHILD = """
import json, os, runpy, sys, time
t0 = time.perf_counter()
import tensorflow  # noqa: F401
t1 = time.perf_counter()
import keras  # noqa: F401
t2 = time.perf_counter()
model = runpy.run_path(sys.argv[1])["build_model"]()
t3 = time.perf_counter()
print(json.dumps({"import_tensorflow": t1 - t0, "import_keras": t2 - t1, "build": t3 - t2,
                  "params": int(model.count_params()), "layers": len(model.layers)}))
"""


# ----------------------------------------------------------------------------- helpers
def percentile(values, q):
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def count_lines(paths):
    return sum(len(p.read_text(encoding="utf-8", errors="replace").splitlines()) for p in paths)


def timed_subprocess(argv, env=None, cwd=None):
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
    return time.perf_counter() - start, result


def run_flake8(paths, select, jobs, with_plugin, repeat):
    env = dict(os.environ, KSL_BENCH_DROP="0" if with_plugin else "1")
    argv = [sys.executable, "-c", FLAKE8_WRAPPER, "--isolated", f"--select={select}", f"-j{jobs}",
            *map(str, paths)]
    times = []
    result = None
    with tempfile.TemporaryDirectory() as cwd:  # no setup.cfg / tox.ini / .flake8 is read
        for _ in range(repeat):
            seconds, result = timed_subprocess(argv, env=env, cwd=cwd)
            if result.returncode not in (0, 1):
                raise RuntimeError(f"flake8 failed ({result.returncode}): {result.stderr[-2000:]}")
            times.append(seconds)
    reported = [line for line in result.stdout.splitlines() if line.strip()]
    return {"seconds": min(times), "all_seconds": times, "reported": len(reported),
            "ksl_reported": sum(" KSL" in line for line in reported)}


def flake8_matrix(name, paths, repeat, jobs_list=(1, 2)):
    rows = []
    for jobs in jobs_list:
        ksl = run_flake8(paths, "KSL", jobs, True, repeat)
        efw = run_flake8(paths, "E,F,W", jobs, True, repeat)
        base = run_flake8(paths, "E,F,W", jobs, False, max(repeat, 2))
        plugin_cost = efw["seconds"] - base["seconds"]
        rows.append({
            "corpus": name, "jobs": jobs,
            "ksl_s": ksl["seconds"], "efw_s": efw["seconds"], "efw_without_plugin_s": base["seconds"],
            "ratio_ksl_over_efw": ksl["seconds"] / efw["seconds"],
            "plugin_cost_s": plugin_cost,
            "ratio_plugin_cost_over_baseline": plugin_cost / base["seconds"],
            "ratio_with_over_without": efw["seconds"] / base["seconds"],
            "ksl_findings": ksl["ksl_reported"], "efw_reported": efw["reported"],
            "baseline_reported": base["reported"],
        })
    return rows


def analyse_corpus(paths, repeat, with_path=True):
    """Time ``analyse_text`` per file.  With ``with_path`` the file's path is passed, as flake8
    and the CLI do, so imports of sibling modules are read (and cached per process): the
    first pass is the cold-cache cost, later passes are warm."""
    from keras_shape_lint.analysis import analyse_text

    texts = {p: p.read_text(encoding="utf-8") for p in paths}
    per_file = {p: [] for p in paths}
    info = {}
    for _ in range(repeat):
        for path, text in texts.items():
            start = time.perf_counter()
            findings, analysis = analyse_text(text, None, str(path) if with_path else None)
            per_file[path].append(time.perf_counter() - start)
            stats = analysis.statistics() if analysis is not None else None
            info[path] = {
                "findings": len(findings),
                "codes": sorted({f.code for f in findings}),
                "analysed": analysis is not None,
                "merges": stats["merges"] if stats else 0,
                "budget": sorted(stats["budget"]) if stats else [],
                "internal_errors": len(stats["internal_errors"]) if stats else 0,
            }
    files = []
    for path, samples in per_file.items():
        files.append({"file": path.name, "path": str(path), "lines": len(texts[path].splitlines()),
                      "median_s": statistics.median(samples), "first_s": samples[0], "samples_s": samples,
                      **info[path]})
    medians = [f["median_s"] for f in files]
    slowest = sorted(files, key=lambda f: f["median_s"], reverse=True)
    return {
        "files": files,
        "with_path": with_path,
        "file_count": len(files),
        "lines": sum(f["lines"] for f in files),
        "repeat": repeat,
        "median_s": statistics.median(medians),
        "p95_s": percentile(medians, 95),
        "max_s": max(medians),
        "total_s": sum(medians),
        "first_pass_total_s": sum(f["first_s"] for f in files),
        "first_pass_max_s": max(f["first_s"] for f in files),
        "findings": sum(f["findings"] for f in files),
        "slowest": [(f["file"], f["median_s"], f["budget"]) for f in slowest[:5]],
        "budget_hit_files": [f["file"] for f in files if f["budget"]],
        "internal_error_files": [f["file"] for f in files if f["internal_errors"]],
        "analysed_files": sum(f["analysed"] for f in files),
    }


IMPORT_CHILD = """
import time
start = time.perf_counter()
import keras_shape_lint.analysis  # what the flake8 plugin loads for the first file that names Keras
print(time.perf_counter() - start)
"""


def cost_breakdown(paths, flake8_rows, analyser, repeat):
    """Where the plugin's single-process time goes, beside flake8's own checks.

    flake8's checks = (flake8 without the plugin on the corpus) - (the same on an empty file);
    the plugin = import of the analyser (once per process) + libcst parse + the analysis.
    """
    import libcst

    base = next(r for r in flake8_rows if r["corpus"] == "keras apps" and r["jobs"] == 1)
    with tempfile.TemporaryDirectory() as folder:
        empty = Path(folder) / "empty.py"
        empty.write_text("")
        startup = run_flake8([empty], "E,F,W", 1, False, 3)["seconds"]
    imports = []
    for _ in range(3):
        result = subprocess.run([sys.executable, "-c", IMPORT_CHILD], capture_output=True, text=True)
        imports.append(float(result.stdout.strip()))
    texts = [p.read_text(encoding="utf-8") for p in paths]
    parses = []
    for _ in range(max(repeat, 3)):
        start = time.perf_counter()
        for text in texts:
            libcst.parse_module(text)
        parses.append(time.perf_counter() - start)
    parse = min(parses)
    checks = base["efw_without_plugin_s"] - startup
    return {
        "flake8_startup_s": startup,
        "flake8_checks_s": checks,
        "flake8_base_s": base["efw_without_plugin_s"],
        "plugin_cost_s": base["plugin_cost_s"],
        "import_s": min(imports),
        "parse_s": parse,
        "analysis_s": analyser["total_s"] - parse,
        "floor_s": min(imports) + parse,
        "floor_over_checks": (min(imports) + parse) / checks if checks > 0 else float("inf"),
    }


def peak_memory(paths):
    out = {}
    for mode in ("import-only", "analyse"):
        probe = [sys.executable, "-c", ANALYSE_CHILD, mode, *map(str, paths)]
        seconds, result = timed_subprocess([sys.executable, "-c", MEMORY_LAUNCHER, *probe])
        if result.returncode != 0:
            raise RuntimeError(f"memory probe failed: {result.stderr[-2000:]}")
        data = json.loads(result.stdout.strip().splitlines()[-1])
        out[mode] = {"maxrss_mib": data["maxrss_kib"] / 1024, "vmhwm_mib": data["vmhwm_kib"] / 1024,
                     "wall_s": seconds}
    out["analysis_increment_mib"] = out["analyse"]["maxrss_mib"] - out["import-only"]["maxrss_mib"]
    return out


def seed_model(repeat, build):
    from keras_shape_lint.analysis import analyse_text

    path = HERE / "seed_model.py"
    text = path.read_text(encoding="utf-8")
    samples = []
    for _ in range(max(repeat, 5)):
        start = time.perf_counter()
        findings, analysis = analyse_text(text, None, str(path))
        samples.append(time.perf_counter() - start)
    stats = analysis.statistics()
    cli_s, cli = timed_subprocess([sys.executable, "-m", "keras_shape_lint", "--format", "json", str(path)])
    out = {
        "lint_in_process_s": statistics.median(samples),
        "lint_findings": len(findings),
        "lint_merges": stats["merges"], "lint_proven": stats["proven"], "lint_budget": sorted(stats["budget"]),
        "lint_cli_process_s": cli_s, "lint_cli_rc": cli.returncode,
    }
    if build:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        wall, result = timed_subprocess([sys.executable, "-c", KERAS_BUILD_CHILD, str(path)], env=env)
        if result.returncode == 0:
            data = json.loads(result.stdout.strip().splitlines()[-1])
            out.update({f"keras_{k}": v for k, v in data.items()})
            out["keras_process_s"] = wall
        else:
            out["keras_error"] = result.stderr.strip().splitlines()[-1:] or ["failed"]
    return out


# ----------------------------------------------------------------------------- output
def ms(seconds):
    return f"{seconds * 1000:9.1f} ms"


def secs(seconds):
    return f"{seconds:7.2f} s"


def table(rows, header):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths)), line]
    for r in rows:
        out.append("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def render(report):
    out = []
    c = report["corpora"]
    out.append("keras-shape-lint benchmark")
    out.append(f"python {report['python']}  cpus {report['cpus']}")
    out.append(f"keras corpus:     {c['keras']['files']} files, {c['keras']['lines']} lines ({c['keras']['folder']})")
    out.append(f"non-keras corpus: {c['nonkeras']['files']} files, {c['nonkeras']['lines']} lines (flake8 + pyflakes)")
    out.append("")
    out.append("1. flake8 wall time (best of runs; 'base' = same flake8 with the KSL entry point removed)")
    rows = []
    for r in report["flake8"]:
        rows.append([r["corpus"], f"-j {r['jobs']}", secs(r["ksl_s"]), secs(r["efw_s"]),
                     secs(r["efw_without_plugin_s"]),
                     f"{r['ratio_ksl_over_efw']:.2f}", f"{r['plugin_cost_s']:+.2f} s",
                     f"{r['ratio_with_over_without']:.2f}x", str(r["ksl_findings"])])
    out.append(table(rows, ["corpus", "jobs", "--select KSL", "--select E,F,W", "E,F,W base",
                            "KSL/EFW", "plugin cost", "with/without", "KSL found"]))
    out.append("   naive view: KSL/EFW compares two runs that both execute every plugin (so ~1.0);")
    out.append("   true view: plugin cost = (E,F,W with plugin) - (E,F,W without), with/without = ratio of the two.")
    out.append("")
    a = report["analyser"]
    t = report["analyser_text_only"]
    n = report["nonkeras_analyser"]
    out.append(f"2. analyser alone, in process (analyse_text with the file's path as flake8 passes it;"
               f" median of {a['repeat']} runs per file)")
    rows = [["keras apps", str(a["file_count"]), ms(a["median_s"]), ms(a["p95_s"]), ms(a["max_s"]), secs(a["total_s"]),
             f"{a['total_s'] / max(a['lines'], 1) * 1e6:.1f} ms", str(a["findings"])],
            ["keras apps, 1st pass", str(a["file_count"]), "", "", ms(a["first_pass_max_s"]),
             secs(a["first_pass_total_s"]), f"{a['first_pass_total_s'] / max(a['lines'], 1) * 1e6:.1f} ms", ""],
            ["keras apps, text only", str(t["file_count"]), ms(t["median_s"]), ms(t["p95_s"]), ms(t["max_s"]),
             secs(t["total_s"]), f"{t['total_s'] / max(t['lines'], 1) * 1e6:.1f} ms", str(t["findings"])],
            ["non-keras", str(n["file_count"]), ms(n["median_s"]), ms(n["p95_s"]), ms(n["max_s"]), secs(n["total_s"]),
             f"{n['total_s'] / max(n['lines'], 1) * 1e6:.3f} ms", str(n["findings"])]]
    out.append(table(rows, ["corpus", "files", "median/file", "p95/file", "max/file", "total", "per 1k lines",
                            "findings"]))
    out.append("   1st pass = cold per-process cache of imported sibling modules;"
               " text only = no path given, so imports are not read")
    out.append("   slowest keras files: " + "; ".join(
        f"{name} {s * 1000:.0f} ms" + (f" [{', '.join(b)}]" if b else "") for name, s, b in a["slowest"]))
    out.append(f"   files that hit a budget (KSL901 with --ksl-report-incomplete): {len(a['budget_hit_files'])}"
               f" {a['budget_hit_files']}; internal errors: {a['internal_error_files']}")
    out.append(f"   non-keras files past the pre-filter: {n['analysed_files']} of {n['file_count']}")
    out.append("")
    m = report["memory"]
    out.append("3. peak memory (ru_maxrss of a subprocess started by a bare launcher; VmHWM as a cross-check)")
    out.append(table([["import keras_shape_lint only", f"{m['import-only']['maxrss_mib']:.1f} MiB",
                       f"{m['import-only']['vmhwm_mib']:.1f} MiB", secs(m["import-only"]["wall_s"])],
                      ["analyse the keras corpus", f"{m['analyse']['maxrss_mib']:.1f} MiB",
                       f"{m['analyse']['vmhwm_mib']:.1f} MiB", secs(m["analyse"]["wall_s"])],
                      ["increment", f"{m['analysis_increment_mib']:.1f} MiB", "", ""]],
                     ["process", "ru_maxrss", "VmHWM", "wall"]))
    out.append("")
    s = report["seed"]
    out.append("4. seed ResNeXt-50 (bench/seed_model.py): lint vs build with Keras")
    rows = [["lint, analyse_text in process", ms(s["lint_in_process_s"]),
             f"{s['lint_findings']} findings, {s['lint_merges']} merges, {s['lint_proven']} proven"],
            ["lint, python -m keras_shape_lint", ms(s["lint_cli_process_s"]), f"exit {s['lint_cli_rc']}"]]
    if "keras_build" in s:
        rows += [["import tensorflow", ms(s["keras_import_tensorflow"]), ""],
                 ["import keras", ms(s["keras_import_keras"]), ""],
                 ["build graph (build_model())", ms(s["keras_build"]),
                  f"{s['keras_params']:,} params, {s['keras_layers']} layers"],
                 ["keras subprocess total", ms(s["keras_process_s"]),
                  f"{s['keras_process_s'] / s['lint_cli_process_s']:.0f}x the lint process"]]
    elif "keras_error" in s:
        rows.append(["keras build", "failed", " ".join(s["keras_error"])])
    else:
        rows.append(["keras build", "skipped", "(--quick)"])
    out.append(table(rows, ["step", "wall", "note"]))
    out.append("")
    b = report["breakdown"]
    out.append("5. where the time goes: keras apps, one process (flake8 -j 1)")
    rows = [["flake8 start-up (empty file, no plugin)", secs(b["flake8_startup_s"]), ""],
            ["flake8's default checks (pycodestyle, pyflakes)", secs(b["flake8_checks_s"]),
             "base run minus start-up"],
            ["plugin: import libcst, z3 and the analyser", secs(b["import_s"]), "once per process"],
            ["plugin: libcst parse of every file", secs(b["parse_s"]), "in process, best of runs"],
            ["plugin: the analysis itself", secs(b["analysis_s"]), "analyser total minus parse"],
            ["plugin cost measured through flake8", secs(b["plugin_cost_s"]), "section 1, -j 1"]]
    out.append(table(rows, ["part", "wall", "note"]))
    out.append(f"   import + parse alone: {b['floor_s']:.2f} s = {b['floor_over_checks']:.2f}x flake8's own checks"
               " (a floor for any analysis that parses each Keras file with libcst)")
    out.append("")
    out.append(f"total benchmark wall time: {report['wall_s']:.1f} s")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="PATH", help="write every number as JSON to PATH ('-' for stdout)")
    parser.add_argument("--repeat", type=int, default=3, help="analyser repetitions per file (default 3)")
    parser.add_argument("--flake8-repeat", type=int, default=1, help="flake8 runs per configuration (best kept)")
    parser.add_argument("--quick", action="store_true", help="one repetition, -j 1 only, no Keras build")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    repeat = 1 if args.quick else args.repeat
    jobs = (1,) if args.quick else (1, 2)

    keras_files = keras_applications()
    other_files = non_keras_sources()
    if not keras_files:
        parser.error("keras is not installed: no keras/src/applications to benchmark")
    report = {
        "python": sys.version.split()[0], "cpus": os.cpu_count(),
        "corpora": {
            "keras": {"folder": str(keras_files[0].parent), "files": len(keras_files),
                      "lines": count_lines(keras_files)},
            "nonkeras": {"files": len(other_files), "lines": count_lines(other_files)},
        },
    }
    log = (lambda *a: print(*a, file=sys.stderr, flush=True))
    log("flake8 on the keras corpus ...")
    report["flake8"] = flake8_matrix("keras apps", keras_files, args.flake8_repeat, jobs)
    log("flake8 on the non-keras corpus ...")
    report["flake8"] += flake8_matrix("non-keras", other_files, max(args.flake8_repeat, 3), jobs)
    log("analyser per file ...")
    from keras_shape_lint.analysis import analyse_text

    analyse_text("import keras\nx = keras.layers.Add()([keras.Input((3,)), keras.Input((3,))])\n")  # warm up
    report["analyser"] = analyse_corpus(keras_files, repeat)
    report["analyser_text_only"] = analyse_corpus(keras_files, 1, with_path=False)
    report["nonkeras_analyser"] = analyse_corpus(other_files, max(repeat, 3))
    log("cost breakdown ...")
    report["breakdown"] = cost_breakdown(keras_files, report["flake8"], report["analyser"], repeat)
    log("peak memory ...")
    report["memory"] = peak_memory(keras_files)
    log("seed model ...")
    report["seed"] = seed_model(repeat, build=not args.quick)
    report["wall_s"] = time.perf_counter() - began

    text = render(report)
    if args.json == "-":
        print(text, file=sys.stderr)
        print(json.dumps(report, indent=2, default=str))
    else:
        print(text)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
