"""keras-hub as the tests use it: installed without its dependencies (``pip install --no-deps
keras-hub==0.32.0``), imported module by module.

``import keras_hub`` would import every model and tokenizer, which need packages the test
environment does not install (tokenizers, sentencepiece, kagglehub ...).  An empty package
object for ``keras_hub`` whose search path is the installed folder lets ``keras_hub.src...``
modules import only what they themselves need.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path


def hub_folder() -> Path | None:
    """The installed keras_hub package folder, found without importing it."""
    stub = sys.modules.get("keras_hub")
    if stub is not None and getattr(stub, "__spec__", None) is None and getattr(stub, "__path__", None):
        return Path(list(stub.__path__)[0])  # install_package_stub() ran
    spec = importlib.util.find_spec("keras_hub")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def install_package_stub() -> bool:
    """Make ``keras_hub.src...`` importable without running ``keras_hub/__init__.py``."""
    if "keras_hub" in sys.modules:
        return True
    folder = hub_folder()
    if folder is None:
        return False
    package = types.ModuleType("keras_hub")
    package.__path__ = [str(folder)]
    sys.modules["keras_hub"] = package
    return True


def model_files() -> list[Path]:
    folder = hub_folder()
    return sorted((folder / "src" / "models").rglob("*.py")) if folder is not None else []
