"""A plain, byte-at-a-time QuickXorHash written straight from the description in
Microsoft's documentation, kept deliberately naive so the vectorised one can be checked
against it."""

from __future__ import annotations


def quickxor_reference(data: bytes) -> bytes:
    state = [0] * 160  # one entry per bit of the 160-bit state
    for k, byte in enumerate(data):
        start = 11 * k % 160
        for bit in range(8):
            if byte >> bit & 1:
                state[(start + bit) % 160] ^= 1
    out = bytearray(20)
    for position, bit in enumerate(state):
        out[position // 8] |= bit << (position % 8)
    for i, value in enumerate(len(data).to_bytes(8, "little")):
        out[12 + i] ^= value
    return bytes(out)
