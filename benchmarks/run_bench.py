"""Run the benchmark from a source checkout: `python benchmarks/run_bench.py [zoo bench ARGS]`.

The measuring code, including the course's baseline loop, lives in `zoo.benchmark` so that
`zoo bench` also works from an installed wheel; this script is the same command without the
console entry point.
"""

from __future__ import annotations

import sys

from zoo.benchmark.cli import bench_command

if __name__ == "__main__":
    raise SystemExit(bench_command(sys.argv[1:]))
