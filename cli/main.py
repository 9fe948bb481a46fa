"""The `axonnx` command: a thin click layer over the Python API."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import click

from axonnx.errors import AxonnxError

__all__ = ["main"]


def _parse_dims(text: str | None) -> dict[str, int]:
    """`"batch=1,sequence=128"` → `{"batch": 1, "sequence": 128}`."""
    if not text:
        return {}
    dims = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise click.BadParameter(f"expected NAME=SIZE pairs, got {item!r}", param_hint="--dims")
        dims[name.strip()] = int(value)
    return dims


def _fail(message: str) -> None:
    click.echo(f"axonnx: error: {message}", err=True)
    sys.exit(2)


def handles_errors(command: Callable) -> Callable:
    """Turn user errors into one line on stderr and exit status 2 (traceback with --debug)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return command(*args, **kwargs)
        except (AxonnxError, OSError, ValueError) as error:
            if debug:
                traceback.print_exc()
            _fail(str(error).splitlines()[0] if str(error) else type(error).__name__)

    return wrapper


@click.group()
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="axonnx")
def main(debug: bool) -> None:
    """axonnx: import, run, validate and export ONNX models with JAX."""


def _load_any(path: str, dims: dict[str, int]):
    """An ONNX file (imported) or a saved axonnx model."""
    import axonnx as ax

    if Path(path).suffix == ".onnx":
        return ax.import_onnx(path, dims=dims)
    return ax.load(path)


@main.command("import")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output file (.axonnx).")
@click.option("--dims", help="Bind symbolic dimensions, e.g. batch=1,sequence=128.")
@handles_errors
def import_command(model: str, output: str | None, dims: str | None) -> None:
    """Convert an ONNX model to an axonnx model file and print its summary."""
    from axonnx.cli.report import mapping_report

    import axonnx as ax

    graph, state = ax.import_onnx(model, dims=_parse_dims(dims))
    target = Path(output) if output else Path(model).with_suffix(".axonnx")
    click.echo(ax.summary(graph))
    click.echo(mapping_report(graph, state))
    ax.save(target, graph, state)
    click.echo(f"wrote {target}")


@main.command("summary")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--dims", help="Bind symbolic dimensions, e.g. batch=1,sequence=128.")
@handles_errors
def summary_command(model: str, dims: str | None) -> None:
    """Print the summary table of an ONNX or axonnx model."""
    import axonnx as ax

    graph, _ = _load_any(model, _parse_dims(dims))
    click.echo(ax.summary(graph))


@main.command("run")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "--inputs",
    "inputs_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Inputs as an .npz file keyed by input name.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the outputs (.npz).",
)
@click.option("--dims", help="Bind symbolic dimensions, e.g. batch=1,sequence=128.")
@handles_errors
def run_command(model: str, inputs_path: str, output: str, dims: str | None) -> None:
    """Run an ONNX or axonnx model on inputs from an .npz file; write outputs as .npz."""
    from axonnx.cli.io import read_inputs, write_outputs
    from axonnx.converters.runtime import Runtime

    graph, state = _load_any(model, _parse_dims(dims))
    outputs = Runtime(graph, state)(read_inputs(inputs_path))
    write_outputs(output, outputs)
    click.echo(f"wrote {output}")
