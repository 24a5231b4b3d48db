"""Modules of the user's own project: finding, parsing and executing imported files.

``from .blocks import block`` or ``from mypkg.blocks import block`` in a
model file makes the analyser read ``blocks.py`` too, when it lies inside
the project (the nearest folder above the file that holds pyproject.toml,
setup.cfg, setup.py or .git; else the file's own folder).  Keras and
TensorFlow names stay models of the API, never the library's source, except
for a sibling module of a file that itself lives in such a package (the
keras.applications modules import each other).  Parsed and executed modules
are cached per process, keyed by file identity, so an editor's long-lived
flake8 pays for each module once.  The cache holds at most about 1 MB of
source, least recently used first out: every cached module stays alive as
tens of thousands of objects, and Python's full garbage collections walk them
all (a sweep that kept 300 TensorFlow modules paused for 4 s per collection).

What a file's analysis finds must not depend on the files analysed before it in
the same process (a flake8 job lints many): a module is read the same whoever
imports it first (imports are followed as deep as they are used, within the
file's budgets, never to a depth that depends on the first reader), a module
whose top level a budget cut short is not kept, a module read for an earlier
file costs each later analysis the steps its reading cost, once, as reading it
again would, and a module leaves the cache together with the modules that hold
its values (a class read twice would be two classes).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager

from . import frontend
from .prefilter import too_large_to_read
from .state import ModuleInfo

_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
_FRAMEWORKS = ("keras", "tensorflow", "tf_keras")
_INSTALLED = ("site-packages", "dist-packages")
_MAX_BYTES = 200_000  # larger modules are libraries, not blocks: left opaque
_IMPORT_SHARE = 0.4  # at most this share of a file's time budget goes to reading imports

_CACHE_BYTES = 1_000_000  # source bytes of the modules kept parsed between files (about 0.8M objects)

# (path, mtime, size, data format) -> ModuleInfo, least recently used first
_CACHE: OrderedDict = OrderedDict()
# the same keys -> (steps its own top level took, keys of the modules loaded while it ran)
_COST: dict = {}
_LOADING = threading.local()  # a _Reading for each module being read, innermost last

# the same keys -> the keys of the modules loaded through that module's imports, whenever they
# were (an import is loaded when its name is first used, perhaps while another file is analysed)
_DEPENDS: dict = {}
_RECORDING = threading.local()


class _Reading:
    """While a module's top level runs: the modules it loads and the steps their loads took."""

    def __init__(self):
        self.keys: list = []
        self.steps = 0


class Reads:
    """The project modules read while :func:`recording` runs, as (absolute path, mtime_ns, size)
    of the version used; ``refused`` when one was not read for lack of time."""

    def __init__(self):
        self.versions: set = set()
        self.refused = False


@contextmanager
def recording():
    """Collect what an analysis read of the project, for the result cache (cache.py): the modules
    it loads, and for a module parsed for an earlier file, every module loaded through it since."""
    record, previous = Reads(), getattr(_RECORDING, "current", None)
    _RECORDING.current = record
    try:
        yield record
    finally:
        _RECORDING.current = previous


def _note(key, importer=None) -> None:
    if importer is not None:
        _DEPENDS.setdefault(importer, set()).add(key)
    record = getattr(_RECORDING, "current", None)
    stack = [key] if record is not None else []
    while stack:
        current = stack.pop()
        if current[:3] not in record.versions:
            record.versions.add(current[:3])
            stack.extend(_DEPENDS.get(current, ()))


def _note_refused(importer) -> None:
    """An import not read for lack of time: this analysis's result depends on its clock (a later
    analysis reads the import again, with its own time)."""
    record = getattr(_RECORDING, "current", None)
    if record is not None:
        record.refused = True


def _unchanged(key) -> bool:
    """Are the modules a cached module read through its imports still the versions it read?
    (A module's own key holds its own version; an edit to one it imports must reach it too.)"""
    seen, stack = set(), list(_DEPENDS.get(key, ()))
    while stack:
        dep = stack.pop()
        if dep in seen:
            continue
        seen.add(dep)
        try:
            status = os.stat(dep[0])
        except OSError:
            return False
        if (status.st_mtime_ns, status.st_size) != (dep[1], dep[2]):
            return False
        stack.extend(_DEPENDS.get(dep, ()))
    return True


def _charge(analysis, key) -> bool:
    """Charge this analysis, once, for a module it uses: a module read for an earlier file
    costs the steps its top level took then (with those of the modules it loaded meanwhile),
    so that the step budget trips where it would in a fresh process.  False when the
    budget is spent (the module is then refused, as a fresh read would have been)."""
    charged = analysis.modules_charged
    if key in charged:
        return True
    steps, stack = 0, [key]
    while stack:
        current = stack.pop()
        if current in charged or current not in _COST:
            continue
        charged.add(current)
        cost, loaded = _COST[current]
        steps += cost
        stack.extend(loaded)
    interp = getattr(analysis, "interp", None)
    if interp is None or not steps:
        return True
    interp.steps += steps
    if interp.steps > interp.budget.max_steps:
        note = f"{key[0]}: step budget"  # as reading it here would have said
        analysis.note_budget(note)
        # refused for the rest of this analysis, as a read cut short is (a second try of the
        # entry point, its paths joined, does not read it either)
        analysis.modules_unread.add(key)
        analysis.import_notes.add(note)
        return False
    return True


def _loading_note(key) -> None:
    frames = getattr(_LOADING, "frames", None)
    if frames:
        frames[-1].keys.append(key)


def project_root(path: str) -> str:
    """The folder the imports of ``path`` are read within (:func:`_root_of`)."""
    return _root_of(path)[0]


def _root_of(path: str) -> tuple[str, bool]:
    """The nearest folder above ``path`` with a project marker; else, where ``path`` sits in
    a package (folders with an ``__init__.py``), the folder holding the outermost of them,
    where Python imports it from (a ``pip install --target`` folder, a vendored copy); else
    the file's own folder.  And whether it is the package's folder, which may hold other
    packages beside it (the file's dependencies, never read: as in site-packages)."""
    folder = os.path.dirname(os.path.abspath(path))
    current = folder
    while True:
        if any(os.path.exists(os.path.join(current, marker)) for marker in _MARKERS):
            return current, False
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    top = folder
    while os.path.exists(os.path.join(top, "__init__.py")) and os.path.dirname(top) != top:
        top = os.path.dirname(top)
    return top, top != folder


ACTIVE: list = [None]  # the Analysis running in this process (set by Analysis.run)


class ModuleLoader:
    key = None  # the _CACHE key of the module whose imports this loader reads (None: the linted file)
    loaded_key = None  # the _CACHE key of the module its last load returned

    def __init__(self, analysis, importer: str | None, depth: int = 0):
        # weakly: a loader kept with a cached module must not keep the analysis that made it (its
        # interpreter, solver and every path it explored) alive for as long as the cache lives
        self._analysis = weakref.ref(analysis) if analysis is not None else lambda: None
        self.importer = os.path.abspath(importer) if importer and os.path.isfile(importer) else None
        self.depth = depth
        self._root, self._packages = _root_of(self.importer) if self.importer else (None, False)

    @property
    def analysis(self):
        """The analysis running now: a loader kept with a cached module serves later files too,
        and each reads imports within its own budget (not the expired one of the file that
        first parsed the module)."""
        return ACTIVE[0] if ACTIVE[0] is not None else self._analysis()

    def resolve(self, module: str | None, level: int = 0) -> str | None:
        """The file a module name refers to from the importing file, if it is the user's."""
        if self.importer is None:
            return None
        folder = os.path.dirname(self.importer)
        parts = module.split(".") if module else []
        if level:
            base = folder
            for _ in range(level - 1):
                base = os.path.dirname(base)
            return _module_file(base, parts)
        if not parts:
            return None
        if parts[0] in _FRAMEWORKS:
            # only a sibling module, named by this very folder's dotted path
            if len(parts) > 1 and folder.endswith(os.sep + os.path.join(*parts[:-1])):
                return _module_file(folder, parts[-1:])
            return None
        current = folder
        while True:
            if os.path.basename(current) in _INSTALLED or (self._packages and current == self._root):
                # an installed package (or a package in a folder of packages with no project
                # marker) reads only its own modules, never its dependencies
                own = os.path.relpath(self.importer, current).split(os.sep)[0]
                return _module_file(current, parts) if parts[0] == own else None
            found = _module_file(current, parts)
            if found:
                return found
            if current == self._root or os.path.dirname(current) == current:
                return _in_own_package(folder, parts)
            current = os.path.dirname(current)

    def charge(self, key) -> bool:
        """Charge the analysis running now for a module an import resolved earlier (perhaps
        for another file); False when its step budget is spent."""
        return key is None or _charge(self.analysis, key)

    def load(self, path: str) -> ModuleInfo | None:
        interp = getattr(self.analysis, "interp", None)
        before = interp.steps if interp is not None else 0
        info = self._load(path)
        frames = getattr(_LOADING, "frames", None)
        if frames and interp is not None:
            frames[-1].steps += interp.steps - before  # not the importing module's own cost
        return info

    def _load(self, path: str) -> ModuleInfo | None:
        if os.path.abspath(path) == self.importer:
            return None
        import time

        analysis = self.analysis
        import_budget = _IMPORT_SHARE * analysis.options.time_budget_s
        if time.monotonic() > analysis.deadline or analysis.import_seconds > import_budget:
            analysis.note_budget("time budget (imports)")
            _note_refused(self.key)
            return None
        try:
            status = os.stat(path)
        except OSError:
            return None
        key = (os.path.abspath(path), status.st_mtime_ns, status.st_size, self.analysis.options.data_format)
        _note(key, self.key)
        _loading_note(key)
        if key in analysis.modules_unread:
            return None  # its top level was cut short once for this file: not run again
        if status.st_size > _MAX_BYTES:
            analysis.note_opaque(f"module too large to read: {os.path.basename(path)}")
            return None
        if key in _CACHE and not _unchanged(key):
            del _CACHE[key]  # what it imported has changed since: read it again
            _DEPENDS.pop(key, None)
            _COST.pop(key, None)
        if key in _CACHE:
            _CACHE.move_to_end(key)
            info = _CACHE[key]
            if info is None or not _charge(analysis, key):
                return None
            self.loaded_key = key
            return info
        _CACHE[key] = None  # a cycle of imports sees the module as unknown
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError):
            return None
        started = time.monotonic()
        # libcst's parse cannot be interrupted: a module it could not parse in the time left is not read
        too_large = too_large_to_read(text, analysis.deadline - started, analysis.options.time_budget_s)
        if too_large is not None:
            del _CACHE[key]  # another file, with more time left, may read it
            analysis.note_budget(f"time budget (imports): {os.path.basename(path)}, {too_large}")
            _note_refused(self.key)
            return None
        tree = frontend.parse(text)
        if tree is None:
            return None
        info = ModuleInfo(tree, path, scope={}, syntax=text)
        loader = ModuleLoader(self.analysis, path, self.depth + 1)
        loader.key = key
        interp = analysis.interp
        steps_before = interp.steps
        frames = _LOADING.__dict__.setdefault("frames", [])
        frames.append(_Reading())
        try:
            completed = analysis.execute_module(info, loader)
        finally:
            reading = frames.pop()
        if self.depth == 0:
            analysis.import_seconds += time.monotonic() - started
        if not completed:
            # a budget stopped its top level part way: what it defined so far is this
            # analysis's view only; a later one reads it again
            del _CACHE[key]
            analysis.modules_unread.add(key)
            _note_refused(self.key)
            return None
        _COST[key] = (interp.steps - steps_before - reading.steps, tuple(reading.keys))
        analysis.modules_charged.add(key)
        self.loaded_key = key
        _CACHE[key] = info
        _evict(analysis.modules_charged)
        return info


def _evict(in_use=frozenset()) -> None:
    """Forget the least recently used modules while the cache holds too much source, each with
    the modules that read it through their imports (they hold its classes and functions: kept,
    they would meet a second reading of it as another module).  Modules the running analysis
    uses stay."""
    held = sum(key[2] for key in _CACHE)
    for key in list(_CACHE):
        if held <= _CACHE_BYTES or len(_CACHE) <= 1:
            break
        group = _importers(key) if key in _CACHE else ()
        if not group or not group.isdisjoint(in_use):
            continue
        for gone in group:
            if gone in _CACHE:
                del _CACHE[gone]
                held -= gone[2]
            _DEPENDS.pop(gone, None)
            _COST.pop(gone, None)


def _importers(key) -> set:
    """``key`` and every cached module that read it, directly or through others."""
    found, stack = {key}, [key]
    while stack:
        current = stack.pop()
        for importer, loaded in _DEPENDS.items():
            if current in loaded and importer not in found:
                found.add(importer)
                stack.append(importer)
    return found


def _in_own_package(folder: str, parts: list) -> str | None:
    """``import pkg.sub.mod`` from a file inside the package ``pkg`` itself, where the root
    did not reach it (a folder of the package without an ``__init__.py`` between, a namespace
    package's): the module beside the nearest enclosing folder named ``pkg`` that holds an
    ``__init__.py``.  Never another package."""
    current = folder
    while os.path.dirname(current) != current:
        if os.path.basename(current) == parts[0] and os.path.isfile(os.path.join(current, "__init__.py")):
            found = _module_file(os.path.dirname(current), parts)
            if found:
                return found
        current = os.path.dirname(current)
    return None


def _module_file(base: str, parts: list) -> str | None:
    if not parts:
        init = os.path.join(base, "__init__.py")
        return init if os.path.isfile(init) else None
    stem = os.path.join(base, *parts)
    if os.path.isfile(stem + ".py"):
        return stem + ".py"
    init = os.path.join(stem, "__init__.py")
    return init if os.path.isfile(init) else None
