"""Operator schemas of the onnxruntime contrib ops that axonnx implements, registered
with `onnx.defs` so that the registry, the schema check, the importer (how many outputs
an op may have) and the coverage table treat them like ONNX ops.

onnx ships no schemas for domain `com.microsoft`, nor for the two ops onnxruntime adds
to the default domain at since-version 1 (`LayerNormalization` before opset 17, and
`SimplifiedLayerNormalization`). The table is onnxruntime's own (ContribOperators.md),
copied from `get_all_operator_schema()` of onnxruntime 1.31's Python bindings; every
op here is since-version 1, in `com.microsoft` unless marked `(default domain)`.
Spellings: an input or output `name:T` (a type variable or an element type), `?`
optional, `*` variadic, `*~` variadic of mixed types; a type constraint
`T=float,float16`; an attribute `name:kind` (`i f s ints floats`), then `=default` or
`!` (required); an indented line continues the one above.
"""

from __future__ import annotations

import onnx
import onnx.reference.op_run  # noqa: F401  (see _register)
from onnx.defs import OpSchema

__all__ = ["MS"]

MS = "com.microsoft"

_TABLE = """
SkipLayerNormalization
    in: input:T skip:T gamma:T beta:T? bias:T?
    out: output:T mean:U? inv_std_var:U? input_skip_bias_sum:T?
    types: T=float,float16,bfloat16 U=float
    attrs: epsilon:f=1e-12
BiasGelu
    in: A:T B:T
    out: C:T
    types: T=float16,float,double,bfloat16
FastGelu
    in: X:T bias:T?
    out: Y:T
    types: T=float,double,float16,bfloat16
Gelu
    in: X:T
    out: Y:T
    types: T=float16,float,double,bfloat16
QuickGelu
    in: X:T
    out: Y:T
    types: T=float16,float,double,bfloat16
    attrs: alpha:f=1.702
BiasAdd
    in: X:T bias:T skip:T
    out: Y:T
    types: T=float16,float
LayerNormalization (default domain)
    in: X:T Scale:V B:V?
    out: Y:V Mean:U? InvStdDev:U?
    types: T=float16,float,double,bfloat16 U=float,double V=float16,float,double,bfloat16
    attrs: axis:i=-1 epsilon:f=1e-05 stash_type:i=1
SimplifiedLayerNormalization (default domain)
    in: X:T scale:V
    out: Y:V inv_std_var:U?
    types: T=float16,float,double,bfloat16 U=float,double V=float16,float,double,bfloat16
    attrs: axis:i=-1 epsilon:f=1e-05 stash_type:i=1
SkipSimplifiedLayerNormalization
    in: input:T skip:T gamma:T bias:T?
    out: output:T mean:U? inv_std_var:U? input_skip_bias_sum:T?
    types: T=float,float16,bfloat16 U=float
    attrs: epsilon:f=1e-12
EmbedLayerNormalization
    in: input_ids:T1 segment_ids:T1? word_embedding:T position_embedding:T
        segment_embedding:T? gamma:T beta:T mask:T1? position_ids:T1?
    out: output:T mask_index:T1? embedding_sum:T?
    types: T1=int32 T=float,float16
    attrs: epsilon:f=1e-12 mask_index_type:i
Attention
    in: input:T weights:T bias:T? mask_index:M? past:T? attention_bias:T?
        past_sequence_length:M?
    out: output:T present:T?
    types: T=float,float16,bfloat16 M=int32
    attrs: do_rotary:i mask_filter_value:f num_heads:i! past_present_share_buffer:i
        qkv_hidden_sizes:ints rotary_embedding_dim:i scale:f unidirectional:i=0
MultiHeadAttention
    in: query:T key:T? value:T? bias:T? key_padding_mask:M? attention_bias:T? past_key:T?
        past_value:T? past_sequence_length:M? cache_indirection:M?
    out: output:T present_key:T? present_value:T? qk:QK?
    types: T=float,float16,bfloat16 QK=float,float16,bfloat16 M=int32
    attrs: mask_filter_value:f num_heads:i! scale:f unidirectional:i=0
FusedMatMul
    in: A:T B:T
    out: Y:T
    types: T=float16,float,double,bfloat16
    attrs: alpha:f=1.0 transA:i=0 transB:i=0 transBatchA:i=0 transBatchB:i=0
FusedConv
    in: X:T W:T B:T? Z:T?
    out: Y:T
    types: T=float16,float,double
    attrs: activation:s activation_params:floats auto_pad:s=NOTSET dilations:ints group:i=1
        kernel_shape:ints pads:ints strides:ints
BiasSplitGelu
    in: X:T bias:T
    out: Y:T
    types: T=float16,float
RotaryEmbedding
    in: input:T position_ids:M cos_cache:T sin_cache:T
    out: output:T
    types: T=float,float16,bfloat16 M=int64
    attrs: interleaved:i is_packed_batching:i num_heads:i rotary_embedding_dim:i scale:f
GroupQueryAttention
    in: query:T key:T? value:T? past_key:T_CACHE? past_value:T_CACHE? seqlens_k:M
        total_sequence_length:M cos_cache:T? sin_cache:T? position_ids:int64?
        attention_bias:T? head_sink:T? k_scale:T_KV_SCALE? v_scale:T_KV_SCALE?
        q_norm_weight:T? k_norm_weight:T?
    out: output:T present_key:T_CACHE? present_value:T_CACHE? output_qk:T?
    types: T=float16,bfloat16,float T_CACHE=float,float16,bfloat16,uint8,int8,float8e4m3fn
        T_KV_SCALE=float M=int32
    attrs: causal:i=1 do_rotary:i k_quant_type:s=NONE kv_cache_bit_width:i kv_num_heads:i!
        local_window_size:i=-1 num_heads:i! qk_norm_epsilon:f=1e-06 qk_output:i=0
        rotary_interleaved:i scale:f sliding_window_cache:i=0 smooth_softmax:i=-1 softcap:f
        v_quant_type:s=NONE
MatMulNBits
    in: A:T1 B:T2 scales:T1 zero_points:T3? g_idx:T4? bias:T1?
    out: Y:T1
    types: T1=float,float16,bfloat16 T2=uint8 T3=uint8,float16,float,bfloat16 T4=int32
    attrs: K:i! N:i! accuracy_level:i=0 bits:i=4 block_size:i! weight_prepacked:i=0
MatMulIntegerToFloat
    in: A:T1 B:T2 a_scale:T3 b_scale:T3 a_zero_point:T1? b_zero_point:T2? bias:T3?
    out: Y:T3
    types: T1=int8,uint8 T2=int8,uint8 T3=float,float16
DynamicQuantizeMatMul
    in: A:T1 B:T2 b_scale:T1 b_zero_point:T2? bias:T1?
    out: Y:T1
    types: T1=float T2=int8,uint8
QGemm
    in: A:TA a_scale:T a_zero_point:TA B:TB b_scale:T b_zero_point:TB C:TC? y_scale:T?
        y_zero_point:TYZ?
    out: Y:TY
    types: T=float TA=uint8,int8 TB=uint8,int8 TC=int32 TYZ=uint8,int8 TY=float,uint8,int8
    attrs: alpha:f=1.0 transA:i=0 transB:i=0
QLinearAdd
    in: A:T A_scale:float A_zero_point:T? B:T B_scale:float B_zero_point:T? C_scale:float
        C_zero_point:T?
    out: C:T
    types: T=uint8,int8
QLinearMul
    in: A:T A_scale:float A_zero_point:T? B:T B_scale:float B_zero_point:T? C_scale:float
        C_zero_point:T?
    out: C:T
    types: T=uint8,int8
QLinearSigmoid
    in: X:T X_scale:float X_zero_point:T? Y_scale:float Y_zero_point:T?
    out: Y:T
    types: T=uint8,int8
QLinearLeakyRelu
    in: X:T X_scale:float X_zero_point:T? Y_scale:float Y_zero_point:T?
    out: Y:T
    types: T=uint8,int8
    attrs: alpha:f=0.01
QLinearGlobalAveragePool
    in: X:T x_scale:float x_zero_point:T y_scale:float y_zero_point:T
    out: Y:T
    types: T=uint8,int8
    attrs: channels_last:i=0
QLinearAveragePool
    in: X:T x_scale:float x_zero_point:T? y_scale:float y_zero_point:T?
    out: Y:T
    types: T=uint8,int8
    attrs: auto_pad:s=NOTSET ceil_mode:i=0 channels_last:i=0 count_include_pad:i=0
        kernel_shape:ints! pads:ints strides:ints
QLinearConcat
    in: Y_scale:TF Y_zero_point:T8 inputs:TV*~
    out: Y:T8
    types: T8=uint8,int8 TF=float TV=uint8,int8,float
    attrs: axis:i!
QAttention
    in: input:T1 weight:T2 bias:T3 input_scale:T3 weight_scale:T3 mask_index:T4?
        input_zero_point:T1? weight_zero_point:T2? past:T3?
    out: output:T3 present:T3?
    types: T1=int8,uint8 T2=int8,uint8 T3=float,float16 T4=int32
    attrs: do_rotary:i mask_filter_value:f num_heads:i! past_present_share_buffer:i scale:f
        unidirectional:i=0
QEmbedLayerNormalization
    in: input_ids:T1 segment_ids:T1? word_embedding_quant:T2 position_embedding_quant:T2
        segment_embedding:T2? gamma_quant:T2 beta_quant:T2 mask:T1? word_embedding_scale:T
        position_embedding_scale:T segment_embedding_scale:T? gamma_scale:T beta_scale:T
        word_embedding_zero_point:T2 position_embedding_zero_point:T2
        segment_embedding_zero_point:T2? gamma_zero_point:T2 beta_zero_point:T2
    out: layernorm_out:T mask_index_out:T1
    types: T1=int32 T2=int8,uint8 T=float
    attrs: epsilon:f=1e-12
Trilu
    in: X:T k:int64?
    out: Y:T
    types: T=float16,float,double,bfloat16,uint8,uint16,uint32,uint64,int8,int16,int32,int64,bool
    attrs: upper:i=1
"""

_ATTR_TYPES = {
    "i": OpSchema.AttrType.INT,
    "f": OpSchema.AttrType.FLOAT,
    "s": OpSchema.AttrType.STRING,
    "ints": OpSchema.AttrType.INTS,
    "floats": OpSchema.AttrType.FLOATS,
}
_PARSE = {"i": int, "f": float, "s": str}
_OPTIONS = {
    "?": OpSchema.FormalParameterOption.Optional,
    "*": OpSchema.FormalParameterOption.Variadic,
}


def _entries() -> list[tuple[str, str, dict[str, str]]]:
    """(domain, op type, {field: text}) for each op of `_TABLE`."""
    entries, field = [], None
    for line in _TABLE.strip().splitlines():
        if not line.startswith(" "):
            op_type, _, mark = line.partition(" ")
            entries.append(("" if mark else MS, op_type, {}))
        elif line.startswith("        "):
            entries[-1][2][field] += " " + line.strip()
        else:
            field, _, text = line.strip().partition(": ")
            entries[-1][2][field] = text
    return entries


def _params(text: str, variables: set[str]) -> list[OpSchema.FormalParameter]:
    params = []
    for token in text.split():
        name, kind = token.split(":")
        homogeneous = not kind.endswith("~")
        kind = kind.rstrip("~")
        option = _OPTIONS.get(kind[-1], OpSchema.FormalParameterOption.Single)
        kind = kind.rstrip("?*")
        type_str = kind if kind in variables else f"tensor({kind})"
        params.append(
            OpSchema.FormalParameter(
                name, type_str, param_option=option, is_homogeneous=homogeneous
            )
        )
    return params


def _attribute(token: str) -> OpSchema.Attribute:
    spec, _, default = token.partition("=")
    name, kind = spec.split(":")
    if default:
        return OpSchema.Attribute(name, onnx.helper.make_attribute(name, _PARSE[kind](default)))
    required = kind.endswith("!")
    return OpSchema.Attribute(name, _ATTR_TYPES[kind.rstrip("!")], "", required=required)


def _schema(domain: str, op_type: str, fields: dict[str, str]) -> OpSchema:
    constraints = []
    for constraint in fields["types"].split():
        variable, allowed = constraint.split("=")
        constraints.append((variable, [f"tensor({t})" for t in allowed.split(",")], ""))
    variables = {variable for variable, _, _ in constraints}
    return OpSchema(
        op_type,
        domain,
        1,
        f"{op_type} as onnxruntime defines it (a contrib op; see ContribOperators.md).",
        inputs=_params(fields["in"], variables),
        outputs=_params(fields["out"], variables),
        type_constraints=constraints,
        attributes=[_attribute(token) for token in fields.get("attrs", "").split()],
    )


def _register() -> None:
    """Register the table's schemas (once per process).

    `onnx.reference` indexes every schema by op type alone when first imported and
    refuses names defined in two domains (Attention, Gelu, RotaryEmbedding and Trilu
    exist in both); it is imported above, before registering, so its index keeps
    onnx's own schemas and the reference evaluator keeps working.
    """
    for domain, op_type, fields in _entries():
        try:
            if onnx.defs.get_schema(op_type, 1, domain).since_version == 1:
                continue  # registered already (this module imported again)
        except onnx.defs.SchemaError:
            pass
        onnx.defs.register_schema(_schema(domain, op_type, fields))


_register()
