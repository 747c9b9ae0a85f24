"""Reliability: the memory limit, and hostile files.

* Memory: a file ten times the ``--memory-limit`` scans completely (locally and over HTTP) with
  the instance's peak linear memory within the limit + 10%, and its answer equals DuckDB's; a row
  group that cannot fit is a typed ``memory limit`` error (exit 1, one line) after the rows of
  the row groups before it; a tight limit makes smaller batches rather than failing.
* Hostile files: pages that declare sizes they cannot have (a decompression bomb), a GZIP page
  that inflates past its declared size, wrong page CRCs, garbage and lying footers, row counts
  that disagree: each a typed error (exit 1, one line), never a trap, never wrong rows.

Every expected answer comes from DuckDB or pyarrow, never from Quiver.
"""

from __future__ import annotations

import io
import random
import struct

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import util
from util import assert_clean_error, describe

MiB = 1 << 20

#: The limit of the ten-times test, and the file's size relative to it.
LIMIT = 24 * MiB
TIMES = 10


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

def _random_table(rows: int, seed: int) -> pa.Table:
    """Incompressible columns (stored size ~ decoded size): ints, floats and short strings."""
    return pa.table({
        "id": pa.array(range(rows), pa.int64()),
        "a": _random_ints(rows, seed),
        "x": pc.random(rows, initializer=seed + 1),
        "s": _random_ints(rows, seed + 2).cast(pa.string()),
    })


def _random_ints(rows: int, seed: int) -> pa.Array:
    return pc.multiply(pc.random(rows, initializer=seed), float(1 << 62)).cast(pa.int64())


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """A file of TIMES x LIMIT bytes in row groups of about LIMIT / 5."""
    path = tmp_path_factory.mktemp("big") / "big.parquet"
    target = TIMES * LIMIT
    rows_per_group = 120_000
    with pq.ParquetWriter(path, _random_table(1, 0).schema, compression="snappy",
                          use_dictionary=False) as writer:
        seed = 0
        while not path.exists() or path.stat().st_size < target:
            writer.write_table(_random_table(rows_per_group, seed), row_group_size=rows_per_group)
            seed += 1
            if seed * rows_per_group * 40 > 2 * target:
                break
    assert path.stat().st_size >= target, path.stat().st_size
    return path


def _sums(duck, source: str) -> tuple:
    return duck.execute(
        f"SELECT count(*), sum(id), sum(a)::HUGEINT, sum(hash(s)) FROM read_parquet('{source}')"
    ).fetchone()


def _scan_sums(table: pa.Table, duck) -> tuple:
    duck.register("got", table)
    try:
        return duck.execute("SELECT count(*), sum(id), sum(a)::HUGEINT, sum(hash(s)) FROM got").fetchone()
    finally:
        duck.unregister("got")


@pytest.mark.parametrize("over", ["file", "http"])
def test_a_file_ten_times_the_limit_scans_within_it(over, big_file, run_quiver, duck, tmp_path):
    from rangeserver import RangeServer

    out = tmp_path / "out.arrow"
    with RangeServer(big_file.parent) as server:
        source = str(big_file) if over == "file" else server.url(big_file.name)
        proc = run_quiver("scan", source, "--format", "arrow", "--output", out,
                          "--memory-limit", str(LIMIT), "--stats", timeout=300)
    assert proc.returncode == 0, describe(proc)
    stats = util.parse_stats(proc.stderr)
    peak = stats["peak_memory_bytes"]
    assert peak <= LIMIT * 1.1, f"peak linear memory {peak / MiB:.1f} MiB over {LIMIT / MiB * 1.1:.1f} MiB"
    assert stats["row_groups_scanned"] == pq.ParquetFile(big_file).metadata.num_row_groups
    table = util.read_arrow_stream(out)
    assert _scan_sums(table, duck) == _sums(duck, str(big_file))
    assert table.column("x").equals(pq.read_table(big_file, columns=["x"]).column("x"))


def test_a_tight_limit_makes_smaller_batches(big_file, run_quiver, duck, tmp_path):
    """Asked for batches of a million rows under a limit one row group barely fits, the scan
    makes smaller batches and returns the same rows."""
    out = tmp_path / "out.arrow"
    proc = run_quiver("scan", big_file, "--format", "arrow", "--output", out, "--columns", "id,s",
                      "--batch-size", str(1 << 20), "--memory-limit", str(12 * MiB), timeout=300)
    assert proc.returncode == 0, describe(proc)
    with pa.ipc.open_stream(out.read_bytes()) as reader:
        batches = list(reader)
    assert max(b.num_rows for b in batches) < 120_000
    table = pa.Table.from_batches(batches)
    assert table.equals(pq.read_table(big_file, columns=["id", "s"]))


def test_a_row_group_that_cannot_fit_is_a_memory_limit_error_after_the_rows_before_it(
        run_quiver, tmp_path):
    path = tmp_path / "small_then_huge.parquet"
    with pq.ParquetWriter(path, _random_table(1, 0).schema, compression="none") as writer:
        writer.write_table(_random_table(1000, 1))
        writer.write_table(_random_table(600_000, 2), row_group_size=600_000)
    proc = run_quiver("scan", path, "--format", "csv", "--columns", "id", "--memory-limit", "8M")
    line = assert_clean_error(proc, 1)
    assert line.startswith("quiver: error: memory limit: ") and "row group 1" in line, line
    assert "limit of 8.0 MiB" in line, line
    ids = proc.stdout.decode().split()
    assert ids[0] == "id" and ids[1:] == [str(i) for i in range(1000)]
    assert run_quiver("scan", path, "--format", "csv", "--columns", "id",
                      "--memory-limit", "64M").returncode == 0


def test_a_limit_below_the_minimum_is_refused(run_quiver):
    """By the engine (a typed invalid-argument), which the instance's cap lets start."""
    line = assert_clean_error(run_quiver("scan", util.SAMPLE_PATH, "--memory-limit", "1M"), 1)
    assert "memory-limit must be at least" in line, line


# --------------------------------------------------------------------------------------------
# Hostile pages
# --------------------------------------------------------------------------------------------

def _varint(blob: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = blob[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if not byte & 0x80:
            return value, pos


def _overlong_varint(value: int, length: int) -> bytes:
    """``value`` as a varint of exactly ``length`` bytes (padded with continuation bytes)."""
    out = []
    for i in range(length):
        part = value & 0x7F
        value >>= 7
        out.append(part | (0x80 if i < length - 1 else 0))
    assert value == 0, "does not fit"
    return bytes(out)


def _set_declared_size(blob: bytearray, header_at: int, size: int) -> None:
    """Rewrites field 2 (uncompressed_page_size) of the page header at ``header_at`` in place,
    keeping its length: PageHeader starts with fields 1, 2, 3 as short-form i32 (0x15)."""
    assert blob[header_at] == 0x15
    _, pos = _varint(blob, header_at + 1)
    assert blob[pos] == 0x15, "field 2 is not next"
    start = pos + 1
    _, end = _varint(blob, start)
    zigzag = size << 1
    blob[start:end] = _overlong_varint(zigzag, end - start)


def _pages_file(path, table: pa.Table, compression: str = "none",
                use_dictionary: bool = False) -> list[int]:
    """``table`` in one row group without page CRCs, each column in as few pages as the writer
    allows (at most 20,000 rows a page: parquet-cpp's row limit); returns the offset of each
    column's first data page."""
    pq.write_table(table, path, compression=compression, use_dictionary=use_dictionary,
                   data_page_size=1 << 30, write_page_checksum=False)
    group = pq.ParquetFile(path).metadata.row_group(0)
    return [group.column(i).data_page_offset for i in range(group.num_columns)]


def _one_page_file(path, compression: str, values: pa.Array) -> int:
    """A file of one column ``v`` (no dictionary); returns the offset of its first data page."""
    return _pages_file(path, pa.table({"v": values}), compression)[0]


def test_a_page_declaring_an_impossible_size_is_refused(run_quiver, tmp_path):
    """A snappy page of 2 MiB declaring 127 MiB uncompressed (more than snappy can expand to):
    corrupt-file under the default limit, memory-limit under a 64 MiB one. Never allocated."""
    path = tmp_path / "bomb.parquet"
    strings = pc.utf8_rpad(_random_ints(20_000, 3).cast(pa.string()), 100, "x")
    at = _one_page_file(path, "snappy", strings)
    blob = bytearray(path.read_bytes())
    _set_declared_size(blob, at, (1 << 27) - 1)
    path.write_bytes(blob)
    line = assert_clean_error(run_quiver("scan", path, "--format", "csv", "--stats"), 1)
    assert "corrupt" in line and "more than the codec can expand to" in line, line
    line = assert_clean_error(run_quiver("scan", path, "--format", "csv", "--memory-limit", "64M"), 1)
    assert line.startswith("quiver: error: memory limit: the page at byte"), line


def test_a_gzip_page_that_inflates_past_its_declared_size_is_refused(run_quiver, tmp_path):
    path = tmp_path / "gzip_bomb.parquet"
    at = _one_page_file(path, "gzip", pa.array([0] * 300_000, pa.int64()))
    blob = bytearray(path.read_bytes())
    _set_declared_size(blob, at, 1000)
    path.write_bytes(blob)
    line = assert_clean_error(run_quiver("scan", path, "--format", "csv"), 1)
    assert "inflates to more than the 1000 B its header declares" in line, line


@pytest.mark.parametrize("name", ["datapage_v1-corrupt-checksum.parquet",
                                  "rle-dict-uncompressed-corrupt-checksum.parquet"])
def test_wrong_page_crcs_are_refused(name, run_quiver, parquet_testing):
    line = assert_clean_error(run_quiver("scan", parquet_testing / "data" / name, "--format", "csv"), 1)
    assert "CRC checksum mismatch" in line, line


def test_a_page_with_a_wrong_crc_we_wrote_is_refused_and_a_right_one_read(run_quiver, tmp_path,
                                                                          duck):
    path = tmp_path / "crc.parquet"
    table = pa.table({"v": pa.array(range(50_000), pa.int64())})
    pq.write_table(table, path, compression="none", write_page_checksum=True, use_dictionary=False)
    proc = run_quiver("scan", path, "--format", "arrow")
    assert proc.returncode == 0, describe(proc)
    assert util.read_arrow_stream(proc.stdout).equals(duck.execute(
        f"SELECT v FROM read_parquet('{path}')").fetch_arrow_table())
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 3] ^= 0x01  # one bit of a value in the page
    path.write_bytes(blob)
    line = assert_clean_error(run_quiver("scan", path, "--format", "csv"), 1)
    assert "CRC checksum mismatch" in line, line


def _overlong_run_header_file(path, stream: str) -> None:
    """A one-page file of 400 int64 values, uncompressed, whose first run header in ``stream`` is
    stretched to 11 bytes (a varint has at most 10). Both streams are one bit-packed run of 50
    groups of 8 values: its header (50 << 1) | 1, then the packed bits."""
    if stream == "definition levels":  # 1 and 0 alternating: 0x55 fifty times, after their length
        values = pa.array([None if i % 2 else i for i in range(400)], pa.int64())
        run = struct.pack("<I", 51) + bytes([101]) + b"\x55" * 50
        header_at = 4
    else:  # dictionary indices 0..15 repeating, 4 bits each, after their bit width
        values = pa.array([i % 16 for i in range(400)], pa.int64())
        run = bytes([4, 101]) + bytes([0x10, 0x32, 0x54, 0x76])
        header_at = 1
    schema = pa.schema([pa.field("v", pa.int64(), nullable=values.null_count > 0)])
    [page_at] = _pages_file(path, pa.table({"v": values}).cast(schema),
                            use_dictionary=stream == "dictionary indices")
    blob = bytearray(path.read_bytes())
    at = blob.find(run, page_at)
    assert at > 0 and blob.find(run, at + 1) < 0, "the run is not where expected"
    blob[at + header_at:at + header_at + 11] = b"\xff" * 11
    path.write_bytes(blob)


@pytest.mark.parametrize("stream", ["definition levels", "dictionary indices"])
def test_an_overlong_varint_in_a_page_is_an_error_not_a_trap(stream, run_quiver, tmp_path, duck):
    """The parquet crate asserted on an overlong run header of dictionary indices, a trap in the
    component; its patched copy (third_party/parquet) reports it. DuckDB refuses both files."""
    path = tmp_path / "overlong_varint.parquet"
    _overlong_run_header_file(path, stream)
    with pytest.raises(Exception):
        duck.execute(f"SELECT v FROM read_parquet('{path}')").fetchall()
    for extra in ([], ["--where", "v >= 0"]):
        line = assert_clean_error(run_quiver("scan", path, "--format", "csv", *extra), 1)
        assert line.startswith("quiver: error: corrupt file"), line


# --------------------------------------------------------------------------------------------
# Hostile footers and row counts
# --------------------------------------------------------------------------------------------

def _footer(blob: bytes) -> tuple[int, int]:
    (length,) = struct.unpack("<I", blob[-8:-4])
    return len(blob) - 8 - length, length


@pytest.fixture(scope="module")
def small_file(tmp_path_factory) -> bytes:
    sink = io.BytesIO()
    pq.write_table(_random_table(5000, 9), sink, row_group_size=1000)
    return sink.getvalue()


def _hostile_footers(blob: bytes) -> dict[str, bytes]:
    start, length = _footer(blob)
    footer = blob[start:start + length]
    garbage = random.Random(11).randbytes(length)
    return {
        "bad magic": blob[:-4] + b"PAR2",
        "footer longer than the file": blob[:-8] + struct.pack("<I", len(blob) * 2) + b"PAR1",
        "footer length zero": blob[:-8] + struct.pack("<I", 0) + b"PAR1",
        "garbage thrift": blob[:start] + garbage + blob[-8:],
        "footer cut in half": blob[:start] + footer[:length // 2] + struct.pack("<I", length // 2) + b"PAR1",
        "all 0xFF footer": blob[:start] + b"\xff" * length + blob[-8:],
        "truncated to the footer": blob[start - 16:],
    }


@pytest.mark.parametrize("case", ["bad magic", "footer longer than the file", "footer length zero",
                                  "garbage thrift", "footer cut in half", "all 0xFF footer",
                                  "truncated to the footer"])
def test_hostile_footers_are_typed_errors(case, small_file, run_quiver, tmp_path):
    """Each refused at open, by ``scan`` and by ``info`` (which reads only the footer): a file
    truncated to its footer has column chunks outside it, as parquet-cpp also says."""
    path = tmp_path / "hostile.parquet"
    path.write_bytes(_hostile_footers(small_file)[case])
    for command in (["scan", path, "--format", "csv"], ["info", path]):
        line = assert_clean_error(run_quiver(*command), 1)
        assert any(words in line for words in (
            "not a Parquet file", "cannot decode the Parquet footer", "too short to be a Parquet file",
            "the footer claims", "outside the file's")), line


_REGRESSIONS = util.REPO_ROOT / "fuzz" / "regressions"


@pytest.mark.parametrize("reproducer", sorted(
    f"{path.parent.name}/{path.name}" for kind in ("footer", "pages")
    for path in (_REGRESSIONS / kind).iterdir()))
def test_fuzz_reproducers_are_typed_errors_in_the_component(reproducer, run_quiver, tmp_path):
    """The files the fuzzer found crashes with (fuzz/regressions/) scanned by the real component,
    plainly and through a filter: a typed error, or rows, never a trap. ``cargo test`` replays
    them natively through the fuzz targets' bodies too. (Copied: their names say "panics".)"""
    path = tmp_path / "reproducer.parquet"
    path.write_bytes((_REGRESSIONS / reproducer).read_bytes())
    for extra in ([], ["--where", "true"]):
        proc = run_quiver("scan", path, "--format", "csv", *extra)
        if proc.returncode != 0:
            line = assert_clean_error(proc, 1)
            assert line.startswith(("quiver: error: corrupt file", "quiver: error: unsupported")), line
        util.assert_no_crash(proc)


def _page_num_values_at(blob: bytes, header_at: int) -> tuple[int, int]:
    """Where the varint of DataPageHeader.num_values (field 5, field 1) sits: (start, end)."""
    pos = header_at
    for _ in range(3):  # fields 1..3: short-form i32
        assert blob[pos] == 0x15
        _, pos = _varint(blob, pos + 1)
    if blob[pos] == 0x15:  # field 4: crc
        _, pos = _varint(blob, pos + 1)
    assert blob[pos] == 0x1C or blob[pos] == 0x2C, hex(blob[pos])  # field 5: struct
    assert blob[pos + 1] == 0x15  # its field 1: num_values
    start = pos + 2
    _, end = _varint(blob, start)
    return start, end


def test_a_page_holding_fewer_values_than_its_row_group_is_an_error_not_fewer_rows(
        run_quiver, tmp_path, duck):
    """The one page says 4,000 values where the footer says 5,000 rows. pyarrow returns 4,000
    rows without a word; DuckDB refuses the file; so must Quiver, after the rows it read."""
    path = tmp_path / "short_page.parquet"
    at = _one_page_file(path, "none", pa.array(range(5000), pa.int64()))
    blob = bytearray(path.read_bytes())
    start, end = _page_num_values_at(blob, at)
    blob[start:end] = _overlong_varint(4000 << 1, end - start)
    path.write_bytes(blob)
    with pytest.raises(Exception, match="Invalid"):
        duck.execute(f"SELECT v FROM read_parquet('{path}')").fetchall()
    for extra in ([], ["--where", "v >= 0"], ["--columns", "v", "--where", "v < 100000"]):
        line = assert_clean_error(run_quiver("scan", path, "--format", "csv", *extra), 1)
        assert "row group 0 should hold 5000 rows, but its pages held 4000" in line, line


@pytest.mark.parametrize("short", ["k", "v"])
def test_a_short_page_read_in_two_phases_is_an_error_not_fewer_rows(short, run_quiver, tmp_path):
    """Late materialization: the filter reads ``k``, then ``v`` is read for the rows kept. One
    column's page says 4,000 values where the footer says 5,000 rows. pyarrow refuses the file;
    DuckDB returns fewer rows without a word where ``k`` is short. Without the check, Quiver did
    as DuckDB (a short ``k``), or returned 500 of the 1,500 rows kept (a short ``v``)."""
    path = tmp_path / "short_page_late.parquet"
    table = pa.table({"k": pa.array(range(5000), pa.int64()),
                      "v": pa.array(range(5000), pa.int64())})
    at = _pages_file(path, table)[table.column_names.index(short)]
    blob = bytearray(path.read_bytes())
    start, end = _page_num_values_at(blob, at)
    blob[start:end] = _overlong_varint(4000 << 1, end - start)
    path.write_bytes(blob)
    with pytest.raises(pa.ArrowInvalid, match="expected length"):
        pq.read_table(path)
    proc = run_quiver("scan", path, "--format", "csv", "--columns", "v", "--where", "k >= 3500")
    line = assert_clean_error(proc, 1)
    expected = {"k": "row group 0 should hold 5000 rows, but its pages held 4000",
                "v": "row group 0: 1500 rows matched the filter, but the pages of the columns "
                     "returned held 500 of them"}[short]
    assert line.startswith("quiver: error: corrupt file: ") and expected in line, line
