"""Primitive cases of shard_map (a mesh of this machine's first device), at two shapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from tests.converters.jaxpr_export.cases import normal


def _sharded(x, y):
    mesh = Mesh(jax.devices()[:1], ("x",))
    body = jax.shard_map(
        lambda a, b: (jnp.sin(a) * 2.0 + b, a @ b.T),
        mesh=mesh,
        in_specs=(P("x"), P("x")),
        out_specs=(P("x"), P("x")),
    )
    return body(x, y)


CALL_CASES = {"shard_map": [(_sharded, (normal(2, n), normal(2, n))) for n in (3, 5)]}
