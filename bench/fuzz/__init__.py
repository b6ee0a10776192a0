"""The fuzz runs of `make reliability` (see `bench/reliability_fuzz.py`), one module per target,
the report on its own."""
