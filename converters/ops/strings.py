"""ONNX ops: strings."""
