"""The row count a Parquet file's footer states, decoded in Python from the file's last bytes.

A merge checks the listed row count of every table of every node (53,000 files at 1,000 nodes). DuckDB reads
a footer in ~50 us, most of it opening the file again; the merge has just read every byte of the file to
hash it, so the count comes from those bytes for ~3 us. Only the count is decoded (``FileMetaData`` field 3,
after the schema, which is skipped); anything this cannot decode is None and the caller asks DuckDB, which
also names what is wrong with the file. The rest of the footer (row groups, columns) is not validated here:
the files whose sha256 the manifest states are the node's own bytes, and the partials a merge uses are read
by DuckDB in the report merges, where a file it cannot read fails its report.
"""

from __future__ import annotations

MAGIC = b"PAR1"

# Thrift compact protocol types (the Parquet footer's encoding)
_BOOL_TRUE, _BOOL_FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)
_NUM_ROWS = 3  # FileMetaData: 1 version, 2 schema, 3 num_rows, 4 row_groups, ...


def row_count(tail: bytes) -> int | None:
    """``num_rows`` of the Parquet file ``tail`` ends (its last bytes: footer, footer length, ``PAR1``), or
    None when ``tail`` does not hold a footer this can decode."""
    if len(tail) < 12 or tail[-4:] != MAGIC:
        return None
    length = int.from_bytes(tail[-8:-4], "little")
    if not 0 < length <= len(tail) - 8:
        return None
    try:
        return _num_rows(bytes(tail[len(tail) - 8 - length : len(tail) - 8]))
    except (IndexError, ValueError, RecursionError):
        return None


# The footer's version and schema (fields 1 and 2) come before num_rows, and are the same bytes in every file
# of one table layout (every node's partial of a report): decoded once, then recognised by their bytes (the
# same bytes decode the same way), which takes decoding a footer from ~13 to ~3 us. Keyed by the footer's
# first bytes; at most _MAX_KNOWN_BYTES of them kept (the ~55 tables of a node result: ~7 KB).
_SCHEMA = 2
_KEY_BYTES = 64
_MAX_KNOWN_BYTES = 4 << 20
_known: dict[bytes, list[bytes]] = {}
_known_bytes = 0


def _num_rows(b: bytes) -> int | None:
    key = b[:_KEY_BYTES]
    i, field = 0, 0
    for prefix in _known.get(key, ()):
        if b.startswith(prefix):
            i, field = len(prefix), _SCHEMA
            break
    while True:
        header = b[i]
        i += 1
        if header == 0:  # STOP: no num_rows
            return None
        kind = header & 0x0F
        if header >> 4:
            field += header >> 4
        else:
            zigzag, i = _varint(b, i)
            field = _unzigzag(zigzag)
        if field == _NUM_ROWS and kind == _I64:
            return _unzigzag(_varint(b, i)[0])
        if field >= _NUM_ROWS:
            return None
        i = _skip(b, i, kind)
        if field == _SCHEMA:
            _remember(key, b[:i])


def _remember(key: bytes, prefix: bytes) -> None:
    global _known_bytes
    if _known_bytes + len(prefix) <= _MAX_KNOWN_BYTES:
        _known_bytes += len(prefix)
        _known.setdefault(key, []).append(prefix)


def _unzigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _varint(b: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = b[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _skip(b: bytes, i: int, kind: int) -> int:
    """The offset after a value of ``kind`` starting at ``i``. Every element of a container takes at least
    one byte, so a forged element count runs out of bytes (IndexError) within the footer's length."""
    if kind in (_BOOL_TRUE, _BOOL_FALSE):  # a struct field's boolean is its type
        return i
    if kind == _BYTE:
        return i + 1
    if kind in (_I16, _I32, _I64):
        return _varint(b, i)[1]
    if kind == _DOUBLE:
        return i + 8
    if kind == _BINARY:
        n, i = _varint(b, i)
        return i + n
    if kind in (_LIST, _SET):
        header = b[i]
        i += 1
        n, element = header >> 4, header & 0x0F
        if n == 15:
            n, i = _varint(b, i)
        for _ in range(n):
            i = _skip_element(b, i, element)
        return i
    if kind == _MAP:
        n, i = _varint(b, i)
        if n == 0:
            return i
        types = b[i]
        i += 1
        for _ in range(n):
            i = _skip_element(b, _skip_element(b, i, types >> 4), types & 0x0F)
        return i
    if kind == _STRUCT:
        while True:
            header = b[i]
            i += 1
            if header == 0:
                return i
            if not header >> 4:
                i = _varint(b, i)[1]
            i = _skip(b, i, header & 0x0F)
    raise ValueError(f"thrift compact type {kind}")


def _skip_element(b: bytes, i: int, kind: int) -> int:
    """:func:`_skip` for an element of a list, set or map, where a boolean takes a byte."""
    if kind in (_BOOL_TRUE, _BOOL_FALSE):
        if i >= len(b):
            raise IndexError(i)
        return i + 1
    return _skip(b, i, kind)
