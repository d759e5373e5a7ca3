"""The envelope shared by model and state files: magic header, SHA-256 trailer, atomic writes.

A file is one serialized message whose first field is its ``magic`` string and
whose last field is ``sha256``, the digest of every byte before it. Reading
checks the magic (is this our file, and which kind?), then the digest
(truncated or corrupted?), then parses, then rejects unknown fields and newer
format versions, before the caller decodes anything.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from typing import TypeVar

from google.protobuf import unknown_fields
from google.protobuf.message import DecodeError, Message

#: The version of the file format written here (and the newest one read).
FORMAT_VERSION = 1
#: Magic string of each kind of file, and what to call it in messages.
KINDS = {"bigdl_runtime.Model": "model file", "bigdl_runtime.State": "state file"}
_DIGEST = 32
_TRAILER = bytes([15 << 3 | 2, _DIGEST])  # field 15 (sha256), length-delimited, 32 bytes

M = TypeVar("M", bound=Message)


def _header(magic: str) -> bytes:
    raw = magic.encode()
    return bytes([1 << 3 | 2, len(raw)]) + raw  # field 1 (magic), length-delimited


def seal(msg: Message) -> bytes:
    """``msg`` (``magic`` set, ``sha256`` unset) serialized with its digest appended."""
    body = msg.SerializeToString(deterministic=True)
    return body + _TRAILER + hashlib.sha256(body).digest()


def unseal(data: bytes, message_type: type[M], magic: str) -> M:
    """Check and parse ``data`` as a ``message_type`` file; ValueError saying what is wrong."""
    what = KINDS[magic]
    if not data.startswith(_header(magic)):
        for other, other_what in KINDS.items():
            if data.startswith(_header(other)):
                raise ValueError(f"this is a bigdl_runtime {other_what}, not a {what}")
        raise ValueError(f"not a bigdl_runtime {what} (it does not start with the '{magic}' header)")
    view = memoryview(data)
    if (len(data) < len(_header(magic)) + len(_TRAILER) + _DIGEST or view[-_DIGEST - 2:-_DIGEST] != _TRAILER
            or hashlib.sha256(view[:-_DIGEST - 2]).digest() != view[-_DIGEST:]):
        raise ValueError(f"the {what} is truncated or corrupted (checksum mismatch, {len(data)} bytes)")
    msg = message_type()
    try:
        msg.ParseFromString(data)
    except DecodeError as err:
        raise ValueError(f"the {what} cannot be decoded ({err})") from None
    _reject_unknown_fields(msg, message_type.__name__)
    if msg.format_version > FORMAT_VERSION:
        raise ValueError(f"the {what} has format version {msg.format_version}, newer than this runtime "
                         f"reads ({FORMAT_VERSION}); upgrade bigdl_runtime")
    if msg.format_version < 1:
        raise ValueError(f"the {what} has no valid format version ({msg.format_version})")
    return msg


def _reject_unknown_fields(msg: Message, where: str) -> None:
    unknown = unknown_fields.UnknownFieldSet(msg)
    if len(unknown):
        numbers = sorted({field.field_number for field in unknown})
        raise ValueError(f"unknown fields {numbers} in {where}: written by a newer or different format")
    for field, value in msg.ListFields():
        if field.message_type is None:
            continue
        if field.is_repeated:
            for i, item in enumerate(value):
                _reject_unknown_fields(item, f"{where}.{field.name}[{i}]")
        else:
            _reject_unknown_fields(value, f"{where}.{field.name}")


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never a part.

    Writes a temporary file in the same directory, fsyncs it, renames it over
    ``path`` (``os.replace``) and fsyncs the directory.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def read_bytes(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as f:
        return f.read()
