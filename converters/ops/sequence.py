"""ONNX ops: sequence."""
