"""Messages between the grader and the sandboxed worker: one JSON document (the values
encoded by checks/boundary.py) and its numeric arrays in the ``.npy`` format, each header
checked against its bytes before anything is decoded. Runs on both sides (the sandbox gets a
copy); like boundary.py it never unpickles anything.
"""
from __future__ import annotations

import io
import json
import math
import struct

import numpy as np

from checks.boundary import BoundaryError, Decoder, Encoder

MAX_MESSAGE_BYTES = 256 << 20      # one message, JSON and arrays together
MAX_JSON_BYTES = 64 << 20
MAX_ARRAYS = 100_000
HEADER_LIMIT = 1 << 17            # the most an .npy header may take

HEADER = struct.Struct("<QI")      # total length of what follows, length of the JSON part
ARRAY = struct.Struct("<Q")


def dumps(document: dict) -> bytes:
    """A message: a dict whose values are encoded with :class:`Encoder`."""
    encoder = Encoder()
    body = {key: encoder.encode(value) for key, value in document.items()}
    text = json.dumps(body, allow_nan=False).encode()
    parts = [text]
    for a in encoder.arrays:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, a, allow_pickle=False)
        data = buffer.getvalue()
        parts += [ARRAY.pack(len(data)), data]
    payload = b"".join(parts)
    return HEADER.pack(len(payload), len(text)) + payload


def loads(payload: bytes, json_length: int) -> dict:
    if json_length > min(len(payload), MAX_JSON_BYTES):
        raise BoundaryError("a malformed message")
    try:
        body = json.loads(payload[:json_length].decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise BoundaryError("a message that is not JSON") from None
    if type(body) is not dict:
        raise BoundaryError("a malformed message")
    arrays, at, view = [], json_length, memoryview(payload)
    while at < len(payload):
        if len(arrays) >= MAX_ARRAYS or at + ARRAY.size > len(payload):
            raise BoundaryError("a malformed message")
        (size,), at = ARRAY.unpack_from(payload, at), at + ARRAY.size
        if at + size > len(payload):
            raise BoundaryError("a malformed message")
        arrays.append(read_array(view[at:at + size]))
        at += size
    decoder = Decoder(arrays)
    return {str(key): decoder.decode(value) for key, value in body.items()}


def read_array(data) -> np.ndarray:
    """One ``.npy`` array, a read-only view of ``data``, whose header is checked first: a plain
    dtype with items of some size, exactly as many bytes as its shape says (so 10^15 items of
    nothing are refused, not built)."""
    stream = io.BytesIO(bytes(data[:HEADER_LIMIT]))
    try:
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}[np.lib.format.read_magic(stream)]
        shape, fortran, dtype = read_header(stream)
    except Exception:  # noqa: BLE001 - whatever the header is, it is not one we read
        raise BoundaryError("an array whose header cannot be read") from None
    if dtype.hasobject:
        raise BoundaryError("an array that cannot be read without unpickling")
    count = math.prod(shape)
    if dtype.itemsize == 0 or count * dtype.itemsize != len(data) - stream.tell():
        raise BoundaryError(f"an array whose header ({count} items of {dtype.itemsize} bytes) does not match its "
                            f"{len(data) - stream.tell()} bytes")
    values = np.frombuffer(data, dtype=dtype, count=count, offset=stream.tell())
    return values.reshape(shape[::-1]).T if fortran else values.reshape(shape)


def read_message(stream) -> dict | None:
    """The next message from a binary stream, or None at its end."""
    head = _read_exactly(stream, HEADER.size)
    if head is None:
        return None
    total, json_length = HEADER.unpack(head)
    if total > MAX_MESSAGE_BYTES:
        raise BoundaryError(f"a message of {total} bytes (more than {MAX_MESSAGE_BYTES >> 20} MiB)")
    payload = _read_exactly(stream, total)
    if payload is None:
        raise BoundaryError("a message cut short")
    return loads(payload, json_length)


def _read_exactly(stream, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            if left == size:
                return None
            raise BoundaryError("a message cut short")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
