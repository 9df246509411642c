"""Logging for every entry point (the CLI, ``mobilise serve``, workers): one level from
``Settings.log_level``, records on stderr, and secrets masked before any handler sees them.

Our own code never logs a secret, and the libraries we call keep theirs out of their logs
at every level (tests/core/test_secrets_in_logs.py runs them at DEBUG). The mask is the
second line: a log record factory, so it covers every logger and every handler, including
uvicorn's own, masks the secret values the settings hold, passwords in URLs, Bearer
credentials, our API tokens and credential-looking query or form fields.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from mobilise.core.settings import Settings

MASK = "********"
HANDLER_NAME = "mobilise"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # scheme://user:password@host
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s]+(@)"), rf"\1{MASK}\2"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\1{MASK}"),
    (re.compile(r"\bmob_[A-Za-z0-9_-]{20,}"), MASK),  # core.auth.TOKEN_PREFIX
    (re.compile(r"\$argon2(?:id|i|d)\$[A-Za-z0-9+/=$,.-]+"), MASK),  # a hash, in SQL params
    (re.compile(r"(?i)\b(password|passwd|client_secret|client_assertion|secret|tempauth|"
                r"access_token|refresh_token)=([^&\s'\",;]+)"), rf"\1={MASK}"),
]

_known: set[str] = set()
_lock = threading.Lock()
_base_factory: Callable[..., logging.LogRecord] | None = None


def secrets_of(settings: Settings) -> set[str]:
    """The secret values in ``settings``: every ``SecretStr`` and every URL's password."""
    found = set()
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            found.add(value.get_secret_value())
        elif isinstance(value, str) and "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                found.add(password)
    return {s for s in found if len(s) >= 4}  # a one-letter "secret" would mask everything


def redact(text: str) -> str:
    for secret in sorted(_known, key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _base_factory is not None
    record = _base_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string is the handler's to report
        return record
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    return record


def install_redaction(settings: Settings | None = None) -> None:
    """Mask secrets in every log record from now on (and the secrets of ``settings``)."""
    global _base_factory
    with _lock:
        if settings is not None:
            _known.update(secrets_of(settings))
        if _base_factory is None:
            _base_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_redacting_factory)


def configure_logging(settings: Settings) -> None:
    """The root logger at ``settings.log_level``, one stderr handler, secrets masked.
    Safe to call again (the level follows the latest settings)."""
    install_redaction(settings)
    root = logging.getLogger()
    root.setLevel(settings.log_level.upper())
    # SQLAlchemy keeps its loggers at WARNING unless told: at debug, show the statements
    # and their parameters (INFO), not every row fetched.
    logging.getLogger("sqlalchemy.engine").setLevel(
        logging.INFO if settings.log_level == "debug" else logging.WARNING)
    if not any(h.get_name() == HANDLER_NAME for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(HANDLER_NAME)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
