"""The cheap test that decides whether a file is worth parsing at all.

It lives apart from the parser so that a flake8 run over code that never names
Keras imports neither libcst nor z3.
"""

from __future__ import annotations

import re

# Any of these words must appear for a file to be worth parsing.
_KERAS_HINT = re.compile(r"\b(keras|tensorflow|tf_keras)\b")


def mentions_keras(text: str) -> bool:
    """Files that never name Keras or TensorFlow are skipped."""
    return _KERAS_HINT.search(text) is not None
