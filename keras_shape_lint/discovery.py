"""Which files to check: the paths given, folders walked recursively, exclusions applied.

Folders are walked for ``*.py`` files and Jupyter notebooks (``*.ipynb``).  The walk never enters version-control
folders, virtual environments (any folder holding a ``pyvenv.cfg``), caches or
build output (:data:`SKIPPED_FOLDERS`), paths matching an ``--exclude`` glob,
or paths that the project's ``.gitignore`` ignores (a useful subset of git's
rules: ``*``, ``?``, ``[...]``, ``**``, a leading ``/`` to anchor, a trailing
``/`` for folders only, ``!`` to re-include, ``#`` comments).

A file or folder named on the command line is always checked unless an
``--exclude`` glob (or the configuration's ``exclude``) matches it or a folder
above it inside the project root: pre-commit names each staged file explicitly,
and excludes must still hold for them.  ``--exclude`` patterns are matched from
the project root, ``.gitignore`` patterns from the repository root (where the
``.gitignore`` is).
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

SKIPPED_FOLDERS = frozenset({
    ".git", ".hg", ".svn", ".bzr", "__pycache__", "build", "dist", ".tox", ".nox", ".eggs",
    "node_modules", "site-packages", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".keras_shape_lint_cache",
})

SOURCE_SUFFIXES = (".py", ".ipynb")


class DiscoveryError(ValueError):
    """A path on the command line that does not exist."""


# --------------------------------------------------------------------------- .gitignore


@dataclass
class _Rule:
    regex: re.Pattern
    negated: bool
    folders_only: bool


def _translate(pattern: str, anchored: bool) -> re.Pattern:
    """A gitignore glob as a regex over '/'-separated paths relative to the root."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"^{prefix}{''.join(out)}$")


class GitIgnore:
    """The patterns of one ``.gitignore`` file, matched relative to its folder."""

    def __init__(self, lines):
        self.rules: list[_Rule] = []
        for raw in lines:
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip() or line.startswith("#"):
                continue
            if not line.endswith("\\ "):
                line = line.rstrip()
            negated = line.startswith("!")
            if negated:
                line = line[1:]
            if line.startswith("\\#") or line.startswith("\\!"):
                line = line[1:]
            folders_only = line.endswith("/")
            line = line.rstrip("/")
            if not line:
                continue
            anchored = "/" in line
            line = line.lstrip("/")
            self.rules.append(_Rule(_translate(line, anchored), negated, folders_only))

    @classmethod
    def read(cls, folder: Path) -> GitIgnore | None:
        path = Path(folder) / ".gitignore"
        try:
            return cls(path.read_text(encoding="utf-8").splitlines())
        except (OSError, UnicodeDecodeError):
            return None

    def ignored(self, relative: str, is_folder: bool) -> bool:
        """Does the last matching rule ignore this path ('a/b/c.py', relative to the root)?"""
        verdict = False
        for rule in self.rules:
            if rule.folders_only and not is_folder:
                continue
            if rule.regex.match(relative):
                verdict = not rule.negated
        return verdict


# --------------------------------------------------------------------------- --exclude


def excluded(path: Path, patterns, root: Path) -> bool:
    """Does an ``--exclude`` glob match the path's name, its path from ``root``, or its absolute path?"""
    if not patterns:
        return False
    absolute = Path(os.path.abspath(path))
    name = absolute.name
    try:
        relative = absolute.relative_to(root).as_posix()
    except ValueError:
        relative = None
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if not pattern:
            continue
        if fnmatch.fnmatchcase(name, pattern):
            return True
        from_root = pattern[2:] if pattern.startswith("./") else pattern
        if relative is not None and fnmatch.fnmatchcase(relative, from_root):
            return True
        if fnmatch.fnmatchcase(absolute.as_posix(), pattern):
            return True
    return False


# --------------------------------------------------------------------------- the walk


@dataclass
class Discovery:
    """The files to check, in order, each as the path to show for it."""

    files: list[str] = field(default_factory=list)
    skipped: int = 0


def is_virtualenv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file()


def discover(paths, root: Path, exclude=(), use_gitignore: bool = True, gitignore_root: Path | None = None) -> Discovery:
    """Expand ``paths`` (files, folders, or '-' for standard input) into files to check.

    ``exclude`` patterns match paths from ``root``; the ``.gitignore`` read is that of
    ``gitignore_root`` (default: ``root``).  Raises DiscoveryError for a path that does not exist.
    """
    root = Path(os.path.abspath(root))
    ignore_root = Path(os.path.abspath(gitignore_root)) if gitignore_root is not None else root
    gitignore = GitIgnore.read(ignore_root) if use_gitignore else None
    result = Discovery()
    seen: set[str] = set()

    def add(display: str) -> None:
        key = os.path.normcase(os.path.abspath(display)) if display != "-" else "-"
        if key not in seen:
            seen.add(key)
            result.files.append(display)

    for given in paths:
        if given == "-":
            add("-")
            continue
        path = Path(given)
        if path.is_dir():
            if excluded_here_or_above(path, exclude, root):
                result.skipped += 1
                continue
            for found in _walk(path, root, exclude, gitignore, result, ignore_root):
                add(found)
        elif path.exists():
            if excluded_here_or_above(path, exclude, root):
                result.skipped += 1
                continue
            add(given)
        else:
            raise DiscoveryError(f"{given}: no such file or folder")
    return result


def excluded_here_or_above(path: Path, patterns, root: Path) -> bool:
    """Does an ``--exclude`` glob match ``path``, or a folder above it inside ``root``?"""
    if not patterns:
        return False
    absolute = Path(os.path.abspath(path))
    if excluded(absolute, patterns, root):
        return True
    for folder in absolute.parents:
        if folder == root or root not in folder.parents:
            return False
        if excluded(folder, patterns, root):
            return True
    return False


def _walk(top: Path, root: Path, exclude, gitignore: GitIgnore | None, result: Discovery,
          ignore_root: Path | None = None):
    found = []
    for folder, subfolders, files in os.walk(top):
        folder_path = Path(folder)
        kept = []
        for name in sorted(subfolders):
            sub = folder_path / name
            if name in SKIPPED_FOLDERS or name.endswith(".egg-info") or is_virtualenv(sub) \
                    or excluded(sub, exclude, root) or _git_ignored(sub, ignore_root or root, gitignore, True):
                result.skipped += 1
                continue
            kept.append(name)
        subfolders[:] = kept
        for name in sorted(files):
            if not name.endswith(SOURCE_SUFFIXES):
                continue
            file = folder_path / name
            if excluded(file, exclude, root) or _git_ignored(file, ignore_root or root, gitignore, False):
                result.skipped += 1
                continue
            found.append(os.path.normpath(str(file)))
    return sorted(found, key=lambda p: Path(p).parts)


def _git_ignored(path: Path, root: Path, gitignore: GitIgnore | None, is_folder: bool) -> bool:
    if gitignore is None:
        return False
    try:
        relative = Path(os.path.abspath(path)).relative_to(root).as_posix()
    except ValueError:
        return False
    return gitignore.ignored(relative, is_folder)
