"""The text of a finding's message: its code's template, filled in and kept short.

A message names the merge, the two sizes in the user's names, the path condition,
the call chain and a failing example.  When that runs past
:data:`~keras_shape_lint.findings.MAX_MESSAGE` characters it is told more briefly,
step by step: without the precondition (it repeats the sizes), with only the
arguments the sizes depend on, with the call chain's functions without line
numbers, with the sizes' values at the witness instead of their expressions,
without the call chain, and with the path condition only said to exist.
``--explain`` always shows everything.
"""

from __future__ import annotations

import ast

from .findings import CODES, MAX_MESSAGE

CHANNEL_CODES = ("KSL101", "KSL102", "KSL105")


def message(finding) -> str:
    rule = CODES[finding.code]
    fields = finding.fields
    if "left" not in fields or "right" not in fields:
        return rule.template.format(**fields)
    forms = []
    try:
        for brevity in range(7):
            forms.append(_compose(finding, brevity))
            if len(forms[-1]) <= MAX_MESSAGE:
                return forms[-1]
    except Exception:  # noqa: BLE001 -- every front end prints messages: one must never stop it
        if not forms:
            return f"{fields.get('merge', 'a merge')} may merge {fields['left']} and {fields['right']}" \
                   f"{fields.get('when', '')}"
    return min(forms, key=len)


def _compose(finding, brevity: int) -> str:
    """The message at a level of brevity: 0 says everything, 6 is the shortest."""
    rule = CODES[finding.code]
    fields = finding.fields
    left, right = str(fields["left"]), str(fields["right"])
    values = witness_values(finding) if brevity >= 4 else None
    if values is not None and left.isdigit() and right.isdigit():
        values = None  # the sizes are numbers already
    never = bool(fields.get("never")) and bool(rule.never_template) and values is None
    template = rule.never_template if never else rule.template
    if finding.code == "KSL101" and values is not None:
        template = CODES["KSL102"].template
    if values is not None:
        sizes = sizes_phrase(finding.code, fields.get("axis", ""), None, None)
    else:
        sizes = sizes_phrase(finding.code, fields.get("axis", ""), left, right)
    needs = rule.needs.format(left=left, right=right) if brevity == 0 else ""
    only = fields.get("names") if brevity >= 2 else None
    example = example_text(finding, only, values)
    chain = fields.get("chain", "") if brevity < 3 else short_chain(finding) if brevity < 5 else ""
    when = fields.get("when", "")
    if brevity >= 6 and when:
        when = " on one of its paths"
    return template.format(
        merge=fields.get("merge", "a merge"), sizes=sizes, when=when, needs=needs,
        chain=chain, example=example, left=left, right=right,
    )


def witness_values(finding):
    """The two sizes at the finding's witness, read from the sizes as shown (Python in the
    user's names), or None when the witness does not fix them."""
    witness = finding.witness
    if witness is None:
        return None
    names = {**witness.args, **(witness.call or {})}
    for label, shape in zip(finding.fields.get("data_names") or (), witness.data or ()):
        names[label] = {"shape": shape}
    try:
        return tuple(_evaluate(ast.parse(str(finding.fields[side]), mode="eval").body, names)
                     for side in ("left", "right"))
    except (SyntaxError, ValueError, KeyError, IndexError, TypeError, ZeroDivisionError):
        return None


def _evaluate(node, names: dict) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        value = names[node.id]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand, names)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATIONS:
        return _OPERATIONS[type(node.op)](_evaluate(node.left, names), _evaluate(node.right, names))
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "shape" \
            and isinstance(node.value.value, ast.Name):
        size = names[node.value.value.id]["shape"][_evaluate(node.slice, names)]
        if size is None:
            raise ValueError("unknown size")
        return size
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id == "channels" and len(node.args) == 1 and isinstance(node.args[0], ast.Name):
            return names[node.args[0].id]["shape"][-1]
        if node.func.id in ("max", "min", "int"):
            values = [_evaluate(a, names) for a in node.args]
            return {"max": max, "min": min, "int": lambda v: v}[node.func.id](*values)
    raise ValueError(ast.dump(node))


_OPERATIONS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
               ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b}


def sizes_phrase(code: str, axis: str, left, right) -> str:
    """``filters*2 and channels(x) channels``, ``1 channel and 64 channels``,
    ``spatial axis 1 sizes a and b``; with no sizes given, the kind of size that differs."""
    channels = code in CHANNEL_CODES or axis.startswith("channel")
    if left is None:
        return "channel counts that differ" if channels else f"{axis} sizes that differ"
    if channels:
        if left == "1" or right == "1":
            return f"{_count(left)} and {_count(right)}"
        return f"{left} and {right} channels"
    return f"{axis} sizes {left} and {right}"


def _count(size: str) -> str:
    return "1 channel" if size == "1" else f"{size} channels"


def example_text(finding, only=None, values=None) -> str:
    """The failing example as the message shows it: the arguments that differ from the
    defaults (only those named in ``only``, when given), the data fed to inputs whose sizes
    Keras leaves open, or that the defaults fail."""
    witness = finding.witness
    fields = finding.fields
    if witness is None or "defaults" not in fields:
        return fields.get("example", "")
    defaults = fields["defaults"]
    mentioned = " ".join(finding.path_condition)
    parts, omitted, decided = [], False, False
    for name, value in {**witness.args, **(witness.call or {})}.items():
        if f"{name}=" in mentioned:
            decided = True
            continue
        if name in defaults and defaults[name] == value and type(defaults[name]) is type(value):
            continue
        if only is not None and name not in only:
            omitted = True
            continue
        parts.append(_argument(name, value))
    arguments = bool(parts)
    for label, shape in zip(fields.get("data_names") or (), witness.data or ()):
        parts.append(f"{label} of shape ({', '.join(str(1 if d is None else d) for d in shape)})")
    if values is not None:
        sizes = f"{values[0]} and {values[1]}"
        return f" (e.g. {sizes} with {', '.join(parts)})" if parts else f" (e.g. {sizes} with the defaults)"
    if not arguments and not omitted and defaults and witness.entry is not None:
        parts.append("other arguments at their defaults" if decided else "with the defaults")
        if len(parts) == 1:
            return f" ({parts[0]})"
    return f" (e.g. {', '.join(parts)})" if parts else ""


def _argument(name: str, value) -> str:
    if isinstance(value, dict) and "shape" in value:
        return f"{name}: ({', '.join('None' if d is None else str(d) for d in value['shape'])})"
    return f"{name}={value!r}"


def short_chain(finding) -> str:
    """The call chain with the functions only; where the merge lives, if in another file."""
    if not finding.call_chain:
        return finding.fields.get("chain", "")
    entry = finding.witness.entry if finding.witness else None
    steps = ([f"{entry}()"] if entry else []) + [f"{site.function}()" for site in finding.call_chain]
    chain = finding.fields.get("chain", "")
    elsewhere = chain[chain.find(" (the merge is in "):] if " (the merge is in " in chain else ""
    return f" (called {' -> '.join(steps)}){elsewhere}"
