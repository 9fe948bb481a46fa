"""Scopes of a summary's tree: nesting, collapsing identical repeated blocks into one
entry (`layer.{0..11}  ×12`), merging single-child chains (`encoder.layer`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["OUTSIDE", "Entry", "assemble", "freeze", "hoisted"]

OUTSIDE = ("\0outside",)  # the scope path standing for "a model output"
_INDEXED = re.compile(r"^(.*?)(\d+)$")


@dataclass
class Entry:
    """One row of a summary: a layer (with what is folded into it) or a scope.

    Counts of a scope (and of a collapsed group of `repeat` identical blocks) are the
    sums over everything in it; a group's `children` describe one of its blocks.
    """

    name: str
    kind: str  # "input", "layer" or "scope"
    op: str = ""
    shape: Any = None
    dtype: Any = None
    params: int = 0
    params_bytes: int = 0
    fixed: int = 0  # non-trainable: state and frozen parameters
    fixed_bytes: int = 0
    constants: int = 0
    constants_bytes: int = 0
    nodes: int = 1
    policy: str | None = None
    inputs: tuple[str, ...] = ()
    repeat: int = 1
    children: list[Entry] = field(default_factory=list)
    # where it sits and the scopes of its users (to find a scope's output)
    path: tuple[str, ...] = ()
    exits: tuple[tuple[str, ...], ...] = ()
    signature: tuple = ()
    parts: list = field(default_factory=list)
    imported: bool = False

    @property
    def bytes(self) -> int:
        return self.params_bytes + self.fixed_bytes + self.constants_bytes

    def height(self) -> int:
        """Scope levels below this entry (0 for a layer)."""
        if self.kind != "scope":
            return 0
        return 1 + max((c.height() for c in self.children), default=0)


def hoisted(path: tuple[str, ...], used_in: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The scope of a layer, moved up out of a block `<prefix><i>` when other blocks
    of the same family use it too (a mask computed in `layer.0` for every layer)."""
    for k, segment in enumerate(path):
        match = _INDEXED.match(segment)
        if not match or not match.group(1):
            continue
        parent = path[:k]
        blocks = {
            u[: k + 1]
            for u in used_in
            if len(u) > k and u[:k] == parent and _family(u[k]) == match.group(1)
        }
        if path[: k + 1] in blocks and len(blocks) > 1:
            return parent
    return path


def _family(segment: str) -> str | None:
    match = _INDEXED.match(segment)
    return match.group(1) if match else None


def freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    return value


def assemble(rows: list[Entry]) -> Entry:
    root = Entry("", "scope", nodes=0)
    scopes: dict[tuple[str, ...], Entry] = {(): root}
    for row in rows:
        parent = root
        for depth in range(1, len(row.path) + 1):
            key = row.path[:depth]
            if key not in scopes:
                scopes[key] = Entry(key[-1], "scope", nodes=0, path=key)
                parent.children.append(scopes[key])
            parent = scopes[key]
        parent.children.append(row)
    _finish(root)
    return root


def _finish(scope: Entry) -> None:
    """Aggregate, collapse repeated blocks and merge single-child chains, bottom-up."""
    for child in scope.children:
        if child.kind == "scope":
            _finish(child)
    scope.children = _collapse(scope.children)
    scope.children = [_merge(c) for c in scope.children]
    if scope.path:
        _aggregate(scope)


def _aggregate(scope: Entry) -> None:
    for name in ("params", "params_bytes", "fixed", "fixed_bytes", "constants"):
        setattr(scope, name, sum(getattr(c, name) for c in scope.children))
    scope.constants_bytes = sum(c.constants_bytes for c in scope.children)
    scope.nodes = sum(c.nodes for c in scope.children)
    policies = {c.policy for c in scope.children if c.policy}
    scope.policy = policies.pop() if len(policies) == 1 else ("mixed" if policies else None)
    prefix = scope.path  # its output: the last child (or a child's output) used outside it
    leaving = [c for c in scope.children if any(p[: len(prefix)] != prefix for p in c.exits)]
    last = (leaving or scope.children or [None])[-1]
    if last is not None:
        scope.shape, scope.dtype = last.shape, last.dtype
        scope.exits = last.exits
    scope.signature = ("scope",) + tuple(
        (c.name if c.kind == "scope" else "", c.repeat, c.signature) for c in scope.children
    )


def _collapse(children: list[Entry]) -> list[Entry]:
    """Identical sibling scopes named `<prefix><index>` become one entry `×N`."""
    groups: dict[tuple, list[Entry]] = {}
    for child in children:
        match = _INDEXED.match(child.name) if child.kind == "scope" else None
        if match and match.group(1):
            groups.setdefault((match.group(1), child.signature), []).append(child)
    first = {id(members[0]): (key, members) for key, members in groups.items() if len(members) > 1}
    grouped = {id(m) for _, members in first.values() for m in members}
    result = []
    for child in children:
        if id(child) in first:
            (prefix, _), members = first[id(child)]
            result.append(_group(prefix, members))
        elif id(child) not in grouped:
            result.append(child)
    return result


def _group(prefix: str, members: list[Entry]) -> Entry:
    indices = [int(_INDEXED.match(m.name).group(2)) for m in members]
    contiguous = indices == list(range(indices[0], indices[0] + len(indices)))
    span = f"{indices[0]}..{indices[-1]}" if contiguous else ",".join(map(str, indices))
    group = replace(members[0], name=f"{prefix}{{{span}}}", repeat=len(members))
    for name in ("params", "params_bytes", "fixed", "fixed_bytes", "constants", "nodes"):
        setattr(group, name, sum(getattr(m, name) for m in members))
    group.constants_bytes = sum(m.constants_bytes for m in members)
    group.exits = members[-1].exits
    return group


def _merge(entry: Entry) -> Entry:
    """A scope holding one scope becomes `outer.inner`; a scope holding one layer
    becomes that layer under the scope's name."""
    if entry.kind != "scope" or len(entry.children) != 1 or entry.repeat != 1:
        return entry
    (only,) = entry.children
    if only.kind == "scope":
        return replace(
            only, name=f"{entry.name}.{only.name}", signature=(entry.name, only.signature)
        )
    generic = re.sub(r"_\d+$", "", only.name).lower() == only.op.lower()
    name = entry.name if generic or only.imported else f"{entry.name}.{only.name}"
    return replace(only, name=name, path=entry.path, signature=(entry.name, only.signature))
