"""The model state: trainable parameters and non-trainable state, as plain dicts."""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["ModelState", "get_path", "set_path"]


class ModelState(NamedTuple):
    """What `init` returns and `predict` consumes; a JAX pytree.

    Attributes:
        params: trainable parameters, `{namespace: {layer: {name: array}}}`; give this
            part to an optax optimizer.
        state: non-trainable values (e.g. batch-norm `mean`/`var`), same nesting.
    """

    params: dict[str, Any]
    state: dict[str, Any]


def get_path(tree: dict, path: tuple[str, ...]) -> Any:
    """The value at `path` in nested dicts, or `None` when absent."""
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def set_path(tree: dict, path: tuple[str, ...], value: Any) -> None:
    """Store `value` at `path` in nested dicts, creating the dicts on the way."""
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value
