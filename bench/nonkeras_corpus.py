"""Corpora for the benchmarks: where the installed packages' sources live.

Nothing here imports the packages it locates: ``importlib.util.find_spec`` reads
the import system's metadata, so Keras and TensorFlow are never loaded by the
linter's benchmarks (importing them is measured separately, on purpose).
"""

from __future__ import annotations

import importlib.util
import sys
import sysconfig
from pathlib import Path


def package_dir(name: str) -> Path | None:
    """The source folder of an installed package, without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(spec.origin).parent if spec.origin else None


def keras_applications() -> list[Path]:
    """``keras/src/applications/*.py`` of the installed Keras, tests excluded."""
    root = package_dir("keras")
    if root is None:
        return []
    folder = root / "src" / "applications"
    return sorted(p for p in folder.glob("*.py") if not p.name.endswith("_test.py"))


def keras_hub_models() -> list[Path]:
    """``keras_hub/src/models/**/*.py`` of the installed keras-hub (the open third-party corpus)."""
    root = package_dir("keras_hub")
    if root is None:
        return []
    return sorted((root / "src" / "models").rglob("*.py"))


def non_keras_sources() -> list[Path]:
    """Every ``.py`` file of the installed flake8 and pyflakes: Python that never names Keras."""
    files: list[Path] = []
    for name in ("flake8", "pyflakes"):
        root = package_dir(name)
        if root is not None:
            files.extend(sorted(root.rglob("*.py")))
    return files


def site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def site_packages_sources(every: int = 1, offset: int = 0) -> list[Path]:
    """All ``.py`` files under site-packages in a fixed order; every ``every``-th one."""
    root = site_packages()
    files = sorted(p for p in root.rglob("*.py") if p.is_file() and "__pycache__" not in p.parts)
    return files[offset::every]


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "nonkeras"
    chosen = {"keras": keras_applications, "hub": keras_hub_models, "nonkeras": non_keras_sources,
              "site": site_packages_sources}[which]()
    print("\n".join(str(p) for p in chosen))
