"""The `axonnx` command: a thin click layer over the Python API."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import click

from axonnx.cli.grad_cmd import make_grad_command
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
        except click.ClickException:
            raise
        except Exception as error:  # a bug in axonnx: still one line, no traceback
            if debug:
                traceback.print_exc()
            first = (str(error).splitlines() or [""])[0]
            _fail(
                f"internal error ({type(error).__name__}: {first}). Please report it with "
                "the traceback that --debug shows."
            )

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


main.add_command(make_grad_command(handles_errors, _parse_dims))


_DEPTH_HELP = "Scope levels to show (default: as many as fit the terminal)."


@main.command("import")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output file (.axonnx).")
@click.option("--dims", help="Bind symbolic dimensions, e.g. batch=1,sequence=128.")
@click.option("--depth", type=click.IntRange(min=1), help=_DEPTH_HELP)
@handles_errors
def import_command(model: str, output: str | None, dims: str | None, depth: int | None) -> None:
    """Convert an ONNX model to an axonnx model file and print its summary."""
    import axonnx as ax
    from axonnx.cli.report import mapping_report

    graph, state = ax.import_onnx(model, dims=_parse_dims(dims))
    target = Path(output) if output else Path(model).with_suffix(".axonnx")
    report = f"{ax.summary(graph, depth=depth)}\n{mapping_report(graph, state)}"
    ax.save(target, graph, state)  # before printing: a failed import prints only the error
    click.echo(report)
    click.echo(f"wrote {target}")


@main.command("summary")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--dims", help="Bind symbolic dimensions, e.g. batch=1,sequence=128.")
@click.option("--depth", type=click.IntRange(min=1), help=_DEPTH_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the summary tree as JSON.")
@handles_errors
def summary_command(model: str, dims: str | None, depth: int | None, as_json: bool) -> None:
    """Print the summary of an ONNX or axonnx model: layers grouped by scope, to a depth."""
    import json

    import axonnx as ax
    from axonnx.summary import summary_data

    graph, _ = _load_any(model, _parse_dims(dims))
    if as_json:
        click.echo(json.dumps(summary_data(graph, depth=depth), indent=2))
    else:
        click.echo(ax.summary(graph, depth=depth))


@main.command("run")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "--inputs",
    "inputs_path",
    type=click.Path(dir_okay=False),
    help="Inputs as an .npz file keyed by input name (required without --generate).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Where to write the outputs (.npz; required without --generate).",
)
@click.option("--dims", help="Bind symbolic dimensions, e.g. batch=1,sequence=128.")
@click.option(
    "--generate",
    "new_tokens",
    type=click.IntRange(min=1),
    help="Greedy-decode N tokens with a decoder step's KV cache; print them and tokens/s.",
)
@click.option("--prompt-ids", help="With --generate: the prompt's token ids, e.g. 1,2,3.")
@click.option("--capacity", type=click.IntRange(min=1), help="With --generate: cache slots.")
@handles_errors
def run_command(
    model: str,
    inputs_path: str | None,
    output: str | None,
    dims: str | None,
    new_tokens: int | None,
    prompt_ids: str | None,
    capacity: int | None,
) -> None:
    """Run an ONNX or axonnx model on inputs from an .npz file; write outputs as .npz.
    With --generate N, greedy-decode N tokens after --prompt-ids instead."""
    from axonnx.cli.io import write_outputs
    from axonnx.converters.inputs import read_inputs
    from axonnx.engine import predict

    if new_tokens:
        from axonnx.cli.generate_cmd import parse_ids, run_generate

        prompt = parse_ids(prompt_ids)
        graph, state = _load_any(model, _parse_dims(dims))
        click.echo(run_generate(graph, state, prompt, new_tokens, capacity))
        return
    if not inputs_path or not output:
        raise click.UsageError("run: expected --inputs and -o (or --generate N --prompt-ids)")
    graph, state = _load_any(model, _parse_dims(dims))
    outputs = predict(graph, state, read_inputs(inputs_path))
    write_outputs(output, outputs)
    click.echo(f"wrote {output}")


@main.command("validate")
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--inputs",
    "inputs_path",
    type=click.Path(),
    help="Inputs: .npz, a TensorProto .pb, or a folder of input_N.pb files.",
)
@click.option("--dims", help="Sizes of symbolic dimensions, e.g. batch=2,sequence=16.")
@click.option("--rtol", type=float, help="Relative tolerance (default: per dtype).")
@click.option("--atol", type=float, help="Absolute tolerance (default: per dtype).")
@click.option("--int-high", type=int, help="Upper bound (exclusive) of generated integers.")
@click.option("--bisect", is_flag=True, help="Name the first node whose output differs.")
@click.option("--fast", is_flag=True, help="Validate JAX's default (fast) matmul precision.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write a JSON report.")
@click.option(
    "--junit", "junit_path", type=click.Path(dir_okay=False), help="Write a JUnit XML report."
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    help="Write a self-contained HTML report: error histograms; with --bisect, errors along "
    "the graph.",
)
@click.option(
    "--provider",
    type=click.Choice(["cpu", "cuda"]),
    default="cpu",
    show_default=True,
    help="onnxruntime execution provider.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=600,
    show_default=True,
    help="Seconds each step (axonnx's import, onnxruntime's run, axonnx's run) may "
    "take; past it, exit 2. 0: no limit.",
)
@handles_errors
def validate_command(
    models,
    inputs_path,
    dims,
    rtol,
    atol,
    int_high,
    bisect,
    fast,
    json_path,
    junit_path,
    html_path,
    provider,
    timeout,
) -> None:
    """Run each ONNX model in onnxruntime and axonnx and compare; exit 1 on a mismatch."""
    from axonnx.cli.validate_cmd import write_json, write_junit
    from axonnx.converters.inputs import read_inputs
    from axonnx.converters.ort_sessions import ORT_LOG_SEVERITY, log_severity
    from axonnx.converters.validate import validate

    debug = click.get_current_context().find_root().params.get("debug", False)
    reports = []
    with log_severity(2 if debug else ORT_LOG_SEVERITY):  # --debug: onnxruntime's own logs
        for model in models:
            inputs = read_inputs(inputs_path, _proto(model)) if inputs_path else None
            report = validate(
                model,
                inputs,
                rtol=rtol,
                atol=atol,
                dims=_parse_dims(dims),
                providers=(provider,),
                int_high=int_high,
                bisect=bisect,
                fast=fast,
                timeout=timeout or None,
            )
            click.echo(str(report))
            reports.append(report)
    if json_path:
        write_json(json_path, reports)
    if junit_path:
        write_junit(junit_path, reports)
    if html_path:
        from axonnx.converters.html_report import write_html

        write_html(html_path, reports)
    sys.exit(0 if all(r.passed for r in reports) else 1)


def _proto(path: str):
    from axonnx.converters.loading import load_model

    return load_model(path)


@main.command("bench")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--batch", type=int, default=1, show_default=True, help="Batch size.")
@click.option("--dims", help="Sizes of other symbolic dimensions, e.g. sequence=128.")
@click.option("--runs", type=int, default=20, show_default=True, help="Timed runs of each.")
@click.option(
    "--threads", type=int, default=2, show_default=True, help="onnxruntime intra-op threads."
)
@click.option(
    "--device",
    type=click.Choice(["cpu", "gpu"]),
    default="cpu",
    show_default=True,
    help="gpu: onnxruntime's CUDA provider against JAX on the GPU.",
)
@click.option(
    "--bf16", is_flag=True, help="axonnx's dense layers in bfloat16 (float32 accumulation)."
)
@handles_errors
def bench_command(
    model: str, batch: int, dims: str | None, runs: int, threads: int, device: str, bf16: bool
) -> None:
    """Time axonnx against onnxruntime on one model, interleaved in this process."""
    from axonnx.converters.bench import bench

    sizes = _parse_dims(dims)
    result = bench(
        model, batch=batch, dims=sizes, runs=runs, threads=threads, device=device, bf16=bf16
    )
    click.echo(str(result))


@main.command("export")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output file (.onnx)."
)
@click.option("--opset", type=int, help="ONNX opset (13 or newer; default: the newest usable).")
@click.option("--static-batch", type=int, help="Fix the batch dimension to this size.")
@click.option("--external-data", is_flag=True, help="Store the weights in OUTPUT.data.")
@click.option(
    "--standard",
    is_flag=True,
    help="Write onnxruntime's contrib ops (com.microsoft) with standard ONNX ops only.",
)
@handles_errors
def export_command(
    model: str,
    output: str,
    opset: int | None,
    static_batch: int | None,
    external_data: bool,
    standard: bool,
) -> None:
    """Export an axonnx (or ONNX) model to an ONNX file that onnxruntime runs."""
    import axonnx as ax

    graph, state = _load_any(model, {})
    ax.export_onnx(
        graph,
        state,
        output,
        opset=opset,
        static_batch=static_batch,
        external_data=external_data or None,
        standard_only=standard,
    )
    click.echo(f"wrote {output}")
