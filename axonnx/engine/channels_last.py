"""Channels-last regions: the values between the engine's convolutions stored NHWC.

The engine's convolution forms compute on NHWC data (`axonnx.engine.conv_forms`), but an
imported model's values are NCHW, so each convolution used to transpose its input in and
its result back out; XLA fuses the transpose back into the producer, where it vectorizes
badly (EfficientNet-B0: ~16 of ~30 ms were depthwise fusions writing NCHW). This pass
keeps such values NHWC for as long as their consumers do not care how they are stored:

- a convolution (`conv_hwio`, `conv_bn`) whose forms compute in NHWC (`layout="nhwc"`)
  leaves its result NHWC (`output_layout`) and takes an NHWC input as it is
  (`input_layout`);
- element-wise ONNX ops (`POINTWISE`: activations, arithmetic, comparisons, with NumPy
  broadcasting) whose 4-D inputs include an NHWC value compute on NHWC values: each other
  input of rank ≤ 4 is transposed to NHWC too (a constant's transpose folds away);
- GlobalAveragePool of an NHWC value pools over its axes 1 and 2, Concat joins NHWC
  values along the stored channel axis, batch norms (the `batch_norm` layer, ONNX
  BatchNormalization in inference) normalize along it;
- a Transpose reads the stored value with the permutation composed accordingly (so a
  model's own NCHW → NHWC → NCHW round trips, ConvNeXt's, become identities).

Every other consumer (and the graph's output) gets the value back as NCHW through one
shared `engine::relayout` node. The graph computes the same values; only the
compiled function sees the rewritten graph.
"""

from __future__ import annotations

import jax

from axonnx.engine.conv_bn import CONV_BN
from axonnx.engine.conv_forms import CONV_HWIO, to_layout, to_layout_shape
from axonnx.layers.normalization import batch_norm
from axonnx.layers.pooling import global_avg_pool
from axonnx.naming import op_label
from axonnx.node import Node
from axonnx.op_table import register_op
from axonnx.plan import plan

__all__ = ["BATCH_NORM_NHWC", "GLOBAL_AVERAGE_POOL_NHWC", "POINTWISE", "RELAYOUT", "channels_last"]

RELAYOUT = "engine::relayout"
GLOBAL_AVERAGE_POOL_NHWC = "engine::global_average_pool_nhwc"
BATCH_NORM_NHWC = "engine::batch_normalization_nhwc"

# ONNX ops computed element by element (with NumPy broadcasting), whatever the axes mean
POINTWISE = frozenset(
    "Abs Acos Acosh Add And Asin Asinh Atan Atanh BitShift Cast Ceil Celu Clip Cos Cosh Div "
    "Elu Equal Erf Exp Floor Gelu Greater GreaterOrEqual HardSigmoid HardSwish Identity "
    "IsInf IsNaN LeakyRelu Less LessOrEqual Log Max Mean Min Mish Mod Mul Neg Not Or Pow "
    "PRelu Reciprocal Relu Round Selu Sigmoid Sign Sin Sinh Softplus Softsign Sqrt Sub Sum "
    "Tan Tanh ThresholdedRelu Where Xor".split()
)
_CONVOLUTIONS = (CONV_HWIO, CONV_BN)


def relayout(x: jax.Array, *, source: str, target: str) -> jax.Array:
    """`x` (rank ≤ 4, NumPy-broadcastable against the 4-D values it meets) stored in
    layout `target` instead of `source`; lower ranks get leading axes of size 1 first."""
    if x.ndim < 4:
        x = x.reshape((1,) * (4 - x.ndim) + x.shape)
    return to_layout(x, source, target)


def global_average_pool_nhwc(x: jax.Array) -> jax.Array:
    """ONNX GlobalAveragePool of an NHWC-stored value: (N, 1, 1, C), stored NHWC."""
    return global_avg_pool(x, keep_axes=True, channels="last")


def batch_normalization_nhwc(X, scale, B, mean, var, *, epsilon=1e-5, **_) -> tuple:
    """ONNX BatchNormalization-14/15 in inference (`training_mode=0`) of an NHWC-stored
    `X` with (C,) statistics: (Y stored NHWC, mean, var), as the ONNX op returns."""
    y = batch_norm(X, scale, B, mean, var, epsilon=epsilon, channels="last")
    return y, mean, var


register_op(RELAYOUT, relayout)
register_op(BATCH_NORM_NHWC, batch_normalization_nhwc)
register_op(GLOBAL_AVERAGE_POOL_NHWC, global_average_pool_nhwc)


def _shape(node: Node) -> tuple | None:
    """The node's inferred shape if it is one tensor's, else None."""
    shape = node.shape
    if isinstance(shape, tuple) and all(d is None or isinstance(d, int) for d in shape):
        return shape
    return None


def _standard(node: Node, names: frozenset | set) -> bool:
    return node.op.startswith("onnx::") and op_label(node.op) in names


class _Regions:
    """The graph rebuilt with NHWC values where consumers allow (see the module)."""

    def __init__(self, root: Node):
        self.root = root
        self.nhwc: set[int] = set()  # ids of rebuilt nodes whose value is stored NHWC
        self.rebuilt: dict[int, Node] = {}
        self.relaid: dict[tuple[int, str], Node] = {}
        self.first_nhwc: set[int] = set()  # ids of (original) tuple nodes, see BATCH_NORM_NHWC

    def stored(self, parent: Node, target: str) -> Node:
        """The rebuilt `parent`, stored in `target` layout (one relayout node per value;
        none for a value of one element, which broadcasts the same either way)."""
        node = self.rebuilt[parent.id]
        source = "nhwc" if node.id in self.nhwc else "nchw"
        shape = _shape(parent)
        if source == target or (shape is not None and all(d == 1 for d in shape)):
            return node
        if (node.id, target) not in self.relaid:
            if shape is not None:  # the logical (NCHW) shape, stored as `target`
                shape = to_layout_shape((1,) * (4 - len(shape)) + shape, "nchw", target)
            self.relaid[node.id, target] = Node(
                RELAYOUT,
                (node,),
                options={"source": source, "target": target},
                shape=shape,
                dtype=parent.dtype,
            )
        return self.relaid[node.id, target]

    def visit(self, node: Node, name: str) -> Node:
        inner = node is not self.root  # the graph's output stays NCHW
        parents = node.parents
        inputs_nhwc = [self.rebuilt[p.id].id in self.nhwc for p in parents]
        changes: dict = {}
        if node.op in _CONVOLUTIONS and node.options.get("layout") == "nhwc":
            x_layout = "nhwc" if inputs_nhwc[0] else "nchw"
            new_parents = (self.rebuilt[parents[0].id],) + tuple(
                self.stored(p, "nchw") for p in parents[1:]
            )
            options = {**node.options, "input_layout": x_layout}
            options["output_layout"] = "nhwc" if inner else "nchw"
            changes = {"options": options}
            nhwc = inner
        elif inner and inputs_nhwc[:1] == [True] and _standard(node, {"GlobalAveragePool"}):
            new_parents, nhwc = (self.rebuilt[parents[0].id],), True
            changes = {"op": GLOBAL_AVERAGE_POOL_NHWC, "options": {}}
        elif inner and any(inputs_nhwc) and self._pointwise(node):
            new_parents, nhwc = tuple(self.stored(p, "nhwc") for p in parents), True
        elif inner and inputs_nhwc[:1] == [True] and _normalizes_channels(node):
            stats = tuple(self.stored(p, "nchw") for p in parents[1:])
            new_parents, nhwc = (self.rebuilt[parents[0].id], *stats), False
            if node.op == "batch_norm":
                changes = {"options": {**node.options, "channels": "last"}}
                nhwc = True
            else:  # ONNX BatchNormalization: a tuple whose first element is NHWC
                changes = {"op": BATCH_NORM_NHWC}
                self.first_nhwc.add(node.id)
        elif (
            node.op == "getitem"
            and node.options.get("index") == 0
            and (parents[0].id in self.first_nhwc)
        ):
            new_parents, nhwc = (self.rebuilt[parents[0].id],), True
        elif _standard(node, {"Transpose"}) and _rank4(parents[0]):
            new_parents = (self.rebuilt[parents[0].id],)
            perm, nhwc = _transpose_perm(node, inputs_nhwc[0], inner)
            changes = {"options": {**node.options, "perm": perm}}
        elif inner and any(inputs_nhwc) and _standard(node, {"Concat"}) and _all_rank4(parents):
            new_parents, nhwc = tuple(self.stored(p, "nhwc") for p in parents), True
            axis = _NHWC_AXIS[node.options["axis"] % 4]
            changes = {"options": {**node.options, "axis": axis}}
        else:
            new_parents, nhwc = tuple(self.stored(p, "nchw") for p in parents), False
        if nhwc and _rank4(node):
            changes["shape"] = to_layout_shape(node.shape, "nchw", "nhwc")
        new = node.replace(parents=new_parents, name=name, **changes)
        if nhwc:
            self.nhwc.add(new.id)
        self.rebuilt[node.id] = new
        return new

    @staticmethod
    def _pointwise(node: Node) -> bool:
        if not _standard(node, POINTWISE) or not _rank4(node):
            return False
        shapes = [_shape(p) for p in node.parents]
        return all(s is not None and len(s) <= 4 for s in shapes)


_TO_NHWC = (0, 2, 3, 1)  # stored NHWC axis k holds logical (NCHW) axis _TO_NHWC[k]
_TO_NCHW = (0, 3, 1, 2)
_NHWC_AXIS = {axis: _TO_NHWC.index(axis) for axis in range(4)}  # logical → stored


def _rank4(node: Node) -> bool:
    shape = _shape(node)
    return shape is not None and len(shape) == 4


def _all_rank4(nodes) -> bool:
    return all(_rank4(n) for n in nodes)


def _normalizes_channels(node: Node) -> bool:
    """A batch norm with (C,) statistics: the `batch_norm` layer on NCHW data, or ONNX
    BatchNormalization-14/15 in inference."""
    if node.op == "batch_norm":
        return node.options.get("channels") == "first" and _rank4(node)
    if not (node.op.startswith("onnx::BatchNormalization@") and node.op[-2:] in ("14", "15")):
        return False
    stats = [_shape(p) for p in node.parents[1:]]
    flat = len(stats) == 4 and all(s is not None and len(s) == 1 for s in stats)
    return not node.options.get("training_mode", 0) and flat


def _transpose_perm(node: Node, nhwc_input: bool, inner: bool) -> tuple[tuple, bool]:
    """The permutation of the stored input that gives a Transpose's result, and whether
    the result is stored NHWC: NHWC where that makes the permutation the identity (a
    model's own NCHW → NHWC → NCHW round trips, ConvNeXt's, then cost nothing)."""
    perm = node.options.get("perm") or (3, 2, 1, 0)
    stored = _TO_NCHW if nhwc_input else (0, 1, 2, 3)
    plain = tuple(stored[p] for p in perm)  # stored input → logical result
    as_nhwc = tuple(plain[k] for k in _TO_NHWC)  # stored input → result stored NHWC
    if inner and as_nhwc == (0, 1, 2, 3):
        return as_nhwc, True
    return plain, False


def channels_last(root: Node) -> Node:
    """The graph of `root` with NHWC-computed convolutions' results, and the element-wise
    ops and global average pools that consume them, stored NHWC (see the module)."""
    laid_out = plan(root)
    if not any(n.op in _CONVOLUTIONS for n in laid_out.order):
        return root
    regions = _Regions(root)
    for node in laid_out.order:
        regions.visit(node, laid_out.names[node.id])
    output = regions.rebuilt[root.id]
    if output.id in regions.nhwc:  # a batch norm's first output as the graph's output
        return regions.stored(root, "nchw")
    return output
