"""Edits of policies/principals.yaml that keep its comments and layout.

PyYAML cannot round-trip comments, so each edit changes only the lines it must (one field of one
account, or a new account's block) and is then checked: the edited text must parse to exactly the
intended data. If it does not (an unusual layout, flow style), the file is written fresh from the data
with its leading comment block kept. Validation and the atomic write are the caller's (policy_admin.save).
"""
from __future__ import annotations

import copy
import re
from typing import Any

import yaml


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _significant(line: str) -> bool:
    return bool(line.strip()) and not line.lstrip().startswith("#")


def _section(lines: list[str]) -> tuple[int, int, int]:
    """(first line after `principals:`, end of the section, indent of the account names)."""
    start = next(i for i, line in enumerate(lines) if line.rstrip() == "principals:") + 1
    end = next((i for i in range(start, len(lines)) if _significant(lines[i]) and _indent(lines[i]) == 0), len(lines))
    child = next(_indent(lines[i]) for i in range(start, end) if _significant(lines[i]))
    while end > start and not _significant(lines[end - 1]):
        end -= 1
    return start, end, child


def _block(lines: list[str], name: str) -> tuple[int, int, int]:
    """(line of `name:`, end of its block, indent of its fields)."""
    start, end, child = _section(lines)
    head = next(i for i in range(start, end) if lines[i].rstrip() == f"{' ' * child}{name}:")
    stop = next((i for i in range(head + 1, end) if _significant(lines[i]) and _indent(lines[i]) <= child), end)
    while stop > head + 1 and not _significant(lines[stop - 1]):
        stop -= 1
    field = next((_indent(lines[i]) for i in range(head + 1, stop) if _significant(lines[i])), child + 2)
    return head, stop, field


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def _set_field(lines: list[str], name: str, key: str, value: Any) -> list[str]:
    head, stop, field = _block(lines, name)
    out = list(lines)
    hit = next((i for i in range(head + 1, stop) if re.match(rf"^ {{{field}}}{re.escape(key)}:", lines[i])), None)
    if value is None:
        if hit is not None:
            del out[hit]
        return out
    line = f"{' ' * field}{key}: {_scalar(value)}"
    if hit is None:
        out.insert(stop, line)
    else:
        out[hit] = line
    return out


def _add_block(lines: list[str], name: str, entry: dict[str, Any]) -> list[str]:
    _, end, child = _section(lines)
    block = [f"{' ' * child}{name}:"] + [f"{' ' * (child + 2)}{k}: {_scalar(v)}" for k, v in entry.items() if v is not None]
    return lines[:end] + block + lines[end:]


def _fresh(original: str, data: dict[str, Any]) -> str:
    header = []
    for line in original.splitlines():
        if line.startswith("#") or not line.strip():
            header.append(line)
        else:
            break
    return "\n".join(header) + ("\n" if header else "") + yaml.safe_dump(data, sort_keys=False, width=10_000)


def edit(original: str, change: dict[str, dict[str, Any] | None], *, new: dict[str, Any] | None = None) -> str:
    """Apply field changes `{name: {field: value or None (remove)}}` and add `new` accounts
    (`{name: entry}`); return the new text of principals.yaml."""
    data = yaml.safe_load(original) or {}
    intended = copy.deepcopy(data)
    principals = intended.setdefault("principals", {})
    for name, fields in change.items():
        for key, value in (fields or {}).items():
            if value is None:
                principals[name].pop(key, None)
            else:
                principals[name][key] = value
    for name, entry in (new or {}).items():
        principals[name] = {k: v for k, v in entry.items() if v is not None}
    try:
        lines = original.splitlines()
        for name, fields in change.items():
            for key, value in (fields or {}).items():
                lines = _set_field(lines, name, key, value)
        for name, entry in (new or {}).items():
            lines = _add_block(lines, name, entry)
        text = "\n".join(lines) + "\n"
        if yaml.safe_load(text) == intended:
            return text
    except (StopIteration, yaml.YAMLError):
        pass  # a layout the line edit does not understand: write the data fresh below
    return _fresh(original, intended)
