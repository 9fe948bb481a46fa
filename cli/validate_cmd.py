"""`axonnx validate`: cross-check ONNX models against onnxruntime, with CI reports."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

from axonnx.converters.report import Report
from axonnx.files import write_atomically

__all__ = ["write_json", "write_junit"]


def _write_atomically(path: str, text: str) -> None:
    write_atomically(path, lambda temporary: Path(temporary).write_text(text))


def write_json(path: str, reports: list[Report]) -> None:
    """All reports as one JSON document: `{"passed": bool, "models": [report, ...]}`."""
    document = {"passed": all(r.passed for r in reports), "models": [r.to_dict() for r in reports]}
    _write_atomically(path, json.dumps(document, indent=2))


def write_junit(path: str, reports: list[Report]) -> None:
    """A JUnit XML file with one test case per model output."""
    suite = ElementTree.Element("testsuite", name="axonnx-validate")
    count = failures = 0
    for report in reports:
        for output in report.outputs:
            count += 1
            case = ElementTree.SubElement(
                suite, "testcase", classname=report.model, name=output.name
            )
            properties = ElementTree.SubElement(case, "properties")
            for key in ("precision", "verdict"):  # the tolerance's dtype; ok / within one step
                ElementTree.SubElement(properties, "property", name=key, value=getattr(output, key))
            if not output.passed:
                failures += 1
                failure = ElementTree.SubElement(case, "failure", message="outside tolerance")
                failure.text = str(report)
    suite.set("tests", str(count))
    suite.set("failures", str(failures))
    _write_atomically(path, ElementTree.tostring(suite, encoding="unicode"))
