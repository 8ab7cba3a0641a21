"""The TensorFlow tensor-bundle reader: CRC32C, SSTable walking, protobuf records, errors.

Checkpoints here are written by a small independent writer (`write_bundle`) that follows the
LevelDB table and BundleEntryProto formats; the real musicnn checkpoints are read in
test_embeddings_fetch.py.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from genrekit.embeddings.checkpoint import (
    crc32c,
    masked_crc32c,
    read_checkpoint,
    read_checkpoint_files,
    read_index,
)
from genrekit.exceptions import DataError

_DTYPE_ENUM = {np.dtype("<f4"): 1, np.dtype("<f8"): 2, np.dtype("<i4"): 3, np.dtype("<i8"): 9}


def _bitwise_crc32c(data: bytes) -> int:
    """Textbook bit-at-a-time CRC32C, independent of the table implementation."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, wire: int, payload: bytes) -> bytes:
    return _varint(num << 3 | wire) + payload


def _entry_proto(dtype: int, shape: tuple[int, ...], offset: int, size: int, crc: int) -> bytes:
    dims = b"".join(_field(2, 2, _varint(len(d)) + d) for d in (_field(1, 0, _varint(s)) for s in shape))
    msg = _field(1, 0, _varint(dtype)) + _field(2, 2, _varint(len(dims)) + dims)
    if offset:
        msg += _field(4, 0, _varint(offset))
    msg += _field(5, 0, _varint(size)) + _field(6, 5, struct.pack("<I", crc))
    return msg


def _block(entries: list[tuple[bytes, bytes]], restart_every: int = 2) -> bytes:
    out = bytearray()
    restarts = []
    prev = b""
    for i, (key, value) in enumerate(entries):
        if i % restart_every == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = 0
            while shared < min(len(prev), len(key)) and prev[shared] == key[shared]:
                shared += 1
        out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        out += key[shared:] + value
        prev = key
    for r in restarts or [0]:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts) or 1)
    return bytes(out)


def write_bundle(
    tensors: dict[str, np.ndarray], *, block_entries: int = 3, compression: int = 0
) -> tuple[bytes, bytes]:
    """A minimal TF tensor-bundle writer: returns ``(index_bytes, data_bytes)``."""
    data = bytearray()
    records = [(b"", _field(1, 0, _varint(1)) + _field(3, 2, _varint(2) + _field(1, 0, _varint(1))))]
    for name in sorted(tensors):
        arr = np.array(tensors[name], order="C")
        raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        records.append(
            (name.encode(), _entry_proto(_DTYPE_ENUM[arr.dtype.newbyteorder("<")], arr.shape,
                                         len(data), len(raw), masked_crc32c(raw)))
        )
        data += raw
    out = bytearray()
    index_entries = []

    def put(contents: bytes) -> bytes:
        handle = _varint(len(out)) + _varint(len(contents))
        trailer = bytes([compression])
        out.extend(contents + trailer + struct.pack("<I", masked_crc32c(contents + trailer)))
        return handle

    for a in range(0, len(records), block_entries):
        chunk = records[a : a + block_entries]
        index_entries.append((chunk[-1][0] + b"\xff", put(_block(chunk))))
    meta = put(_block([]))
    index = put(_block(index_entries, restart_every=1))
    footer = (meta + index).ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57)
    return bytes(out + footer), bytes(data)


@pytest.fixture
def tensors(rng) -> dict[str, np.ndarray]:
    return {
        "conv2d/kernel": rng.standard_normal((7, 5, 1, 3)).astype(np.float32),
        "conv2d/bias": rng.standard_normal(3).astype(np.float32),
        "conv2d/kernel/Adam": np.zeros((7, 5, 1, 3), np.float32),
        "dense/kernel": rng.standard_normal((300, 20)).astype(np.float32),
        "global_step": np.array(12345, dtype=np.int64),
        "scale64": rng.standard_normal((2, 2)),
    }


def test_crc32c_known_vectors(rng):
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4 test vectors
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    for n in (1, 7, 255, 4099):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert crc32c(data) == _bitwise_crc32c(data)


def test_masked_crc32c_is_leveldb_mask():
    crc = crc32c(b"foo")
    assert masked_crc32c(b"foo") == ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def test_round_trip_all_tensors(tensors):
    index, data = write_bundle(tensors)
    out = read_checkpoint(index, [data])
    assert sorted(out) == sorted(tensors)
    for name, arr in tensors.items():
        assert out[name].dtype == arr.dtype and out[name].shape == arr.shape
        np.testing.assert_array_equal(out[name], arr)
    entries = read_index(index)
    assert entries["dense/kernel"].shape == (300, 20) and entries["dense/kernel"].dtype == 1
    assert entries["global_step"].shape == ()


def test_include_filter_and_files(tmp_path, tensors):
    index, data = write_bundle(tensors)
    (tmp_path / ".index").write_bytes(index)
    (tmp_path / ".data-00000-of-00001").write_bytes(data)
    out = read_checkpoint_files(f"{tmp_path}/", include=lambda n: not n.endswith("/Adam"))
    assert "conv2d/kernel/Adam" not in out and "conv2d/kernel" in out
    np.testing.assert_array_equal(out["dense/kernel"], tensors["dense/kernel"])


def test_corrupt_tensor_byte_names_the_tensor(tensors):
    index, data = write_bundle(tensors)
    entry = read_index(index)["dense/kernel"]
    bad = bytearray(data)
    bad[entry.offset + 100] ^= 0x01
    with pytest.raises(DataError, match=r"'dense/kernel' fails its CRC32C check"):
        read_checkpoint(index, [bytes(bad)])
    # the other tensors still read when the damaged one is not asked for
    out = read_checkpoint(index, [bytes(bad)], include=lambda n: n != "dense/kernel")
    assert "conv2d/bias" in out


def test_truncated_data_and_index(tensors):
    index, data = write_bundle(tensors)
    with pytest.raises(DataError, match="data shard 0, which has .* the file is truncated"):
        read_checkpoint(index, [data[: len(data) // 2]])
    with pytest.raises(DataError, match="truncated"):
        read_index(index[:20])
    with pytest.raises(DataError, match="not a TensorFlow checkpoint index"):
        read_index(index[:-3])


def test_corrupt_index_block_and_compression(tensors):
    index, _ = write_bundle(tensors)
    bad = bytearray(index)
    bad[10] ^= 0x40
    with pytest.raises(DataError, match="checksum mismatch in the block at byte 0"):
        read_index(bytes(bad))
    snappy, _ = write_bundle(tensors, compression=1)
    with pytest.raises(DataError, match="snappy-compressed"):
        read_index(snappy)


def test_missing_files(tmp_path):
    with pytest.raises(DataError, match="checkpoint index not found"):
        read_checkpoint_files(tmp_path / "model.ckpt")
