"""A plain, byte-at-a-time QuickXorHash written straight from the description in
Microsoft's documentation (no folding, no NumPy), so the vectorised one can be checked
against it."""

from __future__ import annotations

WIDTH = 160  # bits of state
MASK = (1 << WIDTH) - 1


def quickxor_reference(data: bytes) -> bytes:
    state = 0
    for k, byte in enumerate(data):
        shift = 11 * k % WIDTH
        rotated = (byte << shift | byte >> (WIDTH - shift)) & MASK
        state ^= rotated
    out = bytearray(state.to_bytes(20, "little"))
    for i, value in enumerate(len(data).to_bytes(8, "little")):
        out[12 + i] ^= value
    return bytes(out)


def quickxor_b64(data: bytes) -> str:
    """Graph's base64 form of the reference digest."""
    import base64

    return base64.b64encode(quickxor_reference(data)).decode("ascii")
