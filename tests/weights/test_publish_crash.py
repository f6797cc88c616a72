"""`zoo publish --force` killed (real SIGKILL) at any step leaves the old weight or the new one.

A real `zoo publish` runs in a subprocess on a copy of the checkout whose table holds two
bundled weights, and replaces `linear_regression.toy_v1` with a freshly trained run. It is
killed at a step of its writing (`tests/helpers/publish_kill.py` counts the calls that change
the folder or make it durable; strace injects the SIGKILL into the syscall itself). After each
kill the table loads and every weight it lists loads and verifies its SHA-256; the entry is the
old one before the commit (the rename of the table) and the new one after it; and the next
publish succeeds and leaves nothing behind: no temporary, no unlisted file, every card current.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import publish_kill
from helpers.publish_kill import checkout_copy, environment, read_steps
from helpers.short_runs import train

import zoo
from zoo.hub import load_weight
from zoo.weights import WeightTable, render_card
from zoo.weights.publish import publish

KEYS = ["linear_regression.toy_v1", "multifeature_mlp.breast_cancer_v1"]
TARGET = "linear_regression.toy_v1"
HELPER = Path(publish_kill.__file__)
KILLED = -9
STRACE = shutil.which("strace")
SYSCALLS = "rename,renameat,renameat2,unlink,unlinkat,fsync,fdatasync"
TABLE_FILE = "/published.json"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkpoint of a real short run of another linear regression than the bundled one."""
    root = tmp_path_factory.mktemp("run")
    model = zoo.LinearRegression(lr=0.05, momentum=0.9)
    return train(root, model, zoo.LinearToyDataModule(), 4, seed=1)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return checkout_copy(tmp_path_factory.mktemp("pristine") / "checkout", KEYS)


@pytest.fixture
def checkout(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "checkout"
    shutil.copytree(pristine, copy, symlinks=True)
    return copy


def zoo_args(run: Path) -> list[str]:
    return [
        "publish", str(run), "--name", "linear_regression", "--tag", "toy_v1", "--seed", "1",
        "--force", "--metrics-csv", str(run.parent / "metrics.csv"),
    ]  # fmt: skip


def run_publish(
    checkout: Path, run: Path, kill_at: str | None = None, tracer: list[str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    """`zoo publish` in a subprocess on `checkout` (killed at `kill_at`); its steps."""
    log = checkout.parent / "steps.jsonl"
    log.unlink(missing_ok=True)
    command = [sys.executable, str(HELPER), "--log", str(log)]
    command += ["--kill-at", kill_at] if kill_at else []
    done = subprocess.run(
        [*(tracer or []), *command, "--", *zoo_args(run)],
        cwd=checkout, env=environment(checkout), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done, read_steps(log)


def table_of(checkout: Path) -> WeightTable:
    return WeightTable(checkout / "zoo/weights/published.json", checkout / "zoo/weights/published")


def assert_loadable(table: WeightTable) -> None:
    """Every weight of the table loads, strictly, from a file of the recorded size and hash."""
    assert table.keys() == sorted(KEYS)
    for weight in table.weights():
        load_weight(weight, table, download=False)


def assert_settled(table: WeightTable) -> None:
    """Nothing in the folder but what the table lists; every card rendered from the table."""
    allowed = set()
    for weight in table.weights():
        allowed |= {weight.file, f"{weight.key}.md", f"{weight.key}.png"}
        allowed.add(f"{weight.key}.reliability.png")
    assert {p.name for p in table.files_dir.iterdir()} <= allowed
    assert [p.name for p in table.table_path.parent.iterdir() if p.name.startswith(".")] == []
    for weight in table.weights():
        assert table.card_path(weight).read_text(encoding="utf-8") == render_card(weight, table)
    assert table.curve_path(table.get(TARGET)).is_file()


def entry(table: WeightTable) -> dict:
    return table.get(TARGET).to_dict()


def commit_step(steps: list[dict]) -> int:
    (n,) = [s["n"] for s in steps if s["op"] == "replace" and s["args"][1].endswith(TABLE_FILE)]
    return n


def publish_again(table: WeightTable, run: Path) -> None:
    """The next publish, in this process, after a killed one: it must succeed."""
    weight = publish(
        run, name="linear_regression", tag="toy_v1", seed=2, force=True,
        metrics_csv=run.parent / "metrics.csv", table=table,
    )  # fmt: skip
    assert weight.training.seed == 2
    reread = WeightTable(table.table_path, table.files_dir)
    assert_loadable(reread)
    assert_settled(reread)


def test_the_table_is_the_commit_and_the_old_file_goes_last(checkout: Path, run: Path) -> None:
    old = entry(table_of(checkout))
    done, steps = run_publish(checkout, run)
    assert done.returncode == 0, done.stderr
    table = table_of(checkout)
    new = table.get(TARGET)
    assert new.sha256 != old["sha256"] and new.file == f"{TARGET}.{new.sha256[:16]}.safetensors"
    assert_loadable(table)
    assert_settled(table)
    renamed = [Path(s["args"][1]).name for s in steps if s["op"] == "replace"]
    removed = [Path(s["args"][0]).name for s in steps if s["op"] == "unlink"]
    # The new file and the new plot are in place before the table names them ...
    assert renamed.index(new.file) < renamed.index("published.json")
    pending = [n for n in renamed if n.startswith(f".{TARGET}.png.") and n.endswith(".pending")]
    assert len(pending) == 1 and renamed.index(pending[0]) < renamed.index("published.json")
    # ... the plot and card after it; and the replaced file is removed last, once nothing lists it.
    assert renamed.index("published.json") < renamed.index(f"{TARGET}.png")
    assert renamed.index("published.json") < renamed.index(f"{TARGET}.md")
    assert removed == [old["file"]] and steps[-1]["op"] == "unlink"


@pytest.mark.parametrize(
    ("kill_at", "expected"),
    [("1", "old"), ("commit", "old"), ("after-commit", "new")],
    ids=["writing-the-new-file", "at-the-commit", "right-after-the-commit"],
)
def test_a_kill_leaves_the_old_or_the_new_weight(
    checkout: Path, run: Path, kill_at: str, expected: str
) -> None:
    old = entry(table_of(checkout))
    done, steps = run_publish(checkout, run, kill_at)
    assert done.returncode == KILLED, done.stderr
    assert steps, "the publish was killed before it wrote anything"
    table = table_of(checkout)
    assert_loadable(table)
    assert (entry(table) == old) == (expected == "old")
    publish_again(table, run)


@pytest.mark.slow
def test_a_kill_at_every_step_leaves_a_consistent_table(
    pristine: Path, tmp_path: Path, run: Path
) -> None:
    reference = shutil.copytree(pristine, tmp_path / "reference")
    done, steps = run_publish(reference, run)
    assert done.returncode == 0, done.stderr
    old = entry(table_of(pristine))
    commit = commit_step(steps)
    for step in steps:
        checkout = shutil.copytree(pristine, tmp_path / f"kill-{step['n']}" / "checkout")
        done, _ = run_publish(checkout, run, str(step["n"]))
        assert done.returncode == KILLED, (step, done.stderr)
        table = table_of(checkout)
        assert_loadable(table)
        assert (entry(table) == old) == (step["n"] <= commit), step
        publish_again(table, run)


SYSCALL_LINE = re.compile(r"^(?P<pid>\d+) +(?P<name>\w+)\((?P<args>.*)")


def _traced_syscalls(log: Path) -> list[tuple[str, list[str]]]:
    """(syscall, path arguments) of every syscall the main thread made, in order."""
    found, main = [], None
    for line in log.read_text(encoding="utf-8").splitlines():
        match = SYSCALL_LINE.match(line)
        if match is None or "resumed>" in line:
            continue
        main = main or match["pid"]
        if match["pid"] == main:
            found.append((match["name"], match["args"].split('"')[1::2]))
    return found


@pytest.mark.slow
@pytest.mark.skipif(STRACE is None, reason="SKIPPED LOUDLY: strace is not installed")
def test_a_sigkill_injected_into_the_commit_syscall(pristine: Path, tmp_path: Path, run) -> None:
    # strace sees the syscalls themselves: the helper's steps are every rename and unlink there
    # is, and a SIGKILL delivered inside the commit's rename(2) leaves the old entry.
    checkout = shutil.copytree(pristine, tmp_path / "traced" / "checkout")
    log = tmp_path / "strace.log"
    done, steps = run_publish(
        checkout, run, tracer=[STRACE, "-f", "-qq", "-o", str(log), "-e", f"trace={SYSCALLS}"]
    )
    if done.returncode != 0 and "ptrace" in done.stderr:
        pytest.skip(f"SKIPPED LOUDLY: strace cannot trace here ({done.stderr.strip()[:200]})")
    assert done.returncode == 0, done.stderr
    traced = _traced_syscalls(log)
    inside = [
        (n, paths[-1]) for n, paths in traced if paths and paths[-1].startswith(str(checkout))
    ]
    stepped = [(s["op"], s["args"][-1]) for s in steps if s["op"] in ("replace", "unlink")]
    assert [p for n, p in inside if n.startswith(("rename", "unlink"))] == [p for _, p in stepped]
    # strace counts each syscall per thread: the commit is the main thread's k-th rename(2).
    renames = [paths[-1] for name, paths in traced if name == "rename"]
    k = renames.index(str(table_of(checkout).table_path)) + 1
    killed = shutil.copytree(pristine, tmp_path / "killed" / "checkout")
    old = entry(table_of(killed))
    inject = ["-e", "trace=rename", "-e", f"inject=rename:signal=KILL:when={k}"]
    done, _ = run_publish(killed, run, tracer=[STRACE, "-f", "-qq", "-o", "/dev/null", *inject])
    assert done.returncode == KILLED, done.stderr
    table = table_of(killed)
    assert_loadable(table)
    assert entry(table) == old
    assert json.loads(table.table_path.read_text(encoding="utf-8"))["weights"][TARGET] == old
    publish_again(table, run)


def test_settling_removes_only_what_zoo_leaves_behind(checkout: Path) -> None:
    table = table_of(checkout)
    files = table.files_dir
    leftovers = [
        "linear_regression.v9.safetensors",  # a weight file no entry lists
        f"{TARGET}.0123456789abcdef.safetensors",  # a replacement that never committed
        f".{TARGET}.safetensors.k2j4h5g6.part",  # a temporary of a killed write
        f".{TARGET}.png.0123456789abcdef.pending",  # a plot of an entry that never committed
        "linear_regression.v9.md",  # the card of no entry
    ]
    others = ["notes.txt", "my.model.safetensors", ".hidden", "resnet.v1.safetensors"]
    for name in leftovers + others:
        (files / name).write_bytes(b"x")
    (table.table_path.parent / ".published.json.a1b2c3d4.part").write_bytes(b"{")
    card = table.card_path(table.get(TARGET))
    card.write_text("an old card\n", encoding="utf-8")
    zoo.weights.write_cards(table)
    assert_loadable(table)
    assert {p.name for p in files.iterdir()} == {
        *(w.file for w in table.weights()),
        *(f"{k}.{kind}" for k in KEYS for kind in ("md", "png")),
        "multifeature_mlp.breast_cancer_v1.reliability.png",
        *others,
    }
    assert not (table.table_path.parent / ".published.json.a1b2c3d4.part").exists()
    assert card.read_text(encoding="utf-8") == render_card(table.get(TARGET), table)


def test_a_second_writer_waits_for_the_first(checkout: Path, run: Path) -> None:
    table = table_of(checkout)
    before = table.table_path.read_bytes()
    holder = os.open(table.table_path.parent, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(holder, fcntl.LOCK_EX)  # what a publish holds while it writes
    waiting = threading.Thread(target=publish_again, args=(table, run))
    try:
        waiting.start()
        waiting.join(timeout=3)
        assert waiting.is_alive(), "the publish did not wait for the lock"
        assert table.table_path.read_bytes() == before
        assert not [p for p in table.files_dir.iterdir() if p.name.startswith(".")]
    finally:
        os.close(holder)
        waiting.join(timeout=120)
    assert not waiting.is_alive()
    assert table_of(checkout).get(TARGET).training.seed == 2
