"""Benchmarks of the lead router: `python -m bench` (see bench/README.md)."""
