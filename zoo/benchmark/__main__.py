"""`python -m zoo.benchmark [ARGS]`: the same as `zoo bench [ARGS]`."""

import sys

from zoo.benchmark.cli import bench_command

raise SystemExit(bench_command(sys.argv[1:]))
