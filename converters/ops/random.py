"""ONNX ops: random."""
