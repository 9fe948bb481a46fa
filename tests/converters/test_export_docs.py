"""docs/export.md is generated from the exporters and kept current."""

from __future__ import annotations

from pathlib import Path

from axonnx.converters.onnx_export import exporters
from tools.export_docs import built_in_ops, export_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "export.md"
STRUCTURE = {"input", "param", "constant", "none", "container", "namespace", "getitem"}


def test_every_built_in_op_has_an_exporter():
    missing = [op for op in built_in_ops() if op not in STRUCTURE and op not in exporters()]
    assert missing == []


def test_docs_export_md_is_current():
    assert DOCS.read_text() == export_markdown(), (
        "docs/export.md is stale: run python -m tools.export_docs > docs/export.md"
    )
