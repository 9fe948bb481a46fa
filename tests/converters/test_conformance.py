"""ONNX backend node test cases (the conformance suite) through import_onnx + jax.jit.

Cases that cannot pass yet are listed with a reason in `conformance_failures.txt`;
a listed case that starts to pass fails the test, so the list only shrinks. Cases whose
expected values onnx computes at collection time with the installed ml_dtypes' casts
(reason starting with `SKIP_PREFIX`) are skipped: their result follows that library's
release, not the spec; tests/converters/ops/test_casts_spec.py checks those casts
against the spec instead.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from tools import conformance

_LISTED = Path(__file__).with_name("conformance_failures.txt")
SKIP_PREFIX = "expected values from ml_dtypes"


def _known_failures() -> dict[str, str]:
    lines = _LISTED.read_text().splitlines() if _LISTED.exists() else []
    entries = (line.split("\t", 1) for line in lines if line and not line.startswith("#"))
    return {name: reason for name, reason in entries}


KNOWN = _known_failures()
CASES = conformance.node_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node_case(case):
    if KNOWN.get(case.name, "").startswith(SKIP_PREFIX):
        pytest.skip(KNOWN[case.name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case.name not in KNOWN:
            conformance.run_case(case)
            return
        try:
            conformance.run_case(case)
        except Exception:  # noqa: BLE001  (listed as failing: any failure is expected)
            return
    pytest.fail(f"{case.name} passes now: remove it from {_LISTED.name}")


def test_failure_list_names_real_cases():
    names = {c.name for c in CASES}
    assert sorted(set(KNOWN) - names) == []
