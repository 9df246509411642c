"""A real SMTP server (aiosmtpd) on a loopback port, recording what it receives.
The ``smtp_server`` fixture in tests/conftest.py starts one per test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    message_id: str
    to: list[str]
    subject: str
    raw: bytes


@dataclass
class Recorder:
    """The handler: answers DATA with the next scripted reply ("" accepts), else accepts
    (after
    ``delay`` seconds, to give a killer time to strike mid-run)."""

    messages: list[Received] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            reply = self.replies.pop(0) if self.replies else ""
        if reply:
            return reply
        if self.delay:
            time.sleep(self.delay)
        raw = envelope.content if isinstance(envelope.content, bytes) else \
            envelope.content.encode("utf-8")
        parsed = message_from_bytes(raw)
        with self.lock:
            # Long headers arrive folded: unfold the Message-ID before comparing it.
            message_id = "".join(str(parsed["Message-ID"]).split())
            self.messages.append(Received(message_id, list(envelope.rcpt_tos),
                                          str(parsed["Subject"]), raw))
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: Recorder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_smtp_server() -> Iterator[SmtpServer]:
    recorder = Recorder()
    port = _free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, recorder)
    finally:
        controller.stop()
