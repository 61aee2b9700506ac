"""Benchmarks for issue 6: each figure printed next to a baseline measured in the same run.

Run them all with `python -m benchmarks` (`--quick` for a smaller, faster run), or one alone
with `python -m benchmarks.bench_register` (and so on). Nothing here is part of the test suite.
"""

import os

# Every benchmark but bench_mirror measures the database path, as earlier runs did: the registry
# mirror (a file and its fsyncs per version, on by default in a storage root) is measured on
# its own, against the Rust SDK's write, by bench_mirror, which turns it on explicitly.
os.environ.setdefault("AUKI_SESSION_REGISTRY_MIRROR", "0")
