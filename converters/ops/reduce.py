"""ONNX ops: reduce."""
