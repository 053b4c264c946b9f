"""Java keystores (JKS, and JCEKS without secret-key entries): entry dates and the digest.

Layout (sun.security.provider.JavaKeyStore, com.sun.crypto.provider.JceKeyStore), big-endian:

    magic u32 (0xFEEDFEED JKS, 0xCECECECE JCEKS)   version u32 (1 or 2)   count u32
    per entry: tag u32 (1 private key, 2 trusted certificate, 3 JCEKS secret key)
               alias (u16 length + modified UTF-8)   creation date u64 (ms since 1970)
               tag 1: key (u32 length + bytes), chain count u32, certificates
               tag 2: one certificate
               certificate: (version 2: type, u16 length + UTF-8) u32 length + bytes
    digest: SHA-1 over the password as UTF-16BE, b"Mighty Aphrodite", and every byte above

A secret-key entry is a Java serialised object with no length in front: such a store is not
parsed. Every length is checked against the bytes left before it is used, so a crafted count
or length fails at once instead of allocating.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import NamedTuple

JKS_MAGIC = 0xFEEDFEED
JCEKS_MAGIC = 0xCECECECE
MAGICS = {JKS_MAGIC: "JKS", JCEKS_MAGIC: "JCEKS"}
DIGEST_SIZE = 20
SALT = b"Mighty Aphrodite"
DATE = struct.Struct(">q")
MIN_ENTRY = 4 + 2 + 8 + 4  # tag, empty alias, date, one length


class NotAKeystore(ValueError):
    """Not a JKS/JCEKS keystore this module can parse (truncated, crafted, secret keys)."""


class Keystore(NamedTuple):
    kind: str  # "JKS" or "JCEKS"
    dates: tuple[tuple[int, int], ...]  # (offset, ms) of every entry's creation date
    body_end: int  # where the digest starts


def kind_of(head: bytes) -> str | None:
    """ "JKS" or "JCEKS" when `head` starts with their magic."""
    if len(head) < 4:
        return None
    return MAGICS.get(struct.unpack_from(">I", head)[0])


class _Reader:
    def __init__(self, data: bytes, end: int) -> None:
        self.data = data
        self.end = end
        self.pos = 0

    def take(self, size: int, what: str) -> int:
        """Skip `size` bytes; their offset."""
        if size < 0 or size > self.end - self.pos:
            raise NotAKeystore(f"{what} at offset {self.pos} runs past the end")
        start = self.pos
        self.pos += size
        return start

    def u16(self, what: str) -> int:
        return int.from_bytes(self.data[self.take(2, what) : self.pos], "big")

    def u32(self, what: str) -> int:
        return int.from_bytes(self.data[self.take(4, what) : self.pos], "big")

    def blob(self, what: str) -> None:
        self.take(self.u32(what + " length"), what)

    def utf(self, what: str) -> None:
        self.take(self.u16(what + " length"), what)


def parse(data: bytes) -> Keystore:
    """Where every entry's date lies; raises NotAKeystore."""
    if len(data) < 12 + DIGEST_SIZE:
        raise NotAKeystore("shorter than a header and a digest")
    kind = kind_of(data)
    if kind is None:
        raise NotAKeystore("no JKS or JCEKS magic")
    reader = _Reader(data, len(data) - DIGEST_SIZE)
    reader.take(4, "magic")
    version = reader.u32("version")
    if version not in (1, 2):
        raise NotAKeystore(f"version {version} is not 1 or 2")
    count = reader.u32("entry count")
    if count > (reader.end - reader.pos) // MIN_ENTRY:
        raise NotAKeystore(f"{count} entries cannot fit in {len(data)} bytes")
    dates: list[tuple[int, int]] = []
    for number in range(count):
        tag = reader.u32("entry tag")
        reader.utf("alias")
        offset = reader.take(DATE.size, "date")
        dates.append((offset, DATE.unpack_from(data, offset)[0]))
        if tag == 1:
            reader.blob("private key")
            chain = reader.u32("chain length")
            if chain > (reader.end - reader.pos) // 4:
                raise NotAKeystore(f"entry {number}: a chain of {chain} certificates cannot fit")
            for _ in range(chain):
                _certificate(reader, version)
        elif tag == 2:
            _certificate(reader, version)
        elif tag == 3 and kind == "JCEKS":
            raise NotAKeystore("a JCEKS secret-key entry (a serialised Java object)")
        else:
            raise NotAKeystore(f"entry {number} has unknown tag {tag}")
    if reader.pos != reader.end:
        raise NotAKeystore(f"{reader.end - reader.pos} bytes between the last entry and the digest")
    return Keystore(kind, tuple(dates), reader.end)


def _certificate(reader: _Reader, version: int) -> None:
    if version == 2:
        reader.utf("certificate type")
    reader.blob("certificate")


def digest(password: str, body: bytes) -> bytes:
    """The keyed SHA-1 that ends a store whose bytes before it are `body`."""
    sha = hashlib.sha1(password.encode("utf-16-be"))
    sha.update(SALT)
    sha.update(body)
    return sha.digest()


def verifies(data: bytes, store: Keystore, password: str) -> bool:
    return digest(password, data[: store.body_end]) == data[store.body_end :]


def redate(data: bytes, store: Keystore, new_date: Callable[[int], int], password: str) -> bytes:
    """The store with every entry date passed through `new_date` and a new digest."""
    out = bytearray(data[: store.body_end])
    for offset, ms in store.dates:
        DATE.pack_into(out, offset, new_date(ms))
    return bytes(out) + digest(password, bytes(out))
