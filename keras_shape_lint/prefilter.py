"""The cheap test that decides whether a file is worth parsing at all.

It lives apart from the parser so that a flake8 run over code that never names
Keras imports neither libcst nor z3.
"""

from __future__ import annotations

import re

# Any of these words must appear for a file to be worth parsing.
_KERAS_HINT = re.compile(r"\b(keras\w*|tensorflow|tf_keras)\b")


def mentions_keras(text: str) -> bool:
    """Files that never name Keras or TensorFlow are skipped."""
    return _KERAS_HINT.search(text) is not None


# --------------------------------------------------------------------------- size guard
#
# libcst's parse cannot be interrupted, and it holds about 5.5 kB per syntax node (the standard
# library's tree about 0.8 kB), so a file is judged by its size before either parser sees it.
# Seconds per syntax node, in CPU time on a shared 2-core machine (keras, keras-hub and generated
# code): the standard library's parse 2-5 us, one walk of its tree 3 us, libcst's parse 20-65 us.
# The constants are deliberately fixed (not measured as the file is read): the same file gets the
# same decision on every run, however busy the machine.

#: files with more syntax nodes than this are not parsed, whatever the time budget (about 250 MB)
MAX_NODES = 40_000
AST_S_PER_NODE = 5e-6
FACTS_S_PER_NODE = 3e-6
CST_S_PER_NODE = 50e-6

# one match per token that makes a syntax node: a whole string literal is one, a comment none
_TOKEN = re.compile(r"""
    [rRbBuUfF]{0,2}(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
  | \#[^\n]*
  | [^\W\d]\w*
  | \d[\w.]*
  | [^\s\w\#]
""", re.VERBOSE)


def count_tokens(text: str, limit: int) -> int:
    """The tokens of ``text`` that make syntax nodes (about one node each), counted up to
    ``limit`` + 1: the cost is bounded by ``limit`` whatever the size of the text."""
    count = 0
    for match in _TOKEN.finditer(text):
        if match.group()[0] != "#":
            count += 1
            if count > limit:
                break
    return count


def too_large_to_read(text: str, seconds_left: float, budget: float, parsed: bool = False) -> str | None:
    """Why ``text`` should not be parsed at all (a budget note), judged from its tokens; None to
    go on.  ``parsed``: the caller already has the standard library's tree (flake8 does)."""
    if len(text) <= MAX_NODES:  # every token takes a character: too few to matter
        return None
    tokens = count_tokens(text, MAX_NODES)
    if tokens > MAX_NODES:
        return f"more than {MAX_NODES} tokens: too large to analyse"
    per_node = FACTS_S_PER_NODE + CST_S_PER_NODE + (0.0 if parsed else AST_S_PER_NODE)
    if tokens * per_node > seconds_left:
        return f"about {tokens} syntax nodes: parsing alone would take longer than the {budget:g} s budget"
    return None


def too_large_to_parse(nodes: int, seconds_left: float, budget: float) -> str | None:
    """Why libcst should not parse a module of ``nodes`` syntax nodes; None to go on."""
    if nodes > MAX_NODES:
        return f"{nodes} syntax nodes: more than the {MAX_NODES} analysed in one file"
    if nodes * CST_S_PER_NODE > seconds_left:
        return f"{nodes} syntax nodes: parsing alone would take longer than the {budget:g} s budget"
    return None
