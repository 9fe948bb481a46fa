"""A 10,000-node chain graph for measuring what `ax.import_onnx` costs per node.

    python benchmarks/import_chain.py [--nodes 10000] [--out ~/.cache/axonnx-bench/chain_10k.onnx]
    python benchmarks/import_speed.py ~/.cache/axonnx-bench/chain_10k.onnx --no-first-call

The graph is `x (batch, 16)` through Add, Mul, Relu, Add, Mul, Relu, …: each Add and Mul
takes its own 16-float initializer (a trainable weight), so the import's per-node work
(schema look-ups, weight roles, simplification, value types, node building) dominates
and the weights are negligible. Built with `onnx.helper`; checked by `onnx.checker`.
Not a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from make_suite_models import DEFAULT_CACHE
from onnx import TensorProto, helper, numpy_helper

WIDTH = 16
OPS = ("Add", "Mul", "Relu")


def chain_model(nodes: int, width: int = WIDTH) -> onnx.ModelProto:
    """`nodes` Add/Mul/Relu nodes in a chain, each Add and Mul with its own weight."""
    rng = np.random.default_rng(0)
    graph_nodes, initializers, previous = [], [], "x"
    for index in range(nodes):
        op, out = OPS[index % len(OPS)], f"v{index}"
        inputs = [previous]
        if op != "Relu":
            weight = f"w{index}"
            value = rng.standard_normal(width).astype(np.float32) * 0.1 + (op == "Mul")
            initializers.append(numpy_helper.from_array(value, weight))
            inputs.append(weight)
        graph_nodes.append(helper.make_node(op, inputs, [out], name=f"/chain/{op}_{index}"))
        previous = out
    graph = helper.make_graph(
        graph_nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, ["batch", width])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=DEFAULT_CACHE / "chain_10k.onnx")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(chain_model(args.nodes), args.out)
    print(f"wrote {args.out} ({args.nodes} nodes)")


if __name__ == "__main__":
    main()
