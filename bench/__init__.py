"""Benchmarks: speed targets live here, never in timed tests. `make bench` runs them all."""
