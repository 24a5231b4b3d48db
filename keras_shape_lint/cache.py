"""Results kept between runs, so that linting unchanged code again costs almost nothing.

One entry per analysed text, a JSON file in the cache folder named by a hash of
everything the result depends on: the text, where it lives (imports resolve from
there), the analysis options, strict mode, and the tool itself (its version, a hash
of the package's own source files so that a development checkout invalidates its
entries when the analyser changes, Python's, libcst's and z3's versions).  The
project modules the analysis read (``project.recording`` collects them) are not in
the name: the entry lists each with its content hash, and a lookup hashes them
again and misses when one changed or went away.

Entries are written to a temporary file in the same folder and renamed into place,
so readers (other flake8 ``-j`` workers, other runs) see a whole entry or none.  An
entry that cannot be read, is cut short or holds anything unexpected is a miss,
never an error.  The folder is kept under :data:`MAX_BYTES` and
:data:`MAX_ENTRIES`, dropping the least recently used entries (by modification
time: a hit touches its entry, at most once an hour) first.

A result is not kept when the analysis stopped on its time budget (or ran an entry point
again, its paths joined, when the first try ran out of time), ran past its
deadline, read an import refused for lack of time, or had z3 give up on a query:
how far it got depends on the machine's load, and a busy run must not freeze a
worse answer into the cache.

The folder is ``.keras_shape_lint_cache`` in the project root, else, where that
cannot be written, ``$XDG_CACHE_HOME/keras-shape-lint`` (``~/.cache/...``).  Nothing
here imports the analyser: a run whose every file hits never loads libcst or z3.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

from . import __version__
from .findings import CallSite, Finding, Witness
from .prefilter import mentions_keras

FORMAT = 1
FOLDER_NAME = ".keras_shape_lint_cache"
MAX_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 20_000
#: a hit refreshes its entry's modification time (its place in the eviction order) when older
TOUCH_AFTER_S = 3600.0
#: the folder is trimmed on a process's first write and then every this many writes
TRIM_EVERY = 64
#: temporary files older than this were left by a process that died while writing
STALE_TEMPORARY_S = 3600.0

_SUFFIX = ".json"
_TEMPORARY = ".tmp-"
_TAG = "CACHEDIR.TAG"
_TAG_TEXT = ("Signature: 8a477f597d28d172789f06886806bc55\n"
             "# This folder holds keras-shape-lint's results; it may be deleted at any time.\n")


class Uncacheable(ValueError):
    """A value the entry format cannot hold exactly."""


# --------------------------------------------------------------------------- where


def user_cache_folder() -> Path:
    """``$XDG_CACHE_HOME/keras-shape-lint``, else ``~/.cache/keras-shape-lint``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not base or not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "keras-shape-lint"


def _writable(folder: Path) -> bool:
    """Can entries be written in ``folder`` (or, if it does not exist yet, can it be made)?"""
    current = Path(os.path.abspath(folder))
    while not current.exists():
        if current.parent == current:
            return False
        current = current.parent
    return current.is_dir() and os.access(current, os.W_OK | os.X_OK)


def default_root() -> Path:
    """The project root as the command line finds it from the current folder (config.py)."""
    from . import config

    cwd = Path.cwd()
    try:
        found = config.find_pyproject(cwd)
    except OSError:
        found = None
    return config.project_root(cwd, found)


# --------------------------------------------------------------------------- the tool's identity

_TOOL: str | None = None


def tool_fingerprint() -> str:
    """The tool's version, a hash of its own source files, and the versions results depend on."""
    global _TOOL
    if _TOOL is None:
        digest = hashlib.sha256()
        package = Path(__file__).resolve().parent
        for folder, subfolders, files in os.walk(package):
            subfolders[:] = sorted(name for name in subfolders if name != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    digest.update(os.path.relpath(path, package).encode("utf-8") + b"\0")
                    with open(path, "rb") as handle:
                        digest.update(handle.read())
                    digest.update(b"\0")
        _TOOL = json.dumps([__version__, digest.hexdigest(), list(sys.version_info[:2]),
                            _distribution_version("libcst"), _distribution_version("z3-solver")])
    return _TOOL


def _distribution_version(name: str) -> str:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001 -- not installed as a distribution: the source hash still holds
        return ""


def result_key(text: str, path: str | None, options, strict: bool) -> str:
    """The entry name: a hash of what a result depends on, imported modules aside."""
    settings = dataclasses.asdict(options)
    header = json.dumps({"format": FORMAT, "tool": tool_fingerprint(), "strict": bool(strict),
                         "path": os.path.abspath(path) if path else None, "options": settings},
                        sort_keys=True, default=repr)
    digest = hashlib.sha256(header.encode("utf-8"))
    digest.update(b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


# file identity -> content hash, for the life of the process (a file changed since gets a new identity)
_HASHES: dict = {}


def file_hash(path: str) -> str | None:
    """The sha256 of a file's bytes (None if it cannot be read)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    identity = (path, status.st_ino, status.st_mtime_ns, status.st_size)
    known = _HASHES.get(identity)
    if known is not None:
        return known
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    if len(data) != status.st_size:
        return hashlib.sha256(data).hexdigest()  # changing as it was read: not remembered
    known = _HASHES[identity] = hashlib.sha256(data).hexdigest()
    if len(_HASHES) > 4096:
        _HASHES.clear()
    return known


# --------------------------------------------------------------------------- exact JSON

_TUPLE, _DICT = "~tuple", "~dict"


def encode(value):
    """``value`` as JSON that :func:`decode` turns back into an equal value of the same types:
    tuples and dicts with keys other than plain strings are tagged.  Anything else (an
    object of the analyser) raises :class:`Uncacheable`."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and type(value) in (int, float):
        return value
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, tuple) and type(value) is tuple:
        return {_TUPLE: [encode(item) for item in value]}
    if isinstance(value, dict) and type(value) in (dict, Counter):
        if all(type(key) is str and not key.startswith("~") for key in value):
            return {key: encode(item) for key, item in value.items()}
        return {_DICT: [[encode(key), encode(item)] for key, item in value.items()]}
    raise Uncacheable(f"cannot keep a {type(value).__name__}")


def decode(value):
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        if len(value) == 1 and _TUPLE in value:
            return tuple(decode(item) for item in value[_TUPLE])
        if len(value) == 1 and _DICT in value:
            return {_hashable(decode(key)): decode(item) for key, item in value[_DICT]}
        return {key: decode(item) for key, item in value.items()}
    return value


def _hashable(key):
    hash(key)  # a list read back as a key is a corrupt entry: TypeError, a miss
    return key


def encode_finding(finding: Finding) -> dict:
    witness = finding.witness
    return {
        "code": finding.code, "line": finding.line, "col": finding.col,
        "fields": encode(finding.fields),
        "path_condition": encode(finding.path_condition),
        "call_chain": [[site.function, site.line, site.file] for site in finding.call_chain],
        "witness": None if witness is None else {
            "entry": witness.entry, "args": encode(witness.args),
            "call": encode(witness.call), "data": encode(witness.data), "data_names": encode(witness.data_names)},
    }


def decode_finding(data: dict) -> Finding:
    code, line, col = data["code"], data["line"], data["col"]
    if not (isinstance(code, str) and type(line) is int and type(col) is int):
        raise ValueError("a finding without its place")
    fields = decode(data["fields"])
    if not isinstance(fields, dict):
        raise ValueError("a finding without its fields")
    chain = []
    for function, site_line, site_file in data["call_chain"]:
        if not (isinstance(function, str) and type(site_line) is int and isinstance(site_file, str)):
            raise ValueError("a call site out of shape")
        chain.append(CallSite(function, site_line, site_file))
    witness = data["witness"]
    if witness is not None:
        entry = witness["entry"]
        if entry is not None and not isinstance(entry, str):
            raise ValueError("a witness without its entry point")
        witness = Witness(entry, decode(witness["args"]), decode(witness["call"]), decode(witness["data"]),
                          decode(witness.get("data_names")))
    return Finding(code=code, line=line, col=col, fields=fields, path_condition=decode(data["path_condition"]),
                   call_chain=chain, witness=witness)


# --------------------------------------------------------------------------- results


class Result:
    """What the front ends ask of an analysis, from a fresh one or read back from an entry:
    ``budget_notes``, ``internal_errors``, ``strict_findings()`` and ``statistics()``
    (each computed at most once)."""

    def __init__(self, findings: list, budget_notes, internal_errors: list, strict: list | None = None,
                 statistics: dict | None = None, analysis=None, from_cache: bool = False):
        self.findings = findings
        self.budget_notes = Counter(budget_notes)
        self.internal_errors = list(internal_errors)
        self._strict = strict
        self._statistics = statistics
        self.analysis = analysis  # the Analysis itself, when this run made it
        self.from_cache = from_cache

    def strict_findings(self) -> list:
        if self._strict is None:
            self._strict = self.analysis.strict_findings() if self.analysis is not None else []
        return list(self._strict)

    def statistics(self) -> dict:
        if self._statistics is None:
            self._statistics = self.analysis.statistics() if self.analysis is not None else {}
        return copy.deepcopy(self._statistics)  # a copy the caller may change

    @property
    def has_statistics(self) -> bool:
        return self._statistics is not None


def settled(analysis) -> bool:
    """May this analysis's result be kept?  Not when time cut it short: another run, on a
    less busy machine, would get further."""
    deadline = getattr(analysis, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        return False
    if getattr(getattr(analysis, "solver", None), "unknowns", 0):
        return False  # z3 gave up on a query (its limit is wall time): with more time it may answer
    # an entry point run again, paths joined, because its first try ran out of time: a less busy
    # machine would have finished the first try
    notes = list(analysis.budget_notes) + list(getattr(analysis, "coarser", ()))
    return not any("time budget" in note or "longer than the" in note for note in notes)


class ResultCache:
    """The cache folder: ``folder`` if given, else the default one of the project ``root``
    (the current folder's project root when None), resolved when first needed."""

    def __init__(self, folder: str | os.PathLike | None = None, root: str | os.PathLike | None = None,
                 max_bytes: int = MAX_BYTES, max_entries: int = MAX_ENTRIES):
        self._given = Path(folder) if folder is not None else None
        self._root = Path(root) if root is not None else None
        self._folder: Path | None = None
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.writes = 0
        self.hits = 0
        self.misses = 0

    @property
    def folder(self) -> Path:
        if self._folder is None:
            if self._given is not None:
                self._folder = Path(os.path.abspath(self._given))
            else:
                local = (self._root if self._root is not None else default_root()) / FOLDER_NAME
                self._folder = Path(os.path.abspath(local if _writable(local) else user_cache_folder()))
        return self._folder

    def entry_path(self, key: str) -> Path:
        return self.folder / f"{key}{_SUFFIX}"

    # ------------------------------------------------------------------ reading
    def load(self, key: str, statistics: bool = False) -> Result | None:
        """The result kept under ``key``, if every module it read is unchanged (else None).
        With ``statistics``, an entry that lacks them is a miss."""
        path = self.entry_path(key)
        try:
            with open(path, "rb") as handle:
                data = json.loads(handle.read())
            result = self._result(data, key, statistics)
        except Exception:  # noqa: BLE001 -- unreadable, cut short or corrupt: a miss
            result = None
        if result is None:
            self.misses += 1
            return None
        self.hits += 1
        self._touch(path)
        return result

    def _result(self, data: dict, key: str, statistics: bool) -> Result | None:
        if data.get("format") != FORMAT or data.get("key") != key:
            return None
        if statistics and data.get("statistics") is None:
            return None
        for module, digest in data["reads"]:
            if not (isinstance(module, str) and isinstance(digest, str)) or file_hash(module) != digest:
                return None
        notes = decode(data["budget_notes"])
        errors = decode(data["internal_errors"])
        if not isinstance(notes, dict) or not isinstance(errors, list):
            return None
        strict = data.get("strict")
        stats = data.get("statistics")
        return Result(
            findings=[decode_finding(item) for item in data["findings"]],
            budget_notes=notes, internal_errors=errors,
            strict=None if strict is None else [decode_finding(item) for item in strict],
            statistics=None if stats is None else _checked_statistics(decode(stats)),
            from_cache=True,
        )

    def _touch(self, path: Path) -> None:
        try:
            if time.time() - path.stat().st_mtime > TOUCH_AFTER_S:
                os.utime(path)
        except OSError:
            pass

    # ------------------------------------------------------------------ writing
    def store(self, key: str, result: Result, reads, strict: bool) -> bool:
        """Keep ``result`` under ``key``; ``reads`` holds (path, mtime_ns, size) for each project
        module the analysis read (project.recording).  False when it was not kept (a module
        changed since it was read, a value the format cannot hold, a folder that cannot be
        written)."""
        try:
            modules = []
            for module, mtime_ns, size in sorted(reads):
                digest = file_hash(module)
                status = os.stat(module)
                if digest is None or (status.st_mtime_ns, status.st_size) != (mtime_ns, size):
                    return False  # it changed since the analysis read it
                modules.append([module, digest])
            data = {
                "format": FORMAT, "key": key, "reads": modules,
                "findings": [encode_finding(f) for f in result.findings],
                "strict": [encode_finding(f) for f in result.strict_findings()] if strict else None,
                "budget_notes": encode(dict(result.budget_notes)),
                "internal_errors": encode(result.internal_errors),
                "statistics": encode(result._statistics) if result.has_statistics else None,
            }
            text = json.dumps(data, separators=(",", ":"), allow_nan=True)
        except (Uncacheable, OSError, TypeError, ValueError):
            return False
        return self._write(key, text)

    def _write(self, key: str, text: str) -> bool:
        folder = self.folder
        try:
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
            tag = folder / _TAG
            if not tag.exists():
                _write_atomically(folder, tag, _TAG_TEXT)
                _write_atomically(folder, folder / ".gitignore", "# made by keras-shape-lint\n*\n")
            _write_atomically(folder, self.entry_path(key), text)
        except OSError:
            return False
        self.writes += 1
        if self.writes % TRIM_EVERY == 1:
            self.trim()
        return True

    def trim(self) -> int:
        """Drop the least recently used entries until the folder is within both bounds, and
        temporary files that a dead process left; returns how many entries went."""
        try:
            listing = list(os.scandir(self.folder))
        except OSError:
            return 0
        entries = []
        now = time.time()
        for item in listing:
            try:
                status = item.stat(follow_symlinks=False)
            except OSError:
                continue
            if item.name.startswith(_TEMPORARY):
                if now - status.st_mtime > STALE_TEMPORARY_S:
                    _remove(item.path)
            elif item.name.endswith(_SUFFIX) and item.is_file(follow_symlinks=False):
                entries.append((status.st_mtime, item.name, status.st_size, item.path))
        entries.sort()
        held = sum(size for _, _, size, _ in entries)
        count = len(entries)
        removed = 0
        for _, _, size, path in entries:
            if held <= self.max_bytes and count <= self.max_entries:
                break
            _remove(path)
            held -= size
            count -= 1
            removed += 1
        return removed

    def clear(self) -> None:
        """Remove every entry (the folder's tag and .gitignore stay)."""
        try:
            listing = list(os.scandir(self.folder))
        except OSError:
            return
        for item in listing:
            if item.name.endswith(_SUFFIX) or item.name.startswith(_TEMPORARY):
                _remove(item.path)


def _write_atomically(folder: Path, target: Path, text: str) -> None:
    """Write ``target`` whole or not at all: a temporary file in the same folder, then a rename.
    The file's mode follows the umask (a folder shared by a team stays readable to it)."""
    temporary = folder / f"{_TEMPORARY}{os.getpid()}-{os.urandom(8).hex()}"
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, target)
    except BaseException:
        _remove(temporary)
        raise


def _remove(path) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _checked_statistics(stats) -> dict:
    if not isinstance(stats, dict):
        raise ValueError("statistics out of shape")
    return stats


# --------------------------------------------------------------------------- the front ends' entry


def analyse(text: str, options, path: str | None = None, *, strict: bool = False, store: ResultCache | None = None,
            statistics: bool = False, tree=None, analyser=None):
    """``analysis.analyse_text`` through the cache: (findings, result) where ``result`` is a
    :class:`Result` (None when the text was not analysed: no Keras in it, or a syntax error).

    ``strict`` and ``statistics`` say what the caller will ask of the result, so that an
    entry holds it; without ``store`` nothing is read or kept.  ``analyser`` stands in for
    ``analysis.analyse_text`` (same arguments and results)."""
    if not mentions_keras(text):
        return [], None
    key = None
    if store is not None:
        try:
            key = result_key(text, path, options, strict)
        except (OSError, ValueError, TypeError):
            key = None
        if key is not None:
            hit = store.load(key, statistics)
            if hit is not None:
                return hit.findings, hit
    if analyser is None:
        from .analysis import analyse_text as analyser
    from .project import recording

    with recording() as reads:
        findings, analysis = analyser(text, options, path, tree)
    if analysis is None:
        return findings, None
    keep = key is not None and not reads.refused and settled(analysis)
    result = Result(findings, analysis.budget_notes, analysis.internal_errors, analysis=analysis)
    if keep:
        if strict:
            result.strict_findings()
        if statistics:
            result.statistics()
        store.store(key, result, reads.versions, strict)
    return findings, result
