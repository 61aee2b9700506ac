"""Benchmarks for issue 6: each figure printed next to a baseline measured in the same run.

Run them all with `python -m benchmarks` (`--quick` for a smaller, faster run), or one alone
with `python -m benchmarks.bench_register` (and so on). Nothing here is part of the test suite.
"""
