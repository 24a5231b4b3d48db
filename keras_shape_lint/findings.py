"""The KSL codes, their messages, and the typed findings the analyser produces.

Every message lives in :data:`CODES`; the core produces :class:`Finding`
objects and only the front ends turn them into text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


#: where the project lives (``Repository`` in pyproject.toml's ``[project.urls]``)
REPOSITORY_URL = "https://github.com/keras-shape-lint/keras-shape-lint"


@dataclass(frozen=True)
class Code:
    code: str
    title: str
    #: the message, with ``{merge}``, ``{sizes}`` (both sizes in words), ``{when}``,
    #: ``{needs}`` (the precondition, or nothing), ``{chain}`` and ``{example}``
    template: str
    default_on: bool = True
    #: a short identifier for the rule (SARIF ``reportingDescriptor.name``)
    name: str = ""
    #: what the rule means, in a sentence or two (SARIF ``fullDescription``)
    description: str = ""
    #: severity for machine-readable output: "error", "warning" or "note"
    level: str = "error"
    #: the message when the two sizes can never be equal on the path (no "may", no precondition)
    never_template: str = ""
    #: how ``{needs}`` reads: the precondition that makes the merge safe
    needs: str = ": it needs {left} == {right}"

    @property
    def help_uri(self) -> str:
        """The rule's documentation page: ``docs/rules/KSLnnn.md`` in the repository that
        pyproject.toml's ``[project.urls]`` names (a test holds the two together)."""
        return f"{REPOSITORY_URL}/blob/main/docs/rules/{self.code}.md"


CODES: dict[str, Code] = {
    c.code: c
    for c in (
        Code(
            "KSL101",
            "merge channels never match",
            "{merge} merges {sizes}{when}: they can never be equal{chain}{example}",
            name="MergeChannelsNeverMatch",
            description=(
                "An element-wise merge (Add, Subtract, Multiply, Average, Maximum, Minimum, x + y) "
                "receives inputs whose channel counts can never be equal along some path, so Keras "
                "raises whenever that path is taken (unless one count is 1, which Keras broadcasts)."
            ),
        ),
        Code(
            "KSL102",
            "merge channels may differ",
            "{merge} may merge {sizes}{when}{needs}{chain}{example}",
            name="MergeChannelsMayDiffer",
            description=(
                "An element-wise merge receives inputs whose channel counts agree only under a "
                "precondition on the function's parameters or input shapes; the finding names the "
                "precondition and a witness input that breaks it."
            ),
        ),
        Code(
            "KSL103",
            "merge spatial sizes may differ",
            "{merge} may merge {sizes}{when}{needs}{chain}{example}",
            name="MergeSpatialSizesMayDiffer",
            description=(
                "An element-wise merge receives inputs whose spatial (or sequence) sizes can differ, "
                "typically because one branch is strided, pooled or padded 'valid' and the other is not."
            ),
            never_template="{merge} merges {sizes}{when}: they can never be equal{chain}{example}",
        ),
        Code(
            "KSL104",
            "concatenated shapes differ off the concat axis",
            "{merge} may concatenate {sizes}{when}{needs} (only the concat axis may differ){chain}{example}",
            name="ConcatenateShapesDiffer",
            description=(
                "A Concatenate receives inputs that differ in a dimension other than the concatenation "
                "axis, typically spatial sizes after strided or 'valid' layers on one branch only, or "
                "channel counts when the concatenation runs along another axis."
            ),
            never_template=(
                "{merge} concatenates {sizes}{when}: they can never be equal, and only the concat axis "
                "may differ{chain}{example}"
            ),
        ),
        Code(
            "KSL105",
            "merge silently broadcasts a single channel",
            "{merge} may merge {sizes}{when}: Keras silently broadcasts the single channel "
            "instead of failing{chain}{example}",
            name="MergeBroadcastsSingleChannel",
            description=(
                "An Add, Subtract or Average receives one input with a single channel and one with more: "
                "Keras broadcasts the single channel across the others without an error, which hides a "
                "missing projection (an identity shortcut of 1 channel added onto 256)."
            ),
            level="warning",
        ),
        Code(
            "KSL106",
            "merge sizes differ on data, after the model builds",
            "{merge} may merge {sizes}{when}: the model builds, then the first batch fails{needs}{chain}{example}",
            name="MergeDataSizesDiffer",
            description=(
                "An element-wise merge or a Concatenate receives inputs whose sizes are None when the "
                "model is built (an Input with shape=(None, None, 3)) and differ once data flows, e.g. a "
                "stride or pooling on one branch only; or the merge is in the call() of a layer that "
                "declares compute_output_shape(), which Keras builds from without running call(). Keras "
                "builds the model; the first batch fails."
            ),
            never_template=(
                "{merge} merges {sizes}{when}: they can never be equal, and the model builds, then the first "
                "batch fails{chain}{example}"
            ),
            needs="; it needs {left} == {right}",
        ),
        Code(
            "KSL201",
            "merge could not be proven",
            "{merge} could not be proven: {reason}",
            default_on=False,
            name="MergeNotProven",
            description=(
                "Strict mode: a merge the analysis reached but could neither prove compatible nor show "
                "failing, because it depends on a value the analyser cannot read (an unmodelled layer or "
                "function, a custom layer whose call() cannot be read). Off by default."
            ),
            level="note",
        ),
        Code(
            "KSL202",
            "merge never reached",
            "{merge} was never reached: {reason}",
            default_on=False,
            name="MergeNotReached",
            description=(
                "Strict mode: a merge written in the file that no analysed path reached, so nothing is "
                "known about it (its function is never called from code the analyser runs, or every path "
                "to it stopped earlier). Off by default."
            ),
            level="note",
        ),
        Code(
            "KSL901",
            "analysis incomplete: a budget was exhausted",
            "keras-shape-lint stopped early in {where}: {reason}",
            default_on=False,
            name="AnalysisIncomplete",
            description=(
                "The analysis of a file stopped early because a budget (paths, time, call depth, loop "
                "unrolling, recursion) was exhausted; merges past that point were not checked. Off by default."
            ),
            level="note",
        ),
        Code(
            "KSL902",
            "analysis incomplete: internal error",
            "keras-shape-lint could not analyse {where}: {reason}",
            default_on=False,
            name="AnalysisInternalError",
            description=(
                "The analyser hit an internal error on a file, so part of it was not checked. Off by default."
            ),
            level="note",
        ),
    )
}


#: a message longer than this is told more briefly; --explain holds the long form
MAX_MESSAGE = 200


@dataclass
class Witness:
    """Concrete inputs under which Keras fails at the merge.

    ``entry`` is the function to call (None: the module's top level does it);
    ``args`` maps its parameter names to ints, bools, strings, or
    ``{"shape": [None, 56, 56, 64]}`` for an input tensor.
    """

    entry: str | None
    args: dict = field(default_factory=dict)
    call: dict | None = None  # for a layer class: the arguments of its call()
    data: list | None = None  # KSL106: the shape of the data fed to each Input with None sizes
    data_names: list | None = None  # the names of those Inputs, in the same order

    def to_json(self) -> dict:
        out = {"entry": self.entry, "args": self.args}
        if self.call is not None:
            out["call"] = self.call
        if self.data is not None:
            out["data"] = self.data
            if self.data_names is not None:
                out["data_names"] = self.data_names
        return out


@dataclass
class CallSite:
    function: str
    line: int
    file: str = ""  # the imported module holding the call, when not the linted file


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
    def rule(self) -> Code:
        return CODES[self.code]

    @property
    def message(self) -> str:
        from .messages import message

        return message(self)

    @classmethod
    def incomplete(cls, code: str, reason: str, where: str = "module", line: int = 1) -> "Finding":
        """A KSL901 (budget) or KSL902 (internal error) finding for a whole module."""
        return cls(code=code, line=line, col=0, fields={"where": where, "reason": reason})

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "line": self.line,
            "column": self.col + 1,
            "message": self.message,
            "path_condition": list(self.path_condition),
            "call_chain": [
                {"function": c.function, "line": c.line, **({"file": c.file} if c.file else {})}
                for c in self.call_chain
            ],
            "witness": self.witness.to_json() if self.witness else None,
        }
