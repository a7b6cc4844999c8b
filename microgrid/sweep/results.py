"""Where a sweep's rows live: one JSON file per (site, scenario) as it finishes, then one table.

``OUT/rows/<site>/<scenario>.json`` is written atomically (temporary file, then rename) the moment a task
returns, so an interrupted sweep keeps every finished scenario. A rerun reuses a row only when its
``digest`` (the hash of the scenario's effective site file plus the run settings) is the same: changing a
scenario, the year or the resolution recomputes exactly the rows concerned. ``results.parquet`` and
``results.csv`` hold the rows of the current cases, in the order of the scenario file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

ROWS_DIR = "rows"


def atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN to ``None``."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ResultStore:
    """The rows of one sweep directory."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)

    def row_path(self, key: str) -> Path:
        site, scenario = key.split("/", 1)
        return self.out / ROWS_DIR / site / f"{scenario}.json"

    def read(self, key: str) -> dict[str, Any] | None:
        path = self.row_path(key)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def reusable(self, key: str, digest: str, *, retry_failed: bool = False) -> bool:
        """A row for ``key`` with the same ``digest`` is stored (and, with ``retry_failed``, is not an error)."""
        row = self.read(key)
        if row is None or row.get("digest") != digest:
            return False
        return not (retry_failed and row.get("status") == "error")

    def write(self, row: dict[str, Any]) -> Path:
        path = self.row_path(row["key"])
        text = json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False, indent=1)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return path

    def table(self, keys: list[str]) -> pd.DataFrame:
        """The stored rows of ``keys`` in that order (missing ones left out)."""
        rows = [r for k in keys if (r := self.read(k)) is not None]
        return pd.DataFrame(rows)

    def write_tables(self, frame: pd.DataFrame) -> dict[str, Path]:
        """``results.parquet`` and ``results.csv`` (each replaced atomically)."""
        paths = {"parquet": self.out / "results.parquet", "csv": self.out / "results.csv"}
        frame = frame.copy()
        for col in frame.columns:
            kinds = {type(v) for v in frame[col] if v is not None and v == v}
            if kinds & {dict, list} or len(kinds - {bool}) > 1 and not kinds <= {int, float}:
                # a swept value may be a list or mapping (a tariff version), or mixed types: stored as JSON text
                frame[col] = frame[col].map(lambda v: v if v is None else json.dumps(v, ensure_ascii=False))
        atomic_write(paths["parquet"], lambda tmp: frame.to_parquet(tmp, index=False))
        atomic_write(paths["csv"], lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8"))
        return paths
