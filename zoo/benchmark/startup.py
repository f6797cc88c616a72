"""How long the `zoo` command takes to start: `python -m zoo.benchmark.startup [--repeats N]`.

`zoo --help` and `zoo list` should answer in well under a second, which they can only because
neither imports torch or Lightning. Each command runs in a fresh interpreter, as a user's would;
the median of the repeats is printed with the CPU it ran on.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from zoo.hardware import cpu_name

COMMANDS = {
    "import zoo": [sys.executable, "-c", "import zoo"],
    "zoo --help": [sys.executable, "-m", "zoo", "--help"],
    "zoo list": [sys.executable, "-m", "zoo", "list"],
    "import torch (for scale)": [sys.executable, "-c", "import torch"],
}


def seconds(command: list[str]) -> float:
    """Wall time of one run of `command`, output discarded."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Print the median start-up time of each command."""
    parser = argparse.ArgumentParser(prog="python -m zoo.benchmark.startup", description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="runs per command (default 5)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    print(f"start-up time, median of {args.repeats} fresh processes on {cpu_name()}")
    for name, command in COMMANDS.items():
        seconds(command)  # a first run warms the file cache
        median = statistics.median(seconds(command) for _ in range(args.repeats))
        print(f"  {name:<26} {median:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
