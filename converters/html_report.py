"""The validation report as one self-contained HTML page (`axonnx validate --html`).

Everything is inline: the styles, and the plots drawn here as SVG (no script, no
network, no plotting library). Per model: the table of outputs, an error histogram
per output and, when the run bisected, every compared node's error along the graph
in topological order with the first divergent node marked, its scope and op named.
"""

from __future__ import annotations

import math
import os
from html import escape
from pathlib import Path

from axonnx.converters.report import ErrorHistogram, NodeError, OutputReport, Report
from axonnx.files import write_atomically

__all__ = ["render_html", "write_html"]

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; } h3 { font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 600; }
svg { background: #fafafa; border: 1px solid #ddd; display: block; margin: 6px 0 16px; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
.note { color: #555; }
"""
_BLUE, _RED, _ORANGE, _GREY = "#2f6fdf", "#cf222e", "#e8890c", "#8c959f"


def write_html(path: str | os.PathLike, reports: list[Report]) -> None:
    """Write `reports` (one per validated model) as one HTML file at `path`."""
    text = render_html(reports)
    write_atomically(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))


def render_html(reports: list[Report]) -> str:
    """The HTML page for `reports`: a section per model."""
    verdict = "PASS" if all(r.passed for r in reports) else "FAIL"
    sections = "\n".join(_section(r) for r in reports)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>axonnx validate: {verdict}</title><style>{_STYLE}</style></head>\n"
        f"<body><h1>axonnx validate: {_verdict(verdict == 'PASS')}</h1>\n{sections}\n"
        "</body></html>\n"
    )


def _verdict(passed: bool) -> str:
    return '<span class="pass">PASS</span>' if passed else '<span class="fail">FAIL</span>'


def _section(report: Report) -> str:
    parts = [f"<section><h2>{escape(report.model)}: {_verdict(report.passed)}</h2>"]
    parts.append(_outputs_table(report.outputs))
    if report.requantization is not None:
        parts.append(f'<p class="note">{escape(str(report.requantization))}</p>')
    if report.bisected:
        parts.append(_bisect_part(report))
    for output in report.outputs:
        parts.append(f"<h3>Errors of {escape(output.name)}</h3>")
        histogram = report.histograms.get(output.name)
        if histogram is None:
            parts.append('<p class="note">no histogram: shapes or types differ</p>')
        else:
            parts.append(histogram_svg(histogram, output))
    parts.append("</section>")
    return "\n".join(parts)


def _outputs_table(outputs: list[OutputReport]) -> str:
    head = ("output", "shape", "dtype", "max abs", "max rel", "mismatches", "rtol", "atol", "")
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for o in outputs:
        cells = (
            escape(o.name),
            escape(str(tuple(o.actual_shape))),
            escape(o.dtype),
            f"{o.max_abs_error:.3g}",
            f"{o.max_rel_error:.3g}",
            str(o.mismatches),
            f"{o.rtol:.3g}",
            f"{o.atol:.3g}",
            _verdict(o.passed)
            + (f" {escape(o.verdict)}" if o.verdict not in ("ok", "MISMATCH") else ""),
        )
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _bisect_part(report: Report) -> str:
    errors = report.node_errors
    first = next((e for e in errors if not e.passed), None)
    text = "every intermediate value is within tolerance"
    if first is not None:
        text = (
            f"first divergent node: <b>{escape(first.name)}</b> ({escape(first.op_type)}), "
            f"scope <b>{escape(first.scope or '(top level)')}</b>, output "
            f"{escape(first.output)}, max abs error {first.max_abs_error:.3g}"
        )
    return (
        "<h3>Errors along the graph (topological order)</h3>"
        f'<p class="note">{len(errors)} intermediate values compared; {text}</p>'
        + nodes_svg(errors, first)
    )


# --- plots ---------------------------------------------------------------------------

_W, _H, _LEFT, _BOTTOM, _TOP = 640, 240, 56, 40, 16


def histogram_svg(histogram: ErrorHistogram, output: OutputReport) -> str:
    """Bars of the elementwise |error| counts over log-spaced bins, exact matches and
    NaN/Inf apart, the absolute tolerance as a dashed line."""
    bars = [("0", histogram.zeros, _GREY, "exactly equal")]
    edges = histogram.log_edges
    for i, count in enumerate(histogram.counts):
        label = _power(edges[i]) if i % 2 == 0 else ""
        span = f"|error| in [{_sci(edges[i])}, {_sci(edges[i + 1])})"
        color = _RED if 10 ** edges[i] > output.atol else _BLUE
        bars.append((label, count, color, span))
    if histogram.nonfinite:
        bars.append(("NaN", histogram.nonfinite, _RED, "NaN or infinite"))
    width = (_W - _LEFT - 12) / len(bars)
    top = max(c for _, c, _, _ in bars) or 1
    plot_h = _H - _BOTTOM - _TOP
    out = [_svg_open(_W, _H, f"error histogram of {output.name}")]
    out += _y_axis_counts(top, plot_h)
    for i, (label, count, color, span) in enumerate(bars):
        x, h = _LEFT + i * width, plot_h * count / top
        out.append(
            f'<rect x="{x + 1:.1f}" y="{_TOP + plot_h - h:.1f}" width="{width - 2:.1f}" '
            f'height="{h:.1f}" fill="{color}"><title>{escape(span)}: {count}</title></rect>'
        )
        if label:
            out.append(_text(x + width / 2, _H - _BOTTOM + 14, label, "middle"))
    if edges and output.atol > 0:
        position = (math.log10(output.atol) - edges[0]) / (edges[-1] - edges[0])
        if 0 <= position <= 1:
            x = _LEFT + width * (1 + position * len(histogram.counts))
            out.append(_line(x, _TOP, x, _TOP + plot_h, _RED, dashed=True))
            out.append(_text(x - 4, _TOP + 10, f"atol {output.atol:.2g}", "end"))
    out.append(_text(_W / 2, _H - 6, "|axonnx - onnxruntime| per element", "middle"))
    out.append("</svg>")
    return "".join(out)


_FLOOR, _CEIL = -12, 2  # the node plot's log10 range; exact values sit at the floor


def nodes_svg(errors: list[NodeError], first: NodeError | None) -> str:
    """Each node's max |error| / max |expected| (log scale) against its position in
    the graph; failing nodes red, the first divergent one ringed and labelled."""
    width, height, plot_h = 1100, 300, 300 - _BOTTOM - _TOP
    span = max(len(errors) - 1, 1)
    plot_w = width - _LEFT - 16

    def xy(i: int, e: NodeError) -> tuple[float, float]:
        value = e.scaled_error
        level = math.log10(value) if value > 0 else _FLOOR
        level = _FLOOR if math.isnan(level) else min(max(level, _FLOOR), _CEIL)
        return _LEFT + plot_w * i / span, _TOP + plot_h * (_CEIL - level) / (_CEIL - _FLOOR)

    out = [_svg_open(width, height, "errors along the graph")]
    for level in range(_FLOOR, _CEIL + 1, 2):
        y = _TOP + plot_h * (_CEIL - level) / (_CEIL - _FLOOR)
        out.append(_line(_LEFT, y, width - 16, y, "#e1e4e8"))
        out.append(_text(_LEFT - 6, y + 4, _power(level), "end"))
    points = [xy(i, e) for i, e in enumerate(errors)]
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{_GREY}" stroke-width="1"/>')
    for (x, y), e in zip(points, errors, strict=True):
        color = _BLUE if e.passed else _RED
        tip = f"#{e.index} {e.name} ({e.op_type}) {e.scope}: {e.scaled_error:.3g}"
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}">'
            f"<title>{escape(tip)}</title></circle>"
        )
    if first is not None:
        x, y = points[errors.index(first)]
        out.append(_line(x, _TOP, x, _TOP + plot_h, _ORANGE, dashed=True))
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="8" fill="none" stroke="{_ORANGE}" '
            'stroke-width="2.5"/>'
        )
        label = f"first divergent: {first.scope or first.name} ({first.op_type})"
        anchor = "end" if x > width * 0.6 else "start"
        out.append(_text(x + (-10 if anchor == "end" else 10), _TOP + 12, label, anchor))
    out.append(_text(width / 2, height - 6, "nodes in topological order", "middle"))
    out.append(_text(14, _TOP + plot_h / 2, "max |error| / max |expected|", "middle", 270))
    out.append("</svg>")
    return "".join(out)


def _y_axis_counts(top: int, plot_h: float) -> list[str]:
    out = []
    for fraction in (0, 0.5, 1):
        y = _TOP + plot_h * (1 - fraction)
        out.append(_line(_LEFT, y, _W - 12, y, "#e1e4e8"))
        out.append(_text(_LEFT - 6, y + 4, f"{round(top * fraction)}", "end"))
    return out


def _svg_open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
    )


def _line(x1, y1, x2, y2, color: str, dashed: bool = False) -> str:
    dash = ' stroke-dasharray="5,4"' if dashed else ""
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}"{dash}/>'


def _text(x, y, text: str, anchor: str = "start", rotate: int = 0) -> str:
    turn = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{turn}>{escape(text)}</text>'


def _power(level: float) -> str:
    return f"1e{level:g}"


def _sci(level: float) -> str:
    return f"{10**level:.1e}"
