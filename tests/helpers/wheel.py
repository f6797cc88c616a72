"""Build zoo's wheel from the working tree and install it where no checkout is on the path."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]


def copy_source_tree(target: Path) -> None:
    """The files a fresh checkout plus the uncommitted, not-ignored work would have."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, check=True,
    )  # fmt: skip
    for name in listing.stdout.decode().split("\0"):
        source = REPO / name
        if name and source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def build_wheel(workdir: Path) -> Path:
    """zoo's wheel, built from a copy of the tree (so nothing is written into the checkout)."""
    source, dist = workdir / "src", workdir / "dist"
    source.mkdir(parents=True)
    copy_source_tree(source)
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = dist.glob("zoo-*.whl")
    return wheel


def install_wheel(wheel: Path, site: Path) -> None:
    """Install `wheel` alone into the folder `site` (its dependencies are this interpreter's)."""
    subprocess.run(
        [*PIP, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
