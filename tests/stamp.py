"""Stamps for generated test data: a generator's files are reused while its script and the
writers' versions (pyarrow, DuckDB) are unchanged and every file is still there."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa


def fingerprint(script: Path) -> str:
    """Identifies generated content: the generator's source plus the writers' versions."""
    import duckdb

    h = hashlib.sha256(Path(script).read_bytes())
    h.update(f"pyarrow={pa.__version__};duckdb={duckdb.__version__}".encode())
    return h.hexdigest()


def is_current(out_dir: Path, stamp_name: str, script: Path, names: list[str]) -> bool:
    """True when ``out_dir`` holds exactly ``names``, written by ``script`` with these versions."""
    try:
        meta = json.loads((out_dir / stamp_name).read_text())
    except (OSError, ValueError):
        return False
    return (meta.get("fingerprint") == fingerprint(script)
            and sorted(meta.get("files", [])) == sorted(names)
            and all((out_dir / name).is_file() for name in names))


def clear(out_dir: Path, stamp_name: str) -> None:
    """Forgets the stamp before regenerating, so an interrupted run is not taken as current."""
    (out_dir / stamp_name).unlink(missing_ok=True)


def write(out_dir: Path, stamp_name: str, script: Path, names: list[str]) -> None:
    """Records that ``names`` in ``out_dir`` were just written by ``script``."""
    (out_dir / stamp_name).write_text(
        json.dumps({"fingerprint": fingerprint(script), "files": list(names)}, indent=1))
