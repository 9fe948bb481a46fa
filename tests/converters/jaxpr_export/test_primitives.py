"""Every mapped jaxpr primitive, exported with ax.export_function and run in
onnxruntime, matches JAX at two shapes; the table covers every mapped primitive."""

from __future__ import annotations

import pytest

from axonnx.converters.jaxpr_export import PRIMITIVES
from tests.converters.jaxpr_export.cases import CASES
from tests.converters.jaxpr_export.check import assert_matches, primitives_of

TOLERANCE = {"erf_family": 2e-5, "cumlogsumexp": 2e-5, "trig": 2e-5}
"""erf_inv (polynomial), cumlogsumexp (shifted sums) and the inverse trigonometric
functions differ from XLA's in the last float32 bits."""

PARAMS = [
    pytest.param(fn, args, id=f"{name}-{k}")
    for name, pairs in CASES.items()
    for k, (fn, args) in enumerate(pairs)
]


@pytest.mark.parametrize(("fn", "args"), PARAMS)
def test_primitive_matches_jax(fn, args, request):
    name = request.node.callspec.id.rsplit("-", 1)[0]
    tolerance = TOLERANCE.get(name, 1e-5)
    assert_matches(fn, *args, rtol=tolerance, atol=tolerance)


def test_every_mapped_primitive_is_in_the_table():
    seen = set()
    for pairs in CASES.values():
        fn, args = pairs[0]
        seen |= primitives_of(fn, *args)
    untested = sorted(set(PRIMITIVES) - seen - NOT_PRODUCED)
    assert untested == []


NOT_PRODUCED = set()
"""Primitive names mapped for other JAX versions that this JAX never produces."""
