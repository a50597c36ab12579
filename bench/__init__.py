"""reactbin's benchmark: the real stack (embedded PostgreSQL, SeaweedFS, `reactbin serve`) measured end to end.

Run it with `.venv/bin/python -m bench` (or `bench/run`); see docs/benchmarks.md.
"""
