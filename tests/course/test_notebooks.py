"""The course companion, `notebooks/lecture*.py`: every notebook runs, and keeps the conventions.

Each jupytext percent script is read as a notebook and executed top to bottom in a fresh
kernel, in an empty temporary folder, the way a learner opening it in JupyterLab would run it:
any error fails the test, and so does a notebook that draws no figure or shows the learner a
warning. The conventions checked without running anything are the ones notebooks/README.md
sets: a `# 第N讲 … · Lecture N: …` title, Chinese then English in every markdown cell, and a
final "在 zoo 里 · In zoo" cell of pointers.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
# One notebook per lecture 2-11, under the names the README's lecture table links to.
LECTURES = {
    2: "lecture02_linear_model.py",
    3: "lecture03_gradient_descent.py",
    4: "lecture04_back_propagation.py",
    5: "lecture05_linear_regression.py",
    6: "lecture06_logistic_regression.py",
    7: "lecture07_multiple_features.py",
    8: "lecture08_dataset_dataloader.py",
    9: "lecture09_softmax_classifier.py",
    10: "lecture10_cnn_basics.py",
    11: "lecture11_cnn_advanced.py",
}
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("lecture*.py"))
# Notebooks measured at over 20 s on a 2-core CPU, by file name; each is marked `slow`.
SLOW: frozenset[str] = frozenset()
# Generous: a shared CI machine can be several times slower than a laptop.
CELL_TIMEOUT_S = 300

FILE_LECTURE = re.compile(r"lecture(\d{2})_")
TITLE = re.compile(r"# 第(?P<zh>\d+)讲 \S.* · Lecture (?P<en>\d+): \S")
IN_ZOO = "## 在 zoo 里 · In zoo"
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
# Ideographs or Chinese punctuation: "## epoch、batch size · …" is a Chinese heading.
CHINESE_MARK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Four English words in a row: a phrase of English prose, not a name like `PyTorch` inside Chinese.
ENGLISH_PHRASE = re.compile(r"[A-Za-z]+(?:[ ,'-]+[A-Za-z]+){3}")
# Code and formulas are neither language.
CODE = re.compile(r"```.*?```|`[^`\n]*`|\$[^$\n]*\$", re.DOTALL)
# Where ipykernel sends `plt.show()` figures; a kernel inheriting MPLBACKEND=Agg would draw none.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def _params() -> list[Any]:
    """One pytest parameter per notebook, named after its file, marked `slow` if in SLOW."""
    return [
        pytest.param(path, id=path.stem, marks=[pytest.mark.slow] if path.name in SLOW else [])
        for path in NOTEBOOKS
    ]


def _lecture_of(path: Path) -> int:
    """The lecture number in a notebook's file name (`lecture07_…` → 7)."""
    match = FILE_LECTURE.match(path.name)
    assert match, f"{path.name}: notebook names start with lectureNN_"
    return int(match.group(1))


def _prose(cell: nbformat.NotebookNode) -> str:
    """A markdown cell's text without its code spans, code blocks and formulas."""
    return CODE.sub(" ", cell.source)


def _language_problem(text: str) -> str | None:
    """Why `text` is not Chinese followed by English, or None if it is."""
    if not CJK.search(text):
        return "has no Chinese"
    first_chinese = CHINESE_MARK.search(text)
    assert first_chinese is not None  # an ideograph is a Chinese mark
    english_before = ENGLISH_PHRASE.search(text, 0, first_chinese.start())
    if english_before:
        return f"starts with English ({english_before.group()!r}) before the Chinese"
    last_chinese = list(CHINESE_MARK.finditer(text))[-1]
    if not LATIN_WORD.search(text, last_chinese.end()):
        return "has no English after the Chinese"
    return None


def _execute(path: Path, workdir: Path) -> nbformat.NotebookNode:
    """Run the notebook at `path` in a fresh kernel whose working directory is `workdir`."""
    notebook = jupytext.read(path)
    # IPC sockets (POSIX) rather than TCP: the kernel then has no reason to warn that it runs
    # over TCP without encryption, and nothing listens on a network port. They live in a short
    # temporary path of their own: a socket path may not exceed ~100 bytes, which pytest's deep
    # tmp_path can on macOS.
    with tempfile.TemporaryDirectory(prefix="zoo-kernel-") as sockets:
        kernel = AsyncKernelManager(
            kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "k")
        )
        client = NotebookClient(
            notebook,
            km=kernel,
            timeout=CELL_TIMEOUT_S,
            resources={"metadata": {"path": str(workdir)}},
            # A failing cell's traceback ends up in the test report: plain text, no ANSI colours.
            extra_arguments=["--InteractiveShell.colors=nocolor"],
        )
        # nbclient leaves a kernel it did not create running unless told to shut it down.
        client.execute(cleanup_kc=True, env={**os.environ, "MPLBACKEND": INLINE_BACKEND})
    return notebook


def test_every_lecture_has_its_notebook() -> None:
    """Lectures 2-11 each have one notebook, under the expected name, and there are no others."""
    missing = [name for name in LECTURES.values() if not (NOTEBOOK_DIR / name).is_file()]
    assert not missing, f"notebooks missing from {NOTEBOOK_DIR}: {', '.join(missing)}"
    unexpected = sorted({path.name for path in NOTEBOOKS} - set(LECTURES.values()))
    assert not unexpected, f"notebooks not in the lecture list: {', '.join(unexpected)}"


@pytest.mark.parametrize("path", _params())
def test_notebook_keeps_the_conventions(path: Path) -> None:
    """Title, Chinese-then-English markdown and the final "In zoo" cell, read without running."""
    lecture = _lecture_of(path)
    cells = jupytext.read(path).cells
    assert cells and cells[0].cell_type == "markdown", f"{path.name}: starts with a markdown cell"
    first_line = cells[0].source.splitlines()[0]
    title = TITLE.match(first_line)
    assert title, f"{path.name}: title {first_line!r} is not '# 第N讲 … · Lecture N: …'"
    assert int(title["zh"]) == int(title["en"]) == lecture, f"{path.name}: title {first_line!r}"

    markdown = [(i, cell) for i, cell in enumerate(cells) if cell.cell_type == "markdown"]
    problems = [
        f"markdown cell {i} {problem}: {cell.source[:60]!r}"
        for i, cell in markdown
        if (problem := _language_problem(_prose(cell)))
    ]
    assert not problems, f"{path.name}: Chinese first, then English:\n" + "\n".join(problems)
    assert any(cell.cell_type == "code" for cell in cells), f"{path.name}: has no code"

    last = cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith(IN_ZOO), (
        f"{path.name}: the last cell is a markdown cell headed {IN_ZOO!r}"
    )
    assert re.search(r"^\s*- .*`zoo[ .]", last.source, re.MULTILINE), (
        f"{path.name}: the {IN_ZOO!r} cell lists pointers into zoo (`zoo.Class`, `zoo command`)"
    )


# `mnist_dir` unpacks MNIST once per session into the data folder the kernel inherits
# (`ZOO_DATA_DIR`), so the notebooks that read it do not each unpack their own copy.
@pytest.mark.usefixtures("mnist_dir")
@pytest.mark.parametrize("path", _params())
def test_notebook_runs_and_draws(path: Path, tmp_path: Path) -> None:
    """Runs without error in a fresh kernel, draws a figure and shows no warnings."""
    notebook = _execute(path, tmp_path)
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    figures = sum("image/png" in out.get("data", {}) for out in outputs)
    assert figures >= 1, f"{path.name}: no figure drawn (plt.show() shows one)"
    stderr = [out.text for out in outputs if out.output_type == "stream" and out.name == "stderr"]
    assert not stderr, f"{path.name}: the learner would see this on stderr:\n" + "".join(stderr)
