"""Folding a metric over the steps of a training loop."""

from typing import Any

import jax
import jax.numpy as jnp


def running_average(previous: Any, value: Any, step: int | jax.Array) -> Any:
    """Folds ``value`` into the mean ``previous`` of the ``step`` values seen so far.

    Works leaf by leaf on pytrees, e.g. a dict of metrics.

    Args:
        previous: the mean of the first ``step`` values (ignored when ``step`` is 0).
        value: the next value, same structure and shapes as ``previous``.
        step: how many values ``previous`` already averages.

    Returns:
        The mean of the ``step + 1`` values.

    >>> float(running_average(jnp.array(2.0), jnp.array(5.0), 2))
    3.0
    """
    return jax.tree.map(lambda p, v: p + (v - p) / (step + 1), previous, value)


def running_sum(previous: Any, value: Any, step: int | jax.Array) -> Any:
    """Adds ``value`` to the running total ``previous``, leaf by leaf on pytrees.

    Args:
        previous: the sum so far.
        value: the next value, same structure and shapes as ``previous``.
        step: how many values ``previous`` already sums; unused, kept so that
            ``running_sum`` and :func:`running_average` are interchangeable.

    Returns:
        ``previous + value``.

    >>> int(running_sum(jnp.array(3), jnp.array(4), 1))
    7
    """
    del step
    return jax.tree.map(jnp.add, previous, value)
