"""ONNX ops: quantization."""
