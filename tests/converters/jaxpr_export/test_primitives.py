"""Every mapped jaxpr primitive, exported with ax.export_function and run in
onnxruntime, matches JAX at two shapes; the table covers every mapped primitive."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from jax import lax

from axonnx.converters.jaxpr_export import PRIMITIVES
from axonnx.errors import UnsupportedOpError
from tests.converters.jaxpr_export.cases import CASES as TABLE_CASES
from tests.converters.jaxpr_export.cases import positive
from tests.converters.jaxpr_export.cases_bits import BIT_CASES
from tests.converters.jaxpr_export.cases_calls import CALL_CASES
from tests.converters.jaxpr_export.cases_linalg import CONTRACTION_CASES, LINALG_CASES
from tests.converters.jaxpr_export.cases_special import SPECIAL_CASES
from tests.converters.jaxpr_export.check import assert_matches, primitives_of

FAMILIES = [
    importlib.import_module(f"tests.converters.jaxpr_export.cases_{name}")
    for name in "complex_pairs eigen factor_steps householder incomplete random_bits".split()
]
"""Case modules with a `CASES` and a `TOLERANCE` table each."""

CASES = {
    **TABLE_CASES,
    **BIT_CASES,
    **CALL_CASES,
    **SPECIAL_CASES,
    **LINALG_CASES,
    **CONTRACTION_CASES,
    **{name: pairs for family in FAMILIES for name, pairs in family.CASES.items()},
}
TOLERANCE = {
    "triangular_solve": 1e-4,
    "cholesky": 1e-4,
    "erf_family": 2e-5,
    "cumlogsumexp": 2e-5,
    "trig": 2e-5,
    **{name: tol for family in FAMILIES for name, tol in family.TOLERANCE.items()},
}
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
    untested = sorted(set(PRIMITIVES) - seen - NOT_PRODUCED - STATISTICAL)
    assert untested == []


STATISTICAL = {"rng_uniform"}
"""Primitives whose contract is a distribution: tested in test_rng_uniform.py."""

NOT_PRODUCED = set()
"""Primitive names mapped for other JAX versions that this JAX never produces."""


JAX2ONNX = Path(__file__).with_name("jax2onnx_primitives.txt")
NOT_IN_THIS_JAX = {"pjit", "select", "lax.fori_loop"}
"""jax2onnx names this JAX has no primitive for: pjit is now `jit`, select is
`select_n`, and fori_loop lowers to `while` or `scan`."""


def _jax_primitive_names() -> set[str]:
    import jax.lax.linalg  # noqa: F401  (defines the linalg primitives)
    from jax.extend.core import Primitive

    return {
        value.name
        for module in list(sys.modules.values())
        if getattr(module, "__name__", "").startswith("jax")
        for value in list(vars(module).values())
        if isinstance(value, Primitive)
    }


def test_every_jax2onnx_primitive_is_mapped():
    listed = {
        line.strip() for line in JAX2ONNX.read_text().splitlines() if not line.startswith("#")
    } - {""}
    existing = _jax_primitive_names()
    assert sorted(listed - existing) == sorted(NOT_IN_THIS_JAX)
    assert sorted(listed & existing - set(PRIMITIVES)) == []


def test_an_eigendecomposition_beyond_1x1_says_why():
    with pytest.raises(UnsupportedOpError, match="eig of a 3x3 matrix; mapped: 1x1 .LAPACK geev"):
        assert_matches(lambda a: lax.linalg.eig(a)[0].real, positive(3, 3))


def test_a_schur_form_beyond_1x1_says_why():
    with pytest.raises(UnsupportedOpError, match="schur of a 3x3 matrix; mapped: 1x1"):
        assert_matches(lax.linalg.schur, positive(3, 3))
