"""ONNX ops: shape."""
