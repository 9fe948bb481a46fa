"""Writing ONNX files, with weights in an external-data file when they are large."""

from __future__ import annotations

from pathlib import Path

import onnx

from axonnx.files import write_atomically

__all__ = ["save_model"]

_PROTOBUF_LIMIT = 2**31 - 2**24  # 2 GiB, less room for the graph itself


def save_model(proto: onnx.ModelProto, path: Path, external_data: bool | None = None) -> None:
    """Write `proto` to `path` atomically; weights go to `<name>.data` beside it when
    `external_data` is True, or when None and the model is too big for one protobuf."""
    if external_data is None:
        external_data = proto.ByteSize() > _PROTOBUF_LIMIT

    def write(temporary: str) -> None:
        if not external_data:
            onnx.save_model(proto, temporary)
            return
        copy = onnx.ModelProto()
        copy.CopyFrom(proto)  # saving with external data rewrites the tensors in place
        onnx.save_model(
            copy,
            temporary,
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=f"{path.name}.data",
            size_threshold=0,
        )

    write_atomically(path, write)
