"""Reading a file's sample: the first bytes of text files, the footer of Parquet/ORC.

Glue reads the first 1 MB of each CSV/JSON file and only the metadata of Parquet
and ORC files; so does this module. Compressed files are recognised by magic bytes (not
by name) and only the prefix is decompressed, so a truncated stream is normal
here — except when the *whole* file was read and its stream still ends early:
that file is truncated and is skipped.

Anything that does not decode as UTF-8 (with or without BOM) is reported, not
guessed at.
"""

from __future__ import annotations

import bz2
import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import zstandard

from shoal.storage.base import ObjectInfo, Storage

SAMPLE_BYTES = 1 << 20  # Glue's 1 MB per CSV/JSON file
PARQUET_MAGIC = b"PAR1"
ORC_MAGIC = b"ORC"
_PARQUET_SUFFIXES = (".parquet", ".parq", ".pqt")
_ORC_SUFFIX = ".orc"
_UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
_BOM_STARTS = frozenset(bom[:1] for bom in _OTHER_BOMS)


class FileSkipped(Exception):
    """A file the crawler cannot use; ``reason`` goes into the crawl log."""

    def __init__(self, reason: str, bytes_read: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.bytes_read = bytes_read


@dataclass(slots=True)
class Sample:
    """What was read of one file.

    ``text`` is the decoded (decompressed) prefix for text formats; ``complete``
    says it is the whole file. ``consumed`` is how many stored bytes produced
    ``text`` — the basis of record-count estimates. Parquet and ORC files carry
    their ``schema`` and exact ``num_rows`` instead (``container`` says which).

    Treat it as read-only. It is not frozen only because a crawl builds one per file
    and a frozen dataclass takes a microsecond longer to build.
    """

    bytes_read: int
    compression: str = "none"
    text: str | None = None
    complete: bool = True
    consumed: int = 0
    schema: pa.Schema | None = None
    num_rows: int = 0
    container: str = "parquet"  # the binary format ``schema`` came from: parquet | orc


def read_sample(storage: Storage, obj: ObjectInfo, limit: int = SAMPLE_BYTES) -> Sample:
    """Read and decode the sample of ``obj``; raises FileSkipped with a reason."""
    prefix = storage.read(obj.bucket, obj.key, 0, prefix_length(obj, limit))
    return sample_of(storage, obj, prefix, limit)


def prefix_length(obj: ObjectInfo, limit: int = SAMPLE_BYTES) -> int:
    """How many bytes from the start of ``obj`` its sample begins with.

    The magic number of a file named like Parquet (its footer is read after), else
    the text sample: the whole file up to ``limit``.
    """
    if _named_parquet(obj.key):
        return min(4, obj.size)
    if obj.key.lower().endswith(_ORC_SUFFIX):
        return min(3, obj.size)
    return min(obj.size, limit)


def sample_of(
    storage: Storage, obj: ObjectInfo, prefix: bytes, limit: int = SAMPLE_BYTES
) -> Sample:
    """Decode the sample of ``obj`` from its first ``prefix_length`` bytes, ``prefix``.

    Only Parquet files need more reads (their footer). Raises FileSkipped.
    """
    if _named_parquet(obj.key):
        if prefix == PARQUET_MAGIC:
            return _read_parquet(storage, obj, len(prefix))
        raise FileSkipped("named like Parquet but does not start with PAR1", len(prefix))
    if prefix[:4] == PARQUET_MAGIC:
        return _read_parquet(storage, obj, len(prefix))
    if prefix[:3] == ORC_MAGIC:
        return _read_orc(storage, obj, len(prefix))
    if obj.key.lower().endswith(_ORC_SUFFIX):
        raise FileSkipped("named like ORC but does not start with ORC", len(prefix))
    whole = len(prefix) >= obj.size
    codec = _codec_of(prefix)
    if codec == "none":  # the common case, without the decompression bookkeeping
        return Sample(len(prefix), codec, _decode(prefix, whole, len(prefix)), whole, len(prefix))
    data, consumed, ended = _DECOMPRESSORS[codec](prefix, limit)
    if whole and not ended and len(data) < limit:
        raise FileSkipped(f"truncated {codec} stream", len(prefix))
    complete = whole and ended and len(data) < limit
    text = _decode(data, complete, len(prefix))
    return Sample(len(prefix), codec, text, complete, consumed)


def _named_parquet(key: str) -> bool:
    return key.lower().endswith(_PARQUET_SUFFIXES)


# --- compression ----------------------------------------------------------------------

_MAGICS = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\x28\xb5\x2f\xfd", "zstd"))
_MAGIC_STARTS = frozenset(magic[:1] for magic, _ in _MAGICS)


def _codec_of(prefix: bytes) -> str:
    if prefix[:1] in _MAGIC_STARTS:  # one set lookup for the many plain files
        for magic, codec in _MAGICS:
            if prefix.startswith(magic):
                return codec
    return "none"


# Each returns (output, stored bytes consumed to produce it, whether the stream ended).
_Decompressor = Callable[[bytes, int], tuple[bytes, int, bool]]


def _gunzip(data: bytes, limit: int) -> tuple[bytes, int, bool]:
    out = bytearray()
    rest = data
    ended = False
    # Loop because gzip files may hold several members back to back.
    while rest and len(out) < limit:
        d = zlib.decompressobj(wbits=31)
        try:
            out += d.decompress(rest, limit - len(out))
        except zlib.error as exc:
            raise FileSkipped(f"corrupt gzip stream: {exc}", len(data)) from exc
        ended = d.eof
        if not d.eof:
            rest = d.unconsumed_tail
            break
        rest = d.unused_data
    return bytes(out), len(data) - len(rest), ended


def _bunzip(data: bytes, limit: int) -> tuple[bytes, int, bool]:
    d = bz2.BZ2Decompressor()
    try:
        out = d.decompress(data, limit)
    except OSError as exc:
        raise FileSkipped(f"corrupt bzip2 stream: {exc}", len(data)) from exc
    consumed = len(data) - len(d.unused_data) if d.eof else len(data)
    return out, consumed, d.eof


def _unzstd(data: bytes, limit: int) -> tuple[bytes, int, bool]:
    # stream_reader caps the output (a small zstd input can expand enormously).
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data))
        out = reader.read(limit)
    except zstandard.ZstdError as exc:
        raise FileSkipped(f"corrupt zstd stream: {exc}", len(data)) from exc
    if len(out) >= limit:
        return out, len(data), False
    # The whole input produced less than ``limit``: safe to check the frame ended.
    d = zstandard.ZstdDecompressor().decompressobj()
    try:
        d.decompress(data)
    except zstandard.ZstdError as exc:
        raise FileSkipped(f"corrupt zstd stream: {exc}", len(data)) from exc
    return out, len(data), bool(d.eof)


_DECOMPRESSORS: dict[str, _Decompressor] = {
    "gzip": _gunzip,
    "bzip2": _bunzip,
    "zstd": _unzstd,
}


# --- text -----------------------------------------------------------------------------


def _decode(data: bytes, complete: bool, bytes_read: int) -> str:
    """UTF-8 text of the sample; a character cut by the sample's end is dropped."""
    if data[:1] in _BOM_STARTS:  # one slice and set lookup for the many files without
        for bom, name in _OTHER_BOMS.items():
            if data.startswith(bom):
                raise FileSkipped(f"unsupported encoding {name} (only UTF-8 is read)", bytes_read)
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        cut_at_end = not complete and exc.start >= len(data) - 3 and exc.end == len(data)
        if not cut_at_end:
            raise FileSkipped(f"not valid UTF-8 (byte {exc.start})", bytes_read) from exc
        text = data[: exc.start].decode("utf-8")
    if "\x00" in text:
        raise FileSkipped("binary data (NUL bytes), not text", bytes_read)
    return text


# --- Parquet --------------------------------------------------------------------------


def _read_parquet(storage: Storage, obj: ObjectInfo, already_read: int) -> Sample:
    """Read only the footer: last 8 bytes give its length, then the footer itself."""
    size = obj.size
    if size < 12:
        raise FileSkipped("Parquet file too short to hold a footer", already_read)
    # Two exact reads (length, then footer): bytes_read stays what metadata costs.
    tail = storage.read(obj.bucket, obj.key, size - 8, size)
    read = already_read + len(tail)
    if tail[-4:] != PARQUET_MAGIC:
        raise FileSkipped("corrupt Parquet: no PAR1 at the end (truncated?)", read)
    footer_len = struct.unpack("<I", tail[:4])[0]
    if footer_len + 12 > size:
        raise FileSkipped("corrupt Parquet: footer length exceeds the file", read)
    footer = storage.read(obj.bucket, obj.key, size - 8 - footer_len, size - 8) + tail
    read += footer_len
    try:
        # A stand-in file of magic + footer: pyarrow only needs the footer for metadata.
        meta = pq.read_metadata(pa.BufferReader(PARQUET_MAGIC + footer))
        schema = meta.schema.to_arrow_schema()
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise FileSkipped(f"corrupt Parquet footer: {exc}", read) from exc
    return Sample(read, schema=schema, num_rows=meta.num_rows, consumed=size)


# --- ORC ------------------------------------------------------------------------------


class _RangedFile(io.RawIOBase):
    """An object read by ranged reads as pyarrow asks for them, counting the bytes:
    reading an ORC file's schema touches only its tail (postscript and footer)."""

    def __init__(self, storage: Storage, obj: ObjectInfo) -> None:
        self._storage, self._obj, self._pos = storage, obj, 0
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._obj.size}[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        end = self._obj.size if size < 0 else min(self._obj.size, self._pos + size)
        if end <= self._pos:
            return b""
        data = self._storage.read(self._obj.bucket, self._obj.key, self._pos, end)
        self._pos += len(data)
        self.bytes_read += len(data)
        return data


def _read_orc(storage: Storage, obj: ObjectInfo, already_read: int) -> Sample:
    """Read only what pyarrow needs for the schema and row count: the file's tail."""
    ranged = _RangedFile(storage, obj)
    try:
        reader = orc.ORCFile(pa.PythonFile(ranged, mode="r"))
        schema, rows = reader.schema, reader.nrows
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise FileSkipped(f"corrupt ORC file: {exc}", already_read + ranged.bytes_read) from exc
    read = already_read + ranged.bytes_read
    return Sample(read, schema=schema, num_rows=rows, consumed=obj.size, container="orc")
