"""The op coverage table, generated from the registry (never kept by hand).

python -m tools.coverage > docs/coverage.md
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import onnx

from axonnx.converters import layer_rules
from axonnx.converters.registry import specs

__all__ = ["coverage_markdown", "families_markdown", "missing_ops"]

ZOO = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "zoo.json"

_SHORT = {
    "tensor(": "",
    ")": "",
    "float": "f",
    "uint": "u",
    "int": "i",
    "bfloat16": "bf16",
    "string": "str",
    "bool": "bool",
    "complex": "c",
}


def _dtypes(domain: str, op_type: str, version: int) -> str:
    schema = onnx.defs.get_schema(op_type, max_inclusive_version=version, domain=domain)
    names = sorted(
        {t for c in schema.type_constraints for t in c.allowed_type_strs if t.startswith("tensor(")}
    )
    short = []
    for name in names:
        for long, brief in _SHORT.items():
            name = name.replace(long, brief)
        short.append(name)
    return ", ".join(short) or "—"


def coverage_markdown() -> str:
    """A markdown table: op, domain, since-versions, dtypes, and how it imports."""
    versions: dict[tuple[str, str], list[int]] = defaultdict(list)
    for domain, op_type, version in specs():
        versions[(domain, op_type)].append(version)
    rows = [
        "| op | domain | since-versions | dtypes (newest version) | import |",
        "|---|---|---|---|---|",
    ]
    for (domain, op_type), found in sorted(versions.items()):
        found.sort()
        layer = layer_rules.layer_for(op_type) if domain == "" else None
        imports = (
            f"layer `{layer}` when its weights are initializers, else node" if layer else "node"
        )
        rows.append(
            f"| {op_type} | {domain or 'ai.onnx'} | {', '.join(map(str, found))} | "
            f"{_dtypes(domain, op_type, found[-1])} | {imports} |"
        )
    missing = missing_ops()
    summary = [
        f"{len(versions)} op types implemented; not implemented from the default "
        f"domain: {', '.join(missing) or 'none'}.",
        "",
    ]
    return "\n".join(["# Op coverage", "", *summary, *rows, "", *families_markdown(), ""])


def families_markdown(results: Path = ZOO) -> list[str]:
    """Lines of the model-family table from `benchmarks/zoo.py check`'s results."""
    if not results.exists():
        return []
    lines = [
        "## Model families",
        "",
        "One small model per exporter family, built from the libraries' code with random "
        "weights by `python benchmarks/zoo.py build`, checked by `python benchmarks/zoo.py "
        "check` (`ax.import_onnx` + `ax.predict` "
        "against onnxruntime on the same inputs; match: every output within "
        "1e-4 + 1e-3 × its largest magnitude, ten times that for float16 models).",
        "",
        "| family | exporter | library versions | status | max abs error / message |",
        "|---|---|---|---|---|",
    ]
    for row in json.loads(results.read_text()):
        versions = ", ".join(f"{k} {v}" for k, v in row["versions"].items()) or "—"
        detail = row.get("message") or f"{row.get('max_abs_error', 0.0):.1e}"
        lines.append(
            f"| {row['family']} | {row['exporter']} | {versions} | {row['status']} | "
            f"{detail.replace('|', '/')} |"
        )
    return lines


def missing_ops() -> list[str]:
    """Op types of the default ONNX domain (not deprecated) with no implementation."""
    ours = {op_type for domain, op_type, _ in specs() if domain == ""}
    defined = {s.name for s in onnx.defs.get_all_schemas() if s.domain == "" and not s.deprecated}
    return sorted(defined - ours)


if __name__ == "__main__":
    sys.stdout.write(coverage_markdown())
