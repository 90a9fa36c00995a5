"""Benchmarks, run as ``python -m benchmarks NAME [options]`` from the repository root.

Each ``benchmarks/NAME.py`` exposes ``main(argv) -> dict``; the runner prints that dict as one
JSON object on the last line of output.
"""
