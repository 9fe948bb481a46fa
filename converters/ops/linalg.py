"""ONNX ops: linalg."""
