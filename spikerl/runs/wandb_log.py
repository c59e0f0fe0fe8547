"""Read an offline wandb run back from its ``.wandb`` transaction log (no network).

wandb keeps no Python reader for its run files, so this one decodes the format with
wandb's own protobuf messages (``wandb.proto.wandb_internal_pb2.Record``): a 7-byte header
(``:W&B``, magic, version), then LevelDB-style log blocks of 32 KiB in which every chunk
has a 7-byte header (CRC32, little-endian length, type 1 full / 2 first / 3 middle /
4 last) before its bytes. A chunk header never straddles a block: fewer than 7 bytes left
in a block are padding.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
HEADER = 7


def records(path: Path) -> Iterator[Any]:
    """The protobuf ``Record`` messages of one ``.wandb`` file, in order.

    A chunk shorter than its header says (the file of a live run, still being written) ends
    the iteration instead of being parsed.

    Raises:
        ValueError: Not a wandb transaction log.
    """
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path}: not a wandb run file (no ':W&B' header)")
    pos, buf = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        _, n, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        chunk = data[pos + HEADER : pos + HEADER + n]
        if len(chunk) < n:  # a live run: wandb is still writing this chunk
            return
        pos += HEADER + n
        if kind == 0 and n == 0:
            continue
        buf += chunk
        if kind in (1, 4):
            rec = pb.Record()  # type: ignore[attr-defined]
            rec.ParseFromString(buf)
            buf = b""
            yield rec


def history(run_dir: Path) -> tuple[dict[str, list[Any]], list[str]]:
    """Every history key logged under ``run_dir`` (all ``*.wandb`` files below it) with its
    values in order (JSON-decoded; media and histograms as their ``/_type``, ``/values``,
    ... sub-keys), and the names of the artifacts logged."""
    out: dict[str, list[Any]] = {}
    artifacts: list[str] = []
    for path in sorted(Path(run_dir).rglob("*.wandb")):
        for rec in records(path):
            kind = rec.WhichOneof("record_type")
            if kind == "history":
                for item in rec.history.item:
                    key = item.key or "/".join(item.nested_key)
                    out.setdefault(key, []).append(json.loads(item.value_json))
            elif kind == "artifact":
                artifacts.append(rec.artifact.name)
    return out, artifacts
