"""Benchmarks that need a real PostgreSQL: ``python -m bench.grid``."""
