"""The op registry against onnx.defs: signatures follow the spec, versions are covered."""

from __future__ import annotations

import inspect

import onnx
import pytest
from onnx.helper import get_attribute_value

from axonnx.converters.registry import specs

SPECS = specs()
KEYS = sorted(SPECS, key=str)


def _schema(domain, op_type, version):
    return onnx.defs.get_schema(op_type, max_inclusive_version=version, domain=domain)


def _has_schema(domain, op_type, version) -> bool:
    try:
        return _schema(domain, op_type, version).since_version == version
    except onnx.defs.SchemaError:
        return False


@pytest.mark.parametrize("key", KEYS, ids=[f"{k[1]}-{k[2]}" for k in KEYS])
def test_version_is_a_real_since_version(key):
    domain, op_type, version = key
    assert _has_schema(domain, op_type, version), f"{op_type} has no since-version {version}"


def _expected_default(attr):
    if not attr.default_value.name and attr.default_value.type == 0:
        return inspect.Parameter.empty
    value = get_attribute_value(attr.default_value)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return tuple(v.decode() if isinstance(v, bytes) else v for v in value)
    return value


@pytest.mark.parametrize("key", KEYS, ids=[f"{k[1]}-{k[2]}" for k in KEYS])
def test_attributes_are_keyword_only_with_onnx_defaults(key):
    domain, op_type, version = key
    schema = _schema(domain, op_type, version)
    parameters = inspect.signature(SPECS[key].fn).parameters
    for name, attr in schema.attributes.items():
        assert name in parameters, f"{op_type}-{version}: attribute {name!r} missing"
        parameter = parameters[name]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, f"{op_type}: {name} not kw-only"
        expected = _expected_default(attr)
        if expected is inspect.Parameter.empty or parameter.default is None:
            continue
        actual = parameter.default
        if isinstance(expected, float):
            assert actual == pytest.approx(expected, rel=1e-6), f"{op_type}: {name}"
        else:
            actual = tuple(actual) if isinstance(actual, list) else actual
            assert actual == expected, f"{op_type}-{version}: {name} default"


def _since_versions(domain, op_type):
    return sorted(
        {
            s.since_version
            for s in onnx.defs.get_all_schemas_with_history()
            if s.name == op_type and s.domain == domain
        }
    )


@pytest.mark.parametrize("op", sorted({(d, t) for d, t, _ in KEYS}), ids=lambda o: o[1])
def test_every_version_from_7_is_implemented(op):
    domain, op_type = op
    wanted = [v for v in _since_versions(domain, op_type) if v >= 7 or domain != ""]
    first_ours = min(v for d, t, v in KEYS if (d, t) == op)
    missing = [v for v in wanted if v >= first_ours and (domain, op_type, v) not in SPECS]
    older = [v for v in wanted if v < first_ours and _is_newest_below_7(domain, op_type, v)]
    assert missing == [] and older == [], f"{op_type}: missing since-versions {missing + older}"


def _is_newest_below_7(domain, op_type, version) -> bool:
    """A since-version older than 7 still matters when it is what opset 7 selects."""
    return domain == "" and _schema(domain, op_type, 7).since_version == version


def test_coverage_table_in_docs_is_current():
    from pathlib import Path

    from tools.coverage import coverage_markdown

    path = Path(__file__).resolve().parents[2] / "docs" / "coverage.md"
    assert path.read_text() == coverage_markdown(), (
        "docs/coverage.md is stale: run python -m tools.coverage > docs/coverage.md"
    )
