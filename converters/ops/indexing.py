"""ONNX ops: indexing."""
