"""Functions looked up by name: the ``get`` of :mod:`axonnx.losses` and :mod:`axonnx.metrics`."""

from collections.abc import Callable
from typing import Any


def by_name(
    kind: str, table: dict[str, Callable[..., Any]], name_or_fn: str | Callable
) -> Callable:
    """Returns ``table[name_or_fn]``, or ``name_or_fn`` when it is callable.

    Args:
        kind: what the table holds, for the error message (``"loss"``, ``"metric"``).
        table: the functions by name.
        name_or_fn: a name in ``table``, or a callable (returned as is).

    Raises:
        ValueError: if the name is not in ``table``; the message lists the valid names.

    >>> by_name("function", {"abs": abs}, "abs") is abs
    True
    """
    if callable(name_or_fn):
        return name_or_fn
    if name_or_fn not in table:
        raise ValueError(
            f"{kind}: expected a callable or one of {sorted(table)}, got {name_or_fn!r}."
        )
    return table[name_or_fn]
