"""Benchmarks: each module has a main() that writes benchmarks/results/<name>.json."""
