"""``--explain``: what a finding means for this code, and a checked change that fixes it.

For each finding the explanation shows the merge, the two sizes it compares as
expressions in the user's names, the precondition or why none exists, the path
condition, the call chain, the witness written as a call of the entry function
and what Keras does with it, and then either a fix or advice:

* a fix (fixcheck.py) is a change that was applied and linted again: the finding
  is gone and nothing new appears.  It names every finding it clears; a finding
  that another finding's fix clears points to that fix;
* advice is said in words when no change could be checked.
"""

from __future__ import annotations

from .findings import Finding
from .mergesource import ADDITIVE_MERGES, CONCAT_MERGES, Source, is_method
from .messages import CHANNEL_CODES

_UNSET = object()


def _remedy(finding: Finding) -> str:
    """What a KSL901 or KSL902 reader can do: the options that raise the budgets it names."""
    if finding.code == "KSL902":
        return "Please report it with the smallest file that shows it and the message"
    reason = finding.fields.get("reason", "")
    options = [option for budget, option in (("path budget", "--max-paths"), ("time budget", "--timeout"))
               if budget in reason]
    if options:
        return f"Raise the budget ({', '.join(options)}) or split the module"
    return ("No option raises this bound (it keeps the analysis finite); a loop whose count no caller "
            "fixes, or a deep chain of calls, can be split into smaller functions")


def explain(finding: Finding, text: str, data_format: str = "channels_last", fix=_UNSET,
            options=None, path: str | None = None) -> str:
    """The multi-line explanation printed under a finding by ``--explain``.

    ``fix`` is the finding's entry of :func:`keras_shape_lint.fixcheck.plan` (None:
    no checked fix); left out, it is planned here for this finding alone."""
    out = []
    fields = finding.fields
    if finding.code in ("KSL901", "KSL902"):
        out.append(f"    {finding.rule.description}")
        out.append(f"    {_remedy(finding)}; see {finding.rule.help_uri}.")
        return "\n".join(out)
    if "left" not in fields or "right" not in fields:  # a finding about the analysis, not two sizes
        out.append("    " + _indent_wrapped(finding.rule.description, 4, 100))
        out.append(f"    See {finding.rule.help_uri}.")
        return "\n".join(out)
    source = Source(text)
    site = source.merge_at(finding.line, finding.col, fields.get("merge")) if source.tree is not None else None
    if site is not None:
        out.append(f"    merge:       {_one_line(source.segment(site.node))}  (line {finding.line})")
    else:
        statement = source.line(finding.line).split("  #")[0].strip()
        out.append(f"    merge:       {fields.get('merge', 'a merge')}, reached through "
                   f"`{_one_line(statement)}` (line {finding.line})")
    channels = finding.code in CHANNEL_CODES or fields.get("axis") == "channel axis"
    what = "channels" if channels else fields.get("axis", "size")
    names = [source.segment(o) for o in site.operands] if site is not None and len(site.operands) >= 2 else []
    left_name = f"`{_one_line(names[0])}`" if names else "first input"
    right_name = f"`{_one_line(names[1])}`" if len(names) > 1 else "other input"
    width = max(len(left_name), len(right_name))
    out.append(f"    inputs:      {left_name.ljust(width)}  {what}: {fields.get('left')}")
    out.append(f"                 {right_name.ljust(width)}  {what}: {fields.get('right')}")
    out.append(_verdict(finding))
    condition = " and ".join(finding.path_condition) if finding.path_condition else "on every path"
    out.append(f"    when:        {condition}")
    out.append(f"    call chain:  {_chain(finding)}")
    call = witness_call(finding)
    if call:
        out.append(f"    witness:     {call}")
        out.append(f"                 {_effect(finding)}")
    if fix is _UNSET:
        from .fixcheck import plan

        fix = plan(text, [finding], options, path, data_format)[0]
    out.extend(_fix_lines(finding, fix, source))
    if fix is None:
        out.append("    advice:      " + _indent_wrapped(advice(finding, source, site), 17, 100))
    return "\n".join(out)


def _verdict(finding: Finding) -> str:
    fields = finding.fields
    if finding.code == "KSL105":
        return "    verdict:     one input can have a single channel, which Keras broadcasts without an error"
    if finding.code == "KSL101":
        if fields.get("one_possible", False):
            return ("    verdict:     the two can never be equal; only where one of them is 1 does Keras "
                    "broadcast it instead of failing")
        return "    verdict:     the two can never be equal, and neither is ever 1 (which Keras would broadcast)"
    if fields.get("never"):
        return "    verdict:     the two can never be equal"
    return f"    needs:       {fields.get('left')} == {fields.get('right')}"


def _effect(finding: Finding) -> str:
    if finding.code == "KSL105":
        return "builds, and Keras broadcasts the single channel at this merge without an error"
    if finding.code == "KSL106":
        labels = finding.fields.get("data_names") or []
        data = finding.witness.data or []
        fed = ", ".join(f"a batch of shape ({', '.join(str(1 if d is None else d) for d in shape)}) for `{label}`"
                        for label, shape in zip(labels, data))
        return f"builds the model; {fed or 'data'} then fails at this merge"
    return "makes Keras raise at this merge while it builds the model"


def _fix_lines(finding: Finding, fix, source: Source) -> list[str]:
    if fix is None:
        return []
    if fix.finding is not finding and (fix.finding.code, fix.finding.line, fix.finding.col) != (
            finding.code, finding.line, finding.col):
        return [f"    fix:         the change shown for {fix.finding.code} at line {fix.finding.line} "
                "clears this finding too"]
    cleared = _listed(fix.clears)
    out = ["    fix:         " + _indent_wrapped(fix.summary, 17, 100),
           "                 " + _indent_wrapped(f"Checked: with this change the analyser no longer reports "
                                                 f"{cleared}, and reports nothing new.", 17, 100)]
    for edit in fix.edits:
        out.append(f"      line {edit.start}" + (f"-{edit.end}" if edit.end != edit.start else "") + ":")
        for number in range(edit.start, edit.end + 1):
            out.append(f"        - {source.line(number)}")
        for line in edit.new:
            out.append(f"        + {line}")
    return out


def _listed(findings) -> str:
    """``KSL102 and KSL103 at line 35, KSL101 at line 40``."""
    by_line: dict = {}
    for found in findings:
        by_line.setdefault(found.line, []).append(found.code)
    parts = [f"{' and '.join(codes)} at line {line}" for line, codes in by_line.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def advice(finding: Finding, source: Source, site) -> str:
    """What to change, in words, when no change could be checked."""
    if site is None:
        return (f"The {finding.fields.get('merge', 'merge')} is not on this line: the call here leads to it (the "
                "message says where). Change the arguments passed here, or run --explain on the module that "
                "holds the merge.")
    # a KSL106 of channels: a merge in a call() Keras runs only on data (not a concatenation's)
    data_channels = (finding.code == "KSL106" and finding.fields.get("axis") == "channel axis"
                     and site.layer.lower() not in CONCAT_MERGES)
    if finding.code in CHANNEL_CODES or data_channels:
        if site.layer.lower() not in ADDITIVE_MERGES:
            return (f"`{site.layer}` is not a residual sum, so a projection is not the fix: size the input that a "
                    "layer computes from the other input's channel count (its `.shape[-1]`, or `.shape[1]` for "
                    "channels_first) instead of a separate argument, so both always agree.")
        if is_method(site):
            return ("In a layer class, create the 1x1 projection (with the main branch's strides) in __init__ and "
                    "apply it in call() whenever the channels or the stride differ, instead of only when a flag "
                    "asks for it.")
        return ("Give both inputs the same number of channels: project one of them with a 1x1 convolution (a Dense "
                "layer for vectors) to the other's channel count, or change the layer that sets one input's "
                "channels.")
    sizes = f"({finding.fields.get('left')} against {finding.fields.get('right')})"
    if finding.fields.get("axis") == "channel axis":
        return (f"The inputs have different channel counts {sizes}, and only the concatenation axis may differ: "
                "concatenate along the channel axis (axis=-1, or axis=1 for channels_first), or give both "
                "inputs the same channels.")
    text = (f"The inputs reach the merge with different {finding.fields.get('axis', 'sizes')} sizes {sizes}. "
            "Downsample them by the same factor: the same strides on both branches, a pooling of the "
            "shortcut with pool_size and strides equal to the other branch's stride and padding=\"same\", "
            "padding=\"same\" instead of 'valid' on the layers of one branch, or a crop or resize of one "
            "input to the other's size (Cropping2D, Resizing). Upsampling by 2 does not undo a stride-2 "
            "layer on odd sizes.")
    if finding.code == "KSL106":
        text += " Where the model needs a fixed size, declare it in the Input shape, so Keras checks it when it builds."
    return text


# --------------------------------------------------------------------------- the witness


def witness_call(finding: Finding) -> str | None:
    """The witness as Python: ``block(x=keras.Input(shape=(56, 56, 64)), filters=64)``."""
    if finding.witness is None:
        return None
    args = ", ".join(f"{name}={_witness_python(value)}" for name, value in finding.witness.args.items())
    if finding.witness.entry is None:
        return "running the module's top level" + (f" with {args}" if args else "")
    call = getattr(finding.witness, "call", None)
    if call:  # a layer class: construct it, then call it on these inputs
        inputs = ", ".join(_witness_python(value) for value in call.values())
        return f"{finding.witness.entry}({args})({inputs})"
    return f"{finding.witness.entry}({args})"


def _witness_python(value) -> str:
    if isinstance(value, dict) and "shape" in value:
        shape = value["shape"][1:]
        inner = ", ".join("None" if d is None else str(d) for d in shape)
        if len(shape) == 1:
            inner += ","
        return f"keras.Input(shape=({inner}))"
    if isinstance(value, list):
        return "(" + ", ".join(_witness_python(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def _chain(finding: Finding) -> str:
    entry = finding.witness.entry if finding.witness else None
    if not finding.call_chain:
        return f"{entry}() is an entry point (nothing in this file calls it)" if entry else "module top level"
    steps = [f"{entry}()" if entry else "module"]
    steps += [f"{site.function}() called at line {site.line}" for site in finding.call_chain]
    return " -> ".join(steps)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _indent_wrapped(text: str, indent: int, width: int) -> str:
    words = text.split()
    lines, current = [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width - indent:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return ("\n" + " " * indent).join(lines)
