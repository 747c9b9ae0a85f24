"""A small, pure-Python reader of Arrow IPC streams: just enough to sum a column.

pyarrow cannot run inside a componentize-py component, and the engine returns each batch as a
complete Arrow IPC stream (schema message, one record batch, end marker), as arrow-rs writes it:
metadata version 5, little-endian, buffers 64-byte aligned and uncompressed.  This module reads
such streams:

* the framing: ``0xFFFFFFFF``, a 32-bit metadata length, the flatbuffer ``Message``, its body;
* the ``Schema`` message: each field's name, nullability and type;
* ``RecordBatch`` messages: the row count, field nodes and buffers;
* the values of flat numeric columns (signed and unsigned integers, float32/float64 and
  decimal128/256), with their validity bitmaps.

Columns of other flat types (strings, binary, booleans, dates…) are skipped over, so they may
stand beside the columns read; nested types, dictionaries and compressed bodies are refused
with :class:`IpcError`.  The format is described at
https://arrow.apache.org/docs/format/Columnar.html; the flatbuffer schemas are Arrow's
``Message.fbs`` and ``Schema.fbs``, whose field numbers appear below.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterator, List, Optional, Union

#: A column value: an int, a float or a Decimal; None where the row is null.
Value = Union[int, float, Decimal, None]

# Message.header union (Message.fbs): the two message kinds this reader handles.
_HEADER_SCHEMA = 1
_HEADER_DICTIONARY_BATCH = 2
_HEADER_RECORD_BATCH = 3

# Type union (Schema.fbs).
_TYPE_INT = 2
_TYPE_FLOATING_POINT = 3
_TYPE_DECIMAL = 7
#: Flat types with a validity and one data buffer (Null has none and is listed apart).
_TWO_BUFFER_TYPES = {2: "int", 3: "float", 6: "bool", 7: "decimal", 8: "date", 9: "time",
                     10: "timestamp", 11: "interval", 15: "fixed-size-binary", 18: "duration"}
#: Flat types with a validity, an offsets and a data buffer.
_THREE_BUFFER_TYPES = {4: "binary", 5: "utf8", 19: "large-binary", 20: "large-utf8"}
_TYPE_NULL = 1


class IpcError(ValueError):
    """The bytes are not an Arrow IPC stream this reader can decode."""


class _Table:
    """A flatbuffer table: reads its fields by their number in the schema (0-based)."""

    def __init__(self, buf: memoryview, pos: int):
        self.buf = buf
        self.pos = pos
        vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self._vtable = vtable
        self._vtable_len = struct.unpack_from("<H", buf, vtable)[0]

    def _offset(self, field: int) -> int:
        """Position of the field's slot in the table, or 0 when the field is absent."""
        slot = 4 + 2 * field
        if slot >= self._vtable_len:
            return 0
        rel = struct.unpack_from("<H", self.buf, self._vtable + slot)[0]
        return self.pos + rel if rel else 0

    def scalar(self, field: int, fmt: str, default):
        """A scalar field (``fmt`` is a struct format such as ``"<q"``), or ``default``."""
        at = self._offset(field)
        return struct.unpack_from(fmt, self.buf, at)[0] if at else default

    def _target(self, field: int) -> Optional[int]:
        """Where the offset stored in a field points to, or None when the field is absent."""
        at = self._offset(field)
        return at + struct.unpack_from("<I", self.buf, at)[0] if at else None

    def table(self, field: int) -> Optional["_Table"]:
        """A table (or union value) field."""
        target = self._target(field)
        return _Table(self.buf, target) if target is not None else None

    def string(self, field: int) -> str:
        """A string field ("" when absent)."""
        target = self._target(field)
        if target is None:
            return ""
        length = struct.unpack_from("<I", self.buf, target)[0]
        return bytes(self.buf[target + 4:target + 4 + length]).decode("utf-8")

    def tables(self, field: int) -> List["_Table"]:
        """A vector of tables ([] when absent)."""
        target = self._target(field)
        if target is None:
            return []
        count = struct.unpack_from("<I", self.buf, target)[0]
        out = []
        for i in range(count):
            at = target + 4 + 4 * i
            out.append(_Table(self.buf, at + struct.unpack_from("<I", self.buf, at)[0]))
        return out

    def structs(self, field: int, fmt: str) -> List[tuple]:
        """A vector of structs, each unpacked with ``fmt`` ([] when absent)."""
        target = self._target(field)
        if target is None:
            return []
        count = struct.unpack_from("<I", self.buf, target)[0]
        size = struct.calcsize(fmt)
        return [struct.unpack_from(fmt, self.buf, target + 4 + size * i) for i in range(count)]


@dataclass
class Field:
    """One top-level field of the schema."""

    name: str
    nullable: bool
    #: The Type union's tag (Schema.fbs), e.g. 2 for Int.
    type_id: int
    #: The type's parameters: for ints ``bits``/``signed``, floats ``precision``, decimals
    #: ``bits``/``scale``.
    params: dict

    @property
    def readable(self) -> bool:
        """Whether :func:`read_stream` decodes this field's values."""
        return self.type_id in (_TYPE_INT, _TYPE_FLOATING_POINT, _TYPE_DECIMAL)


@dataclass
class Batch:
    """One record batch: its row count and the values of the readable columns, by name."""

    num_rows: int
    columns: dict


def _field(table: _Table) -> Field:
    if table.table(4) is not None:
        raise IpcError("dictionary-encoded fields are not supported")
    if table.tables(5):
        raise IpcError("nested fields are not supported")
    type_id = table.scalar(2, "<B", 0)
    type_table = table.table(3)
    params: dict = {}
    if type_id == _TYPE_INT:
        params = {"bits": type_table.scalar(0, "<i", 0), "signed": bool(type_table.scalar(1, "<B", 0))}
    elif type_id == _TYPE_FLOATING_POINT:
        params = {"precision": type_table.scalar(0, "<h", 0)}  # 0 half, 1 single, 2 double
    elif type_id == _TYPE_DECIMAL:
        params = {"scale": type_table.scalar(1, "<i", 0), "bits": type_table.scalar(2, "<i", 128)}
    return Field(table.string(0), bool(table.scalar(1, "<B", 0)), type_id, params)


def _messages(data: bytes) -> Iterator[tuple]:
    """Yields ``(header_type, header table, body)`` for each message up to the end marker."""
    buf = memoryview(data)
    pos = 0
    while pos + 4 <= len(buf):
        (length,) = struct.unpack_from("<i", buf, pos)
        pos += 4
        if length == -1:  # the continuation marker; the length follows
            if pos + 4 > len(buf):
                raise IpcError("truncated message length")
            (length,) = struct.unpack_from("<i", buf, pos)
            pos += 4
        if length == 0:  # end of stream
            return
        if length < 0 or pos + length > len(buf):
            raise IpcError("truncated message metadata")
        meta = buf[pos:pos + length]
        pos += length
        message = _Table(meta, struct.unpack_from("<I", meta, 0)[0])
        header_type = message.scalar(1, "<B", 0)
        body_length = message.scalar(3, "<q", 0)
        if pos + body_length > len(buf):
            raise IpcError("truncated message body")
        yield header_type, message.table(2), buf[pos:pos + body_length]
        pos += body_length
    raise IpcError("stream ends without its end marker")


def _values(field: Field, length: int, null_count: int, validity: memoryview,
            data: memoryview) -> List[Value]:
    """The values of one readable column, None where the validity bitmap says null."""
    if field.type_id == _TYPE_DECIMAL:
        width = field.params["bits"] // 8
        exponent = -field.params["scale"]
        # Built from a string: exact, whatever the precision of the decimal context.
        values: list = [
            Decimal(f"{int.from_bytes(data[i * width:(i + 1) * width], 'little', signed=True)}"
                    f"E{exponent}")
            for i in range(length)
        ]
    else:
        if field.type_id == _TYPE_INT:
            code = {8: "b", 16: "h", 32: "i", 64: "q"}.get(field.params["bits"])
            if code and not field.params["signed"]:
                code = code.upper()
        else:
            code = {1: "f", 2: "d"}.get(field.params["precision"])
        if code is None:
            raise IpcError(f"column {field.name!r}: unsupported numeric type {field.params}")
        values = list(struct.unpack_from(f"<{length}{code}", data, 0))
    if null_count and len(validity):
        for i in range(length):
            if not (validity[i >> 3] >> (i & 7)) & 1:
                values[i] = None
    return values


def read_stream(data: bytes) -> tuple[List[Field], List[Batch]]:
    """Reads one Arrow IPC stream: its schema's fields and its record batches."""
    fields: Optional[List[Field]] = None
    batches: List[Batch] = []
    for header_type, header, body in _messages(data):
        if header_type == _HEADER_SCHEMA:
            fields = [_field(t) for t in header.tables(1)]
        elif header_type == _HEADER_RECORD_BATCH:
            if fields is None:
                raise IpcError("a record batch comes before the schema")
            batches.append(_record_batch(fields, header, body))
        elif header_type == _HEADER_DICTIONARY_BATCH:
            raise IpcError("dictionary batches are not supported")
        else:
            raise IpcError(f"unexpected message type {header_type}")
    if fields is None:
        raise IpcError("the stream holds no schema")
    return fields, batches


def _record_batch(fields: List[Field], header: _Table, body: memoryview) -> Batch:
    if header.table(3) is not None:
        raise IpcError("compressed record batches are not supported")
    num_rows = header.scalar(0, "<q", 0)
    nodes = header.structs(1, "<qq")  # FieldNode: length, null_count
    buffers = header.structs(2, "<qq")  # Buffer: offset, length (into the body)
    if len(nodes) != len(fields):
        raise IpcError(f"{len(nodes)} field nodes for {len(fields)} fields")
    columns = {}
    next_buffer = 0
    for field, (length, null_count) in zip(fields, nodes):
        if field.type_id in _TWO_BUFFER_TYPES:
            count = 2
        elif field.type_id in _THREE_BUFFER_TYPES:
            count = 3
        elif field.type_id == _TYPE_NULL:
            count = 0
        else:
            raise IpcError(f"column {field.name!r}: unsupported type id {field.type_id}")
        own = [body[off:off + size] for off, size in buffers[next_buffer:next_buffer + count]]
        if len(own) != count:
            raise IpcError("fewer buffers than the fields need")
        next_buffer += count
        if field.readable:
            columns[field.name] = _values(field, length, null_count, own[0], own[1])
    return Batch(num_rows, columns)
