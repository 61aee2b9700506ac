"""Run every benchmark: `python -m benchmarks [--quick] [--only NAME ...]`."""

from __future__ import annotations

import argparse
import importlib
import time

from ._harness import Result, compiled_package, machine, print_results

BENCHES = (
    "register",
    "transaction",
    "cold_start",
    "scale",
    "canonical",
    "logs",
    "fleet",
    "mirror",
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run")
    parser.add_argument("--only", nargs="+", choices=BENCHES, help="run only these benchmarks")
    args = parser.parse_args()
    compiled_package()
    print(machine())
    print("(each figure with its baseline from this run, their ratio, and the target)")
    summary: list[tuple[str, Result]] = []
    started = time.perf_counter()
    for name in args.only or BENCHES:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        results = module.run(args.quick)
        print_results(module.TITLE, results)
        summary += [(name, result) for result in results if result.met is not None]
    print(f"\nsummary ({time.perf_counter() - started:.0f} s, {'quick' if args.quick else 'full'})")
    for name, result in summary:
        print(f"  {'MET   ' if result.met else 'MISSED'} {name}: {result.name.strip()}")


if __name__ == "__main__":
    main()
