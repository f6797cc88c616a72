"""The README shows what the code generates and links only to files that exist."""

from __future__ import annotations

import re
from pathlib import Path

from zoo.weights.cards import render_weights_table
from zoo.weights.table import default_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_weights_table_is_the_generated_one() -> None:
    block = README.split("<!-- weights-table -->\n", 1)[1].split("<!-- /weights-table -->", 1)[0]
    assert block.strip() == render_weights_table(default_table()).strip(), (
        "README's weights table is stale: paste render_weights_table(default_table()) between "
        "its <!-- weights-table --> markers"
    )


def test_relative_links_point_at_files_in_the_repository() -> None:
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
