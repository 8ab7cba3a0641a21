"""Read TensorFlow 1 checkpoints (the "tensor bundle" format) without TensorFlow.

A checkpoint ``PREFIX`` is two files:

- ``PREFIX.index``: an SSTable (LevelDB's table format) mapping each tensor name to a small
  ``BundleEntryProto`` protobuf record: dtype, shape, shard, byte offset, byte size and the
  masked CRC32C of the tensor's bytes. The empty key holds the ``BundleHeaderProto``.
- ``PREFIX.data-00000-of-0000N``: the raw little-endian tensor bytes, shard by shard.

Everything here is pure Python and numpy: a hand-written protobuf varint reader, the SSTable
block walker, and a numpy-vectorised CRC32C (Castagnoli) that checks every block and every
tensor. musicnn ships its checkpoints with an empty prefix, so the files are the dot-files
``.index`` and ``.data-00000-of-00001``.

Examples
--------
>>> tensors = read_checkpoint(index_bytes, [data_bytes])          # doctest: +SKIP
>>> tensors["dense/kernel"].shape                                  # doctest: +SKIP
(1506, 200)
"""

from __future__ import annotations

import functools
import glob
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrekit.exceptions import DataError

__all__ = [
    "BundleEntry",
    "crc32c",
    "masked_crc32c",
    "read_index",
    "read_checkpoint",
    "read_checkpoint_files",
]

# LevelDB table magic number, stored little-endian in the last 8 bytes of the file.
_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER_SIZE = 5  # 1 byte compression type + 4 bytes masked crc32c
_NO_COMPRESSION = 0
_COMPRESSION_NAMES = {1: "snappy", 2: "zlib", 3: "lz4"}
_MASK_DELTA = 0xA282EAD8

# TensorFlow DataType enum -> numpy little-endian dtype (the ones a checkpoint may hold).
_DTYPES: dict[int, str] = {
    1: "<f4",  # DT_FLOAT
    2: "<f8",  # DT_DOUBLE
    3: "<i4",  # DT_INT32
    4: "|u1",  # DT_UINT8
    5: "<i2",  # DT_INT16
    6: "|i1",  # DT_INT8
    9: "<i8",  # DT_INT64
    10: "|b1",  # DT_BOOL
    17: "<u2",  # DT_UINT16
    19: "<f2",  # DT_HALF
    22: "<u4",  # DT_UINT32
    23: "<u8",  # DT_UINT64
}


@dataclass(frozen=True)
class BundleEntry:
    """One tensor's record in a checkpoint's ``.index`` (a ``BundleEntryProto``).

    Attributes
    ----------
    name : str
        The variable name, e.g. ``"batch_normalization/gamma"``.
    dtype : int
        TensorFlow ``DataType`` enum value (1 = float32).
    shape : tuple of int
        The tensor's shape.
    shard_id, offset, size : int
        Which data shard, and where in it the bytes are.
    crc32c : int
        Masked CRC32C of the tensor's bytes.
    """

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int


# --------------------------------------------------------------------------- CRC32C

def _crc_table() -> np.ndarray:
    poly = 0x82F63B78  # Castagnoli, reflected
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(poly), table >> 1).astype(np.uint32)
    return table


_TABLE = _crc_table()


def _one_zero_byte() -> np.ndarray:
    basis = np.array([1 << k for k in range(32)], dtype=np.uint32)
    return (_TABLE[basis & np.uint32(0xFF)] ^ (basis >> np.uint32(8))).astype(np.uint32)


_BITS = np.arange(32, dtype=np.uint32)


@functools.lru_cache(maxsize=256)
def _zeros_operator(n_bytes: int) -> np.ndarray:
    """The linear map "feed ``n_bytes`` zero bytes" on the raw CRC register.

    Returned as its 32 columns (the image of each register bit), so that applying it is an XOR
    of the columns of the set bits. Built by repeated squaring of the one-byte map.
    """
    result = np.array([1 << k for k in range(32)], dtype=np.uint32)  # identity
    power = _one_zero_byte()
    while n_bytes:
        if n_bytes & 1:
            result = _apply(power, result)
        n_bytes >>= 1
        if n_bytes:
            power = _apply(power, power)
    result.setflags(write=False)
    return result


def _apply(op: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Apply a 32x32 GF(2) operator (as columns) to an array of 32-bit registers."""
    values = np.asarray(values, dtype=np.uint32)
    bits = ((values[..., None] >> _BITS) & np.uint32(1)).astype(bool)
    return np.bitwise_xor.reduce(np.where(bits, op, np.uint32(0)), axis=-1).astype(np.uint32)


def _raw_crc(data: np.ndarray) -> int:
    """CRC register (initial value 0, no final XOR) after feeding ``data`` (uint8)."""
    n = data.size
    if n == 0:
        return 0
    # Lanes of ``length`` bytes are run in lockstep, then combined. Leading zero bytes do not
    # change a register that starts at 0, so the data is zero-padded at the front.
    lanes = max(1, int(np.sqrt(n / 4)))
    length = -(-n // lanes)
    padded = np.zeros(lanes * length, dtype=np.uint8)
    padded[lanes * length - n :] = data
    block = padded.reshape(lanes, length)
    reg = np.zeros(lanes, dtype=np.uint32)
    for j in range(length):
        reg = _TABLE[(reg ^ block[:, j]) & np.uint32(0xFF)] ^ (reg >> np.uint32(8))
    # Combine neighbouring lanes pairwise: crc(A || B) = shift(crc(A), len(B)) ^ crc(B).
    span = length
    while reg.size > 1:
        if reg.size % 2:
            reg = np.concatenate([np.zeros(1, dtype=np.uint32), reg])  # a zero lane in front
        op = _zeros_operator(span)
        reg = _apply(op, reg[0::2]) ^ reg[1::2]
        span *= 2
    return int(reg[0])


def crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """CRC32C (Castagnoli, as in iSCSI and TensorFlow) of a byte string.

    Parameters
    ----------
    data : bytes-like or np.ndarray [dtype=uint8]

    Returns
    -------
    int
        The 32-bit checksum (``crc32c(b"123456789") == 0xE3069283``).
    """
    arr = np.frombuffer(bytes(data), dtype=np.uint8) if not isinstance(data, np.ndarray) else (
        np.ascontiguousarray(data).view(np.uint8).ravel()
    )
    raw = _raw_crc(arr)
    # The standard CRC starts the register at 0xFFFFFFFF: by linearity that adds the
    # all-ones register shifted through the whole message; then the final XOR.
    init = int(_apply(_zeros_operator(arr.size), np.array([0xFFFFFFFF], dtype=np.uint32))[0])
    return (raw ^ init ^ 0xFFFFFFFF) & 0xFFFFFFFF


def masked_crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """TensorFlow/LevelDB's masked CRC32C: rotate right by 15 bits and add a constant."""
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


# --------------------------------------------------------------------------- protobuf

def _varint(buf: bytes, pos: int, what: str) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise DataError(f"{what}: truncated varint at byte {pos}")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DataError(f"{what}: malformed varint at byte {pos}")


def _fields(buf: bytes, what: str) -> list[tuple[int, int | bytes]]:
    """Decode one protobuf message into ``(field_number, value)`` pairs (wire types 0/1/2/5)."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos, what)
        field, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos, what)
        elif wire == 1:
            if pos + 8 > len(buf):
                raise DataError(f"{what}: truncated fixed64 field {field}")
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            n, pos = _varint(buf, pos, what)
            if pos + n > len(buf):
                raise DataError(f"{what}: truncated length-delimited field {field}")
            value = bytes(buf[pos : pos + n])
            pos += n
        elif wire == 5:
            if pos + 4 > len(buf):
                raise DataError(f"{what}: truncated fixed32 field {field}")
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise DataError(f"{what}: unsupported protobuf wire type {wire} (field {field})")
        out.append((field, value))
    return out


def _parse_entry(name: str, value: bytes) -> BundleEntry:
    what = f"checkpoint entry {name!r}"
    dtype = shard_id = offset = size = crc = 0
    shape: list[int] = []
    for field, v in _fields(value, what):
        if field == 1:
            dtype = int(v)  # type: ignore[arg-type]
        elif field == 2:  # TensorShapeProto
            for sf, sv in _fields(v, what):  # type: ignore[arg-type]
                if sf == 2:  # Dim
                    dim = dict(_fields(sv, what))  # type: ignore[arg-type]
                    shape.append(int(dim.get(1, 0)))  # type: ignore[arg-type]
                elif sf == 3 and sv:
                    raise DataError(f"{what}: tensor of unknown rank")
        elif field == 3:
            shard_id = int(v)  # type: ignore[arg-type]
        elif field == 4:
            offset = int(v)  # type: ignore[arg-type]
        elif field == 5:
            size = int(v)  # type: ignore[arg-type]
        elif field == 6:
            crc = int(v)  # type: ignore[arg-type]
        elif field == 7:
            raise DataError(f"{what}: partitioned (sliced) variables are not supported")
    return BundleEntry(name, dtype, tuple(shape), shard_id, offset, size, crc)


# --------------------------------------------------------------------------- SSTable

def _read_block(buf: bytes, offset: int, size: int, what: str) -> bytes:
    end = offset + size + _BLOCK_TRAILER_SIZE
    if offset < 0 or end > len(buf):
        raise DataError(
            f"{what}: block at byte {offset} (+{size}) runs past the end of the file "
            f"({len(buf)} bytes): the file is truncated"
        )
    contents = buf[offset : offset + size]
    kind = buf[offset + size]
    stored = struct.unpack_from("<I", buf, offset + size + 1)[0]
    if masked_crc32c(buf[offset : offset + size + 1]) != stored:
        raise DataError(f"{what}: checksum mismatch in the block at byte {offset}: file corrupt")
    if kind != _NO_COMPRESSION:
        name = _COMPRESSION_NAMES.get(kind, f"type {kind}")
        raise DataError(
            f"{what}: block at byte {offset} is {name}-compressed; only uncompressed tables "
            "(what TensorFlow's checkpoint writer produces) are supported"
        )
    return contents


def _block_entries(block: bytes, what: str) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise DataError(f"{what}: block too short ({len(block)} bytes)")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * n_restarts
    if limit < 0:
        raise DataError(f"{what}: block restart array larger than the block")
    entries: list[tuple[bytes, bytes]] = []
    pos = 0
    key = b""
    while pos < limit:
        shared, pos = _varint(block, pos, what)
        unshared, pos = _varint(block, pos, what)
        vlen, pos = _varint(block, pos, what)
        if shared > len(key) or pos + unshared + vlen > limit:
            raise DataError(f"{what}: malformed block entry at byte {pos}")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        entries.append((key, block[pos : pos + vlen]))
        pos += vlen
    return entries


def read_index(index: bytes, *, source: str = ".index") -> dict[str, BundleEntry]:
    """Parse a tensor bundle's ``.index`` file.

    Parameters
    ----------
    index : bytes
        The whole ``.index`` file.
    source : str
        Name used in error messages.

    Returns
    -------
    dict
        Tensor name -> :class:`BundleEntry`, in the file's (sorted) order.

    Raises
    ------
    DataError
        Truncated or corrupt file, compressed blocks, unsupported records.
    """
    buf = bytes(index)
    if len(buf) < _FOOTER_SIZE:
        raise DataError(
            f"{source}: {len(buf)} bytes is shorter than an SSTable footer ({_FOOTER_SIZE}): "
            "the file is truncated"
        )
    footer = buf[-_FOOTER_SIZE:]
    magic = struct.unpack_from("<Q", footer, _FOOTER_SIZE - 8)[0]
    if magic != _TABLE_MAGIC:
        raise DataError(
            f"{source}: not a TensorFlow checkpoint index (SSTable magic {magic:#018x}, "
            f"expected {_TABLE_MAGIC:#018x}); the file is truncated or of another kind"
        )
    _, pos = _varint(footer, 0, source)  # metaindex offset
    _, pos = _varint(footer, pos, source)  # metaindex size
    index_offset, pos = _varint(footer, pos, source)
    index_size, pos = _varint(footer, pos, source)
    index_block = _read_block(buf, index_offset, index_size, source)

    entries: dict[str, BundleEntry] = {}
    for _, handle in _block_entries(index_block, source):
        offset, p = _varint(handle, 0, source)
        size, _ = _varint(handle, p, source)
        for key, value in _block_entries(_read_block(buf, offset, size, source), source):
            if not key:  # the BundleHeaderProto
                header = dict(_fields(value, source))
                if header.get(2, 0) != 0:  # 0 = little-endian
                    raise DataError(f"{source}: big-endian checkpoints are not supported")
                continue
            name = key.decode("utf-8")
            entries[name] = _parse_entry(name, value)
    return entries


def read_checkpoint(
    index: bytes,
    shards: Sequence[bytes] | Callable[[int], bytes],
    *,
    include: Callable[[str], bool] | None = None,
    source: str = "checkpoint",
) -> dict[str, np.ndarray]:
    """Read the tensors of a TensorFlow tensor-bundle checkpoint, verifying every checksum.

    Parameters
    ----------
    index : bytes
        The ``.index`` file.
    shards : sequence of bytes, or callable
        The ``.data-XXXXX-of-NNNNN`` files in shard order, or a function shard id -> bytes.
    include : callable, optional
        Keep only tensors whose name passes; default: every tensor.
    source : str
        Name used in error messages.

    Returns
    -------
    dict
        Tensor name -> ``np.ndarray`` (native byte order, a copy owned by the caller).

    Raises
    ------
    DataError
        A truncated or corrupt file, or a tensor whose bytes fail their CRC32C (the message
        names the tensor).
    """
    entries = read_index(index, source=f"{source}.index")
    get = shards if callable(shards) else (lambda i: shards[i])  # type: ignore[index]
    cache: dict[int, bytes] = {}
    out: dict[str, np.ndarray] = {}
    for name, e in entries.items():
        if include is not None and not include(name):
            continue
        if e.dtype not in _DTYPES:
            raise DataError(f"{source}: tensor {name!r} has unsupported dtype enum {e.dtype}")
        if e.shard_id not in cache:
            try:
                cache[e.shard_id] = bytes(get(e.shard_id))
            except (IndexError, KeyError) as exc:
                raise DataError(f"{source}: tensor {name!r} is in missing shard {e.shard_id}") from exc
        data = cache[e.shard_id]
        if e.offset + e.size > len(data):
            raise DataError(
                f"{source}: tensor {name!r} needs bytes {e.offset}..{e.offset + e.size} of data "
                f"shard {e.shard_id}, which has {len(data)}: the file is truncated"
            )
        raw = np.frombuffer(data, dtype=np.uint8, count=e.size, offset=e.offset)
        if masked_crc32c(raw) != e.crc32c:
            raise DataError(
                f"{source}: tensor {name!r} fails its CRC32C check (bytes {e.offset}.."
                f"{e.offset + e.size} of data shard {e.shard_id}): the checkpoint is corrupt"
            )
        dtype = np.dtype(_DTYPES[e.dtype])
        count = int(np.prod(e.shape, dtype=np.int64))
        if count * dtype.itemsize != e.size:
            raise DataError(
                f"{source}: tensor {name!r} has shape {e.shape} of {dtype} ({count * dtype.itemsize}"
                f" bytes) but {e.size} bytes stored"
            )
        out[name] = raw.view(dtype).reshape(e.shape).astype(dtype.newbyteorder("="), copy=True)
    return out


def read_checkpoint_files(prefix: str | Path, **kwargs) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """Read a checkpoint from disk given its prefix (``dir/model.ckpt``, or ``dir/`` for
    musicnn's dot-files ``dir/.index`` + ``dir/.data-00000-of-00001``).

    Other keyword arguments go to :func:`read_checkpoint`.
    """
    prefix = str(prefix)
    index_path = Path(prefix + ".index")
    if not index_path.is_file():
        raise DataError(f"{index_path}: checkpoint index not found")
    index = index_path.read_bytes()
    found = sorted(glob.glob(glob.escape(prefix) + ".data-*-of-*"))
    n_shards = int(found[0].rsplit("-of-", 1)[1]) if found else 1

    def shard(i: int) -> bytes:
        path = Path(f"{prefix}.data-{i:05d}-of-{n_shards:05d}")
        if not path.is_file():
            raise DataError(f"{path}: checkpoint data shard not found")
        return path.read_bytes()

    kwargs.setdefault("source", prefix)
    return read_checkpoint(index, shard, **kwargs)
