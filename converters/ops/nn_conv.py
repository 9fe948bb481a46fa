"""ONNX ops: nn_conv."""
