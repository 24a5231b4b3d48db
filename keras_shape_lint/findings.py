"""The KSL codes, their messages, and the typed findings the analyser produces.

Every message lives in :data:`CODES`; the core produces :class:`Finding`
objects and only the front ends turn them into text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Code:
    code: str
    title: str
    template: str
    default_on: bool = True


CODES: dict[str, Code] = {
    c.code: c
    for c in (
        Code(
            "KSL101",
            "merge channels never match",
            "{merge} merges {left} and {right} channels{when}: they can never be equal{chain}{example}",
        ),
        Code(
            "KSL102",
            "merge channels may differ",
            "{merge} may merge {left} and {right} channels{when}: it needs {left} == {right}{chain}{example}",
        ),
        Code(
            "KSL103",
            "merge spatial sizes may differ",
            "{merge} may merge {axis} sizes {left} and {right}{when}: it needs {left} == {right}{chain}{example}",
        ),
        Code(
            "KSL104",
            "concatenated shapes differ off the concat axis",
            "{merge} may concatenate {axis} sizes {left} and {right} (only the concat axis may differ){when}: "
            "it needs {left} == {right}{chain}{example}",
        ),
        Code(
            "KSL901",
            "analysis incomplete: a budget was exhausted",
            "keras-shape-lint stopped early in {where}: {reason}",
            default_on=False,
        ),
        Code(
            "KSL902",
            "analysis incomplete: internal error",
            "keras-shape-lint could not analyse {where}: {reason}",
            default_on=False,
        ),
    )
}


@dataclass
class Witness:
    """Concrete inputs under which Keras fails at the merge.

    ``entry`` is the function to call (None: the module's top level does it);
    ``args`` maps its parameter names to ints, bools, strings, or
    ``{"shape": [None, 56, 56, 64]}`` for an input tensor.
    """

    entry: str | None
    args: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"entry": self.entry, "args": self.args}


@dataclass
class CallSite:
    function: str
    line: int


@dataclass
class Finding:
    code: str
    line: int
    col: int
    fields: dict
    path_condition: list = field(default_factory=list)
    call_chain: list = field(default_factory=list)
    witness: Witness | None = None

    @property
    def message(self) -> str:
        return CODES[self.code].template.format(**self.fields)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "line": self.line,
            "column": self.col + 1,
            "message": self.message,
            "path_condition": list(self.path_condition),
            "call_chain": [{"function": c.function, "line": c.line} for c in self.call_chain],
            "witness": self.witness.to_json() if self.witness else None,
        }
