"""The emulator's own QuickXorHash, written from Microsoft's published description
("QuickXorHash", OneDrive API docs, code snippets: quickxorhash), independent of
``mobilise.storage``'s, so that a fault in one is caught by the other.

The state is 160 bits. The byte at absolute offset ``k`` is XORed into it rotated left by
``11·k mod 160`` bits. The digest is the state as 20 bytes, little-endian, with the total
length (8 bytes, little-endian) XORed into its last 8 bytes.

A byte's rotation depends only on ``k mod 160``, so the input is first folded: every
160-byte row, taken at offsets that are multiples of 160, is XORed into one 160-byte
accumulator (a Python int, fast at this width). The rotations are applied once per
position when the digest is asked for.
"""

from __future__ import annotations

import base64

WIDTH_BITS = 160
ROW = 160                       # bytes whose positions (mod 160) are all distinct
SHIFT = 11
MASK = (1 << WIDTH_BITS) - 1


class QuickXorHash:
    def __init__(self, data: bytes = b"") -> None:
        self._folded = 0        # XOR of every whole row, little-endian
        self._tail = b""        # bytes after the last whole row
        self._length = 0
        if data:
            self.update(data)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        chunk = self._tail + bytes(data)
        self._length += len(data)
        whole = len(chunk) - len(chunk) % ROW
        folded = self._folded
        for start in range(0, whole, ROW):
            folded ^= int.from_bytes(chunk[start:start + ROW], "little")
        self._folded, self._tail = folded, chunk[whole:]

    def digest(self) -> bytes:
        folded = self._folded ^ int.from_bytes(self._tail, "little")
        state = 0
        for position in range(ROW):
            byte = (folded >> (8 * position)) & 0xFF
            if byte:
                shift = SHIFT * position % WIDTH_BITS
                state ^= ((byte << shift) | (byte >> (WIDTH_BITS - shift))) & MASK
        out = bytearray(state.to_bytes(20, "little"))
        for i, value in enumerate(self._length.to_bytes(8, "little")):
            out[12 + i] ^= value
        return bytes(out)

    def b64digest(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")
