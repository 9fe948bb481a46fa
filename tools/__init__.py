"""Developer tools: scripts that generate the docs and run the conformance suite (not shipped).

Run from the repository root, e.g. `python -m tools.coverage > docs/coverage.md`.
"""
