"""QuickXorHash for the emulator and the onedrive backend until the storage package's
vectorised ``mobilise.storage.quickxor.QuickXorHash`` lands on main (swap at merge).

Pure Python, but not byte by byte: a byte's bit position depends only on its offset mod
160, so aligned 10,240-byte blocks (64 rows of 160) are XORed together as big integers and
folded to 160 lanes only when the digest is asked for.
"""

from __future__ import annotations

import base64

_WIDTH_BITS = 160
_ROW = 20 * 8  # 160 bytes: one full turn of the 11-bit rotation
_BLOCK = _ROW * 64
_MASK = (1 << _WIDTH_BITS) - 1


class QuickXorHash:
    """hashlib-style: ``update`` any number of times, then ``digest``/``b64digest``."""

    name = "quickxor"
    digest_size = 20

    def __init__(self, data: bytes | bytearray | memoryview = b"") -> None:
        self._acc = 0  # XOR of all full blocks, little-endian: byte i is lane i mod 160
        self._pending = bytearray()  # bytes after the last full block
        self._length = 0
        if data:
            self.update(data)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        self._length += len(view)
        if self._pending:
            take = min(_BLOCK - len(self._pending), len(view))
            self._pending += view[:take]
            view = view[take:]
            if len(self._pending) < _BLOCK:
                return
            self._acc ^= int.from_bytes(self._pending, "little")
            self._pending.clear()
        full = len(view) - len(view) % _BLOCK
        acc = self._acc
        for start in range(0, full, _BLOCK):
            acc ^= int.from_bytes(view[start : start + _BLOCK], "little")
        self._acc = acc
        self._pending += view[full:]

    def digest(self) -> bytes:
        acc = self._acc ^ int.from_bytes(self._pending, "little")
        lanes = bytearray(_ROW)
        block = acc.to_bytes(_BLOCK, "little")
        folded = 0
        for row in range(0, _BLOCK, _ROW):
            folded ^= int.from_bytes(block[row : row + _ROW], "little")
        lanes[:] = folded.to_bytes(_ROW, "little")
        state = 0
        for offset, value in enumerate(lanes):
            if value:
                shift = (offset * 11) % _WIDTH_BITS
                rotated = (value << shift) | (value >> (_WIDTH_BITS - shift))
                state ^= rotated & _MASK
        out = bytearray(state.to_bytes(20, "little"))
        for i, b in enumerate(self._length.to_bytes(8, "little")):
            out[12 + i] ^= b
        return bytes(out)

    def hexdigest(self) -> str:
        return self.digest().hex()

    def b64digest(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


def quickxor_b64(data: bytes) -> str:
    return QuickXorHash(data).b64digest()
