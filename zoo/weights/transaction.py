"""Changing a weights folder all or nothing: the rename of the table is the one commit point.

`zoo publish` and the recalibration write a table (`published.json`) and, in its folder's
`published/`, the weight files, their plots and their cards. Every file is written through
`zoo.files.atomic_write` (a temporary, fsync, rename, fsync of the folder), in this order:

1. under an exclusive lock on the table's folder, re-read the table and settle whatever a killed
   writer left (`settle`);
2. write the new weight file under a name the committed table does not use (`file_name_for`),
   and each new plot as a *pending* file named after the digest of the entry it belongs to;
3. replace the table: the commit;
4. settle: install the pending plots of committed entries, regenerate the cards that differ
   from the table, and remove what the table does not list (the replaced weight file, pending
   plots of entries that never committed, temporaries).

Killed before 3, the old table still lists only files that are all there, untouched; killed
after it, the new table lists only files that were on disk before it. Step 4 is idempotent and
runs again first thing the next time, so the cards and plots end up those of the table too.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from zoo.errors import RunFailed
from zoo.files import atomic_write
from zoo.models.registry import model_names
from zoo.weights.cards import render_card
from zoo.weights.table import Weight, WeightTable, write_table

# What publish writes into a weights folder: `<model>.<tag>[.<16 hex>].<kind>`.
OUTPUT = re.compile(
    r"^(?P<key>[a-z0-9_]+\.[a-z0-9_]+)(?:\.[0-9a-f]{16})?"
    r"\.(?P<kind>safetensors|png|reliability\.png|md)$"
)
# A plot waiting for its entry to commit: `.<plot>.<entry digest>.pending`; empty: remove it.
PENDING = re.compile(r"^\.(?P<target>.+)\.(?P<digest>[0-9a-f]{16})\.pending$")
# A temporary of `atomic_write` (`.<name>.<random>.part`) that a kill left behind.
TEMPORARY = re.compile(r"^\.(?P<target>.+)\.[^.]+\.part$")


@contextmanager
def writing(table: WeightTable) -> Iterator[WeightTable]:
    """Hold the table folder's writer lock, with `table` re-read and an earlier crash settled.

    The lock (`flock` on the folder) serialises publishes and recalibrations; the kernel
    releases it when its holder dies, even by SIGKILL, so a crash never leaves a stale lock.
    """
    folder = table.table_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        table.reload()
        settle(table)
        yield table
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def file_name_for(weight: Weight, committed: WeightTable) -> str:
    """The weight file's name: `<key>.safetensors`, unless the committed entry of that key uses
    it; then `<key>.<first 16 hex digits of its SHA-256>.safetensors`, so that the old file
    stays in place, loadable, until the new table is."""
    plain = f"{weight.key}.safetensors"
    if weight.key in committed and committed.get(weight.key).file == plain:
        return f"{weight.key}.{weight.sha256[:16]}.safetensors"
    return plain


def entry_digest(weight: Weight) -> str:
    """16 hex digits identifying a table entry exactly (a new publish of a key has new ones)."""
    text = json.dumps(weight.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def pending_path(plot: Path, weight: Weight) -> Path:
    """Where the plot `plot` of the entry `weight` waits for that entry to be committed."""
    return plot.with_name(f".{plot.name}.{entry_digest(weight)}.pending")


def stage_plot(plot: Path, data: bytes | None, weight: Weight) -> None:
    """Stage `data` as the plot `plot` of the uncommitted entry `weight`; None stages its
    removal (an empty pending file), unless there is nothing to remove."""
    if data is None and not plot.exists():
        return
    atomic_write(pending_path(plot, weight), data or b"")


def commit(table: WeightTable, staged: WeightTable, stage: Callable[[], None]) -> None:
    """Write the new files (`stage`), replace `table`'s file by `staged` (the commit), re-read
    it and settle the folder. Call it inside `writing(table)`.

    Should anything fail before the table is replaced, what `stage` wrote is removed and the
    folder is exactly as it was; an `OSError` names the folder when the OS did not name a file.
    Raises `RunFailed` when only the settling fails: the weights are committed by then.
    """
    try:
        stage()
        write_table(table.table_path, staged.to_dict())
    except BaseException as err:
        table.reload()  # the table on disk decides what is a leftover: the rename may have happened
        remove_unlisted(table)
        if isinstance(err, OSError) and err.filename is None and err.errno is not None:
            raise OSError(err.errno, err.strerror, str(table.files_dir)) from None
        raise
    table.reload()
    try:
        settle(table)
    except OSError as err:
        raise RunFailed(
            f"{table.table_path} is written, but its cards and plots could not be ({err})",
            "free some space, then run `python -c 'import zoo.weights as w; w.write_cards()'`",
        ) from None


def settle(table: WeightTable) -> None:
    """Make `table`'s folder what its committed table says: pending plots of committed entries
    installed, every card rendered from the table, nothing the table does not list."""
    for weight in table.weights():
        for plot in (table.curve_path(weight), table.reliability_path(weight)):
            _install(pending_path(plot, weight), plot)
    for weight in table.weights():
        card = table.card_path(weight)
        text = render_card(weight, table).encode("utf-8")
        if not card.is_file() or card.read_bytes() != text:
            atomic_write(card, text)
    remove_unlisted(table)


def _install(pending: Path, plot: Path) -> None:
    if not pending.is_file():
        return
    if pending.stat().st_size:
        os.replace(pending, plot)
    else:
        plot.unlink(missing_ok=True)
        pending.unlink()


def remove_unlisted(table: WeightTable) -> list[Path]:
    """Delete what a writer of `table` leaves only when it is killed or fails: weight files,
    plots and cards of no committed entry (or not its file), pending plots, temporaries.
    Only names zoo writes are touched. Returns what was removed."""
    return [path for path in _leftovers(table) if _unlink(path)]


def _leftovers(table: WeightTable) -> Iterator[Path]:
    listed = {weight.file for weight in table.weights()}
    keys = set(table.keys())
    if table.files_dir.is_dir():
        for path in table.files_dir.iterdir():
            if _is_leftover(path.name, listed, keys):
                yield path
    table_part = re.compile(rf"^\.{re.escape(table.table_path.name)}\.[^.]+\.part$")
    if table.table_path.parent.is_dir():
        yield from (p for p in table.table_path.parent.iterdir() if table_part.match(p.name))


def _is_leftover(name: str, listed: set[str], keys: set[str]) -> bool:
    if PENDING.match(name):
        return True
    temporary = TEMPORARY.match(name)
    if temporary:
        target = temporary["target"]
        return bool(_zoo_output(target) or PENDING.match(target))
    output = _zoo_output(name)
    if output is None:
        return False  # not a name zoo writes: someone else's file
    if output["kind"] == "safetensors":
        return name not in listed
    return output["key"] not in keys or name != _plain_name(output["key"], output["kind"])


def _zoo_output(name: str) -> re.Match[str] | None:
    output = OUTPUT.match(name)
    if output is None or output["key"].split(".")[0] not in model_names():
        return None
    return output


def _plain_name(key: str, kind: str) -> str:
    # Plots and cards are named after the key alone; only weight files carry a digest.
    return f"{key}.{kind}"


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
