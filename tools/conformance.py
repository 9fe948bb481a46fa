"""The ONNX backend node test cases, run through `import_onnx` + `jax.jit`.

List the failing cases with a one-line reason each (PATTERN filters case names):
    python -m tools.conformance [PATTERN] > failures.txt
"""

from __future__ import annotations

import sys
import warnings

import jax
import onnx
from onnx import numpy_helper
from onnx.backend.test.runner import Runner

from axonnx.converters.backend import AxonnxRep


def node_cases():
    """Every node test case shipped with onnx (its generators warn: silenced)."""
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return collect_testcases()


def run_case(case) -> None:
    """Run one case with 64-bit JAX; raise AssertionError (or any error) on failure."""
    with jax.enable_x64(True), jax.numpy_rank_promotion("allow"):
        rep = AxonnxRep(case.model)
        for inputs, expected in case.data_sets:
            outputs = rep.run([_array(v) for v in inputs])
            expected = [_array(v) for v in expected]
            _assert_similar(expected, list(outputs), case.rtol, case.atol)


def _assert_similar(expected: list, actual: list, rtol: float, atol: float) -> None:
    """onnx's comparison, element by element inside sequences (onnx's own recursion
    calls len() on each element, which fails for 0-d tensors)."""
    assert len(actual) == len(expected), f"expected {len(expected)} outputs, got {len(actual)}"
    for want, got in zip(expected, actual, strict=True):
        if isinstance(want, list):
            assert isinstance(got, list), f"expected a sequence, got {type(got).__name__}"
            _assert_similar(want, got, rtol, atol)
        else:
            Runner.assert_similar_outputs([want], [got], rtol, atol)


def _array(value):
    """Case data holds NumPy arrays, or TensorProtos for dtypes NumPy lacks."""
    if isinstance(value, onnx.TensorProto):
        return numpy_helper.to_array(value)
    if isinstance(value, list):
        return [_array(v) for v in value]
    return value


def _reason(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".replace("\n", " ")
    return text[:200]


def main(argv: list[str]) -> int:
    """Run the cases whose name contains `argv[0]`; print failures; return the count."""
    pattern = argv[0] if argv else ""
    failed = total = 0
    for case in node_cases():
        if pattern not in case.name:
            continue
        total += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run_case(case)
        except Exception as error:  # report every kind of failure
            failed += 1
            print(f"{case.name}\t{_reason(error)}")
    print(f"# {total - failed} passed, {failed} failed of {total}", file=sys.stderr)
    return failed


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1:]) else 0)
