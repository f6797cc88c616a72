"""Read a W&B offline run's `.wandb` transaction log (wandb 0.2x+ no longer ships a reader).

The file is a 7-byte header (`:W&B`, magic 0xBEE1, version) followed by LevelDB-log records
in 32 KiB blocks: each record has a 7-byte header (CRC32C, length, type: full/first/middle/last)
and a fragment of a serialized `wandb_internal_pb2.Record`.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: Path) -> list[wandb_internal_pb2.Record]:
    """All protobuf records of a `.wandb` file, in order."""
    raw = path.read_bytes()
    assert raw[:4] == b":W&B", f"{path} is not a W&B transaction log"
    records, pending, pos = [], b"", HEADER
    while pos + HEADER <= len(raw):
        room = BLOCK - pos % BLOCK
        if room < HEADER:  # block trailer: padding only
            pos += room
            continue
        _crc, length, kind = struct.unpack("<IHB", raw[pos : pos + HEADER])
        if kind == 0 and length == 0:
            pos += room
            continue
        data = raw[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        pending = data if kind in (FULL, FIRST) else pending + data
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def wait_for_exit(path: Path, timeout: float = 30.0) -> Path:
    """`path` once it holds the run's exit record (W&B may still be flushing the log)."""
    deadline = time.monotonic() + timeout
    while True:
        kinds = {r.WhichOneof("record_type") for r in read_records(path)}
        if "exit" in kinds or time.monotonic() > deadline:
            return path
        time.sleep(0.2)


def _key(item: Any) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


def history(path: Path) -> list[dict[str, Any]]:
    """The rows passed to `wandb.log`, keys as logged (e.g. `val/acc`), values decoded."""
    rows = []
    for record in read_records(path):
        if record.WhichOneof("record_type") == "history":
            rows.append({_key(i): json.loads(i.value_json) for i in record.history.item})
    return rows


def config(path: Path) -> dict[str, Any]:
    """The run config (hyperparameters) as last updated."""
    values: dict[str, Any] = {}
    for record in read_records(path):
        if record.WhichOneof("record_type") == "config":
            values.update({_key(i): json.loads(i.value_json) for i in record.config.update})
    return values
