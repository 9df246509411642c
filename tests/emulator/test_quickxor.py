"""The emulator's own QuickXorHash: rclone's published test vectors, any chunking, and
agreement with ``mobilise.storage``'s (the two are written independently)."""

from __future__ import annotations

import ast
import base64
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mobilise.emulator
from mobilise.emulator.quickxor import QuickXorHash
from mobilise.storage.quickxor import QuickXorHash as StorageQuickXorHash

# (input, digest), both base64: from rclone's backend/onedrive/quickxorhash test table.
RCLONE_VECTORS = [
    ("", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    ("Sg==", "SgAAAAAAAAAAAAAAAQAAAAAAAAA="),
    ("tbQ=", "taAFAAAAAAAAAAAAAgAAAAAAAAA="),
    ("0pZP", "0rDEEwAAAAAAAAAAAwAAAAAAAAA="),
    ("jRRDVA==", "jaDAEKgAAAAAAAAABAAAAAAAAAA="),
    ("/aNzzCFPS/A=", "/RjFHJgRgicsAR4ACAAAAAAAAAA="),
    ("2fuxhBJXtpWFe8dOfdGeHw==", "O9tHLAghgSvYohKFyMMxnNCHaHg="),
    ("T6LYJIfDh81JrAK309H2JMJTXis=", "zBTHrspn3mEcohlJdIUAbjGNaNg="),
    ("NbYXsp5/K6mR+NmHwExjvWeWDJFnXTKWVlzYHoesp2E=", "wjuAuWDiq04qDt1R8hHWDDcwVoQ="),
    ("Mb7EGva2rEE5fENDL85P+BsapHEEjv2/siVhKjvAQe02feExVOQSkfmuYzU/kTF1MaKjPmKF/w+c"
     "bvwfdWL8aQ==", "n1anP5NfvD4XDYWIeRPW3ZkPv1Y="),
    ("ikwCorI7PKWz17EI50jZCGbV9JU2E8bXVfxNMg5zdmqSZ2NlsQPp0kqYIPjzwTg1MBtfWPg53k0h"
     "0P2naJNEVgrqpoHTfV2b3pJ4m0zYPTJmUX4Bg/lOxcnCxAYKU29Y5F0U8Quz7ZXFBEweftXxJ7RS"
     "4r6N7BzJrPsLhY7hgck=", "imAoFvCWlDn4yVw3/oq1PDbbm6U="),
    ("PfxMcUd0vIW6VbHG/uj/Y0W6qEoKmyBD0nYebEKazKaKG+UaDqBEcmQjbfQeVnVLuodMoPp7P7TR"
     "1htX5n2VnkHh22xDyoJ8C/ZQKiSNqQfXvh83judf4RVr9exJCud8Uvgip6aVZTaPrJHVjQhMCp/d"
     "EnGvqg0oN5OVkM2qqAXvA0teKUDhgNM71sDBVBCGXxNOR2bpbD1iM4dnuT0ey4L+loXEHTL0fqMe"
     "UcEi2asgImnlNakwenDzz0x57aBwyq3AspCFGB1ncX4yYCr/OaCcS5OKi/00WH+wNQU3",
     "QX/YEpG0gDsmhEpCdWhsxDzsfVE="),
]


@pytest.mark.parametrize(("given_b64", "expected"), RCLONE_VECTORS)
def test_rclone_vectors(given_b64: str, expected: str) -> None:
    data = base64.b64decode(given_b64)
    assert QuickXorHash(data).b64digest() == expected
    for block in (1, 7, 64, 159, 160, 161):
        digest = QuickXorHash()
        for start in range(0, len(data), block):
            digest.update(data[start:start + block])
        assert digest.b64digest() == expected


def test_microsofts_own_example() -> None:
    assert QuickXorHash(b"hello world").b64digest() == "aCgDG9jwBhDc4Q1yawMZAAAAAAA="


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 2000), max_size=6))
def test_agrees_with_the_storage_implementation(data: bytes, cuts: list[int]) -> None:
    ours = QuickXorHash()
    last = 0
    for cut in sorted(c for c in cuts if c <= len(data)):
        ours.update(data[last:cut])
        last = cut
    ours.update(data[last:])
    assert ours.b64digest() == StorageQuickXorHash(data).b64digest()


def test_agrees_on_megabytes() -> None:
    data = os.urandom(3 * 1024 * 1024 + 77)
    assert QuickXorHash(data).digest() == StorageQuickXorHash(data).digest()


def test_the_emulator_does_not_import_mobilise_storage() -> None:
    for module in Path(mobilise.emulator.__file__).parent.glob("*.py"):
        tree = ast.parse(module.read_text())
        names = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not any(n.startswith("mobilise.storage") for n in names), module.name
