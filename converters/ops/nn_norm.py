"""ONNX ops: nn_norm."""
