"""Shared check of the jaxpr export tests: export with ax.export_function, run in
onnxruntime, compare with JAX's own result."""

from __future__ import annotations

import jax
import numpy as np
import onnxruntime as ort

import axonnx as ax
from axonnx.converters.jaxpr_export.complex_pairs import pair_array


def run_exported(fn, *args, **kwargs) -> tuple[list, list]:
    """(onnxruntime's outputs, JAX's outputs) of `fn(*args)`, both as flat lists; complex
    arrays are float [..., 2] (real, imaginary), as the exported model takes and gives them."""
    proto = ax.export_function(fn, *args, **kwargs)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    feeds = dict(zip(names, [pair_array(a) for a in jax.tree_util.tree_leaves(args)]))
    got = session.run(None, feeds)
    want = [pair_array(v) for v in jax.tree_util.tree_leaves(jax.jit(fn)(*args))]
    return got, want


def assert_matches(fn, *args, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    """The exported `fn` in onnxruntime matches JAX, output by output."""
    got, want = run_exported(fn, *args)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        if w.dtype == np.bool_ or np.issubdtype(w.dtype, np.integer):
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def primitives_of(fn, *args) -> set[str]:
    """Every primitive in the jaxpr of `fn(*args)`, inner jaxprs included."""
    found: set[str] = set()

    def walk(jaxpr) -> None:
        for eqn in jaxpr.eqns:
            found.add(eqn.primitive.name)
            for value in eqn.params.values():
                for sub in value if isinstance(value, tuple | list) else [value]:
                    inner = getattr(sub, "jaxpr", sub)
                    if hasattr(inner, "eqns"):
                        walk(inner)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return found
