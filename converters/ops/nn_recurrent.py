"""ONNX ops: nn_recurrent."""
