"""ONNX ops: traditional_ml."""
