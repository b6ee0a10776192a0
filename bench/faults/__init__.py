"""The fault runs of `python -m bench.reliability_faults`, one module per remote:
`tripletex.py` (section A, the sync), `kravia.py` (section B, the agency's sends), what both
share in `common.py`, and the report written in `report.py`."""
