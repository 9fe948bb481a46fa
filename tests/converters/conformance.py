"""Shim: the conformance runner lives in axonnx.converters.conformance."""

import sys

from axonnx.converters.conformance import main

sys.exit(1 if main(sys.argv[1:]) else 0)
