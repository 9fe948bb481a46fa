"""`axonnx validate --html`: a self-contained page with error histograms and, when
bisecting, each node's error along the graph; checked in headless Chromium."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import jax
import numpy as np
import pytest
from click.testing import CliRunner

import axonnx as ax
from axonnx.cli.main import main
from axonnx.converters.error_profile import error_histogram
from axonnx.converters.html_report import render_html, write_html

BERT = Path(__file__).resolve().parents[2] / "models" / "bert_tiny_torchscript.onnx"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def broken_report():
    """A validation of BERT whose layer 1 intermediate kernel was scaled by 1.01."""
    model, state = ax.import_onnx(BERT)
    params = jax.tree_util.tree_map(lambda v: v, state.params)
    layer = params["encoder.layer.1.intermediate.dense"]
    layer["kernel"] = layer["kernel"] * 1.01
    return ax.validate(BERT, model=model, params=ax.ModelState(params, state.state), bisect=True)


def test_histogram_counts_every_element():
    rng = np.random.default_rng(0)
    expected = rng.standard_normal((4, 50)).astype(np.float32)
    actual = expected + rng.standard_normal((4, 50)).astype(np.float32) * 1e-5
    actual[0, :7] = expected[0, :7]
    actual[1, 0] = np.nan
    histogram = error_histogram(expected, actual)
    assert histogram.zeros == 7 and histogram.nonfinite == 1
    assert histogram.zeros + sum(histogram.counts) + histogram.nonfinite == expected.size
    diff = np.abs(actual.astype(np.float64) - expected)
    finite = diff[np.isfinite(diff) & (diff > 0)]
    edges = histogram.log_edges
    assert 10 ** edges[0] <= finite.min() and finite.max() < 10 ** edges[-1]
    inside = (np.log10(finite) >= edges[1]) & (np.log10(finite) < edges[2])
    assert histogram.counts[1] == int(inside.sum())


def test_bisect_marks_the_node_that_diverges(broken_report):
    report = broken_report
    assert not report.passed
    first = next(e for e in report.node_errors if not e.passed)
    assert first.name == report.first_wrong_node.name
    assert first.scope == "encoder.layer.1.intermediate.dense"
    assert all(e.passed for e in report.node_errors[: report.node_errors.index(first)])
    indices = [e.index for e in report.node_errors]
    assert indices == sorted(indices)
    page = render_html([report])
    assert "first divergent: encoder.layer.1.intermediate.dense (Add)" in page
    assert page.count("<svg") == 1 + len(report.outputs)


def test_page_is_self_contained(broken_report):
    page = render_html([broken_report])
    assert "<script" not in page and "<link" not in page and "src=" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched


def test_cli_writes_the_report(tmp_path):
    target = tmp_path / "report.html"
    result = CliRunner().invoke(
        main, ["validate", str(BERT), "--bisect", "--html", str(target), "--timeout", "0"]
    )
    assert result.exit_code == 0, result.output
    page = target.read_text()
    assert "last_hidden_state" in page and "pooler_output" in page
    assert "every intermediate value is within tolerance" in page
    assert page.count("<svg") == 3


def _chromium(*args: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="axonnx-chromium-")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ]
    try:
        return subprocess.run(
            [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120, check=True
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _pixels(png: bytes) -> np.ndarray:
    """The RGB(A) pixels of an 8-bit non-interlaced PNG (what Chromium writes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, data, header = 8, b"", None
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        data += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6)
    channels = 3 if color == 2 else 4
    raw = np.frombuffer(zlib.decompress(data), np.uint8).reshape(height, 1 + width * channels)
    rows = np.zeros((height, width * channels), np.int32)
    for y in range(height):
        kind, line, prev = raw[y, 0], raw[y, 1:].astype(np.int32), rows[y - 1] if y else 0
        rows[y] = _unfilter(kind, line, prev, channels)
    return rows.reshape(height, width, channels).astype(np.uint8)


def _unfilter(kind: int, line: np.ndarray, prev, channels: int) -> np.ndarray:
    prev = np.broadcast_to(prev, line.shape)
    if kind == 0:
        return line
    if kind == 2:
        return (line + prev) % 256
    if kind == 1:
        return line.reshape(-1, channels).cumsum(axis=0).reshape(-1) % 256
    out = np.zeros_like(line)
    for i in range(len(line)):
        left = out[i - channels] if i >= channels else 0
        up_left = prev[i - channels] if i >= channels else 0
        if kind == 3:
            out[i] = (line[i] + (left + prev[i]) // 2) % 256
        else:
            p = left + prev[i] - up_left
            pa, pb, pc = abs(p - left), abs(p - prev[i]), abs(p - up_left)
            pred = left if pa <= pb and pa <= pc else prev[i] if pb <= pc else up_left
            out[i] = (line[i] + pred) % 256
    return out


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)")
def test_headless_chromium_shows_the_plots(broken_report, tmp_path):
    page = tmp_path / "report.html"
    write_html(page, [broken_report])
    dom = _chromium("--dump-dom", page.as_uri()).stdout
    assert dom.count("<svg") == 3 and "<circle" in dom and "first divergent" in dom
    shot = tmp_path / "shot.png"
    _chromium(f"--screenshot={shot}", "--window-size=1200,900", page.as_uri())
    pixels = _pixels(shot.read_bytes())[..., :3]
    assert pixels.shape[:2] == (900, 1200)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    blue = (pixels[..., 2] > 180) & (pixels[..., 0] < 90)
    assert red.sum() > 200 and blue.sum() > 200  # failing and passing nodes, bars
    assert (pixels.reshape(-1, 3) != 255).any(axis=1).mean() > 0.02  # not a blank page


def test_page_says_what_judged_a_passing_mismatch():
    """An output outside tolerance that passed (run-time quantization, one step) says
    why, and the replay's figures are on the page."""
    from axonnx.converters.report import OutputReport, Report, RequantizationCheck

    output = OutputReport("y", [2], [2], "float32", 3e-4, 6e-3, 1, 0, 1e-4, 1e-5, True)
    output.requantized = True
    replayed = OutputReport("y", [2], [2], "float32", 1e-6, 1e-6, 0, 0, 1e-4, 1e-5, True)
    check = RequantizationCheck(9, 82176, 1, 1.0, True, [replayed])
    page = render_html([Report("m.onnx", [output], requantization=check)])
    assert "PASS</span> within run-time quantization" in page
    assert "1 of 82176 activation values quantized by 9 DynamicQuantizeLinear" in page
