"""`axonnx grad`: write the derivative of an ONNX model as an ONNX model."""

from __future__ import annotations

from collections.abc import Callable

import click

__all__ = ["make_grad_command"]


def make_grad_command(handles_errors: Callable, parse_dims: Callable) -> click.Command:
    """The `grad` command, wrapped in the CLI's error handling and --dims parser."""

    @click.command("grad")
    @click.argument("model", type=click.Path(dir_okay=False, exists=True))
    @click.option("--wrt", default="", help="Inputs to differentiate by: NAME[,NAME].")
    @click.option("--of", "of", help="The output differentiated (default: the first).")
    @click.option("--params", is_flag=True, help="Also differentiate by every trainable parameter.")
    @click.option(
        "--vjp", "mode", flag_value="vjp", help="Take the output's cotangent as an input."
    )
    @click.option("--jvp", "mode", flag_value="jvp", help="Take tangents as inputs (forward mode).")
    @click.option("--jacobian", "mode", flag_value="jacobian", help="The full Jacobian.")
    @click.option("--dims", help="Sizes of symbolic dimensions, e.g. batch=1 (others: 1).")
    @click.option("--opset", type=int, help="ONNX opset (default: the newest usable).")
    @click.option(
        "-o", "--output", required=True, type=click.Path(dir_okay=False), help="GRAD.onnx."
    )
    @handles_errors
    def grad_command(
        model: str,
        wrt: str,
        of: str | None,
        params: bool,
        mode: str | None,
        dims: str | None,
        opset: int | None,
        output: str,
    ) -> None:
        """Write a model with MODEL's inputs whose outputs are d(sum of OUTPUT)/d(NAME)."""
        from axonnx.converters.export_grad import export_grad

        proto = export_grad(
            model,
            wrt=wrt,
            of=of,
            params=params,
            mode=mode or "grad",
            dims=parse_dims(dims),
            opset=opset,
            path=output,
        )
        outputs = ", ".join(o.name for o in proto.graph.output)
        click.echo(f"wrote {output}: {len(proto.graph.node)} nodes, outputs {outputs}")

    return grad_command
