"""ONNX ops: signal."""
