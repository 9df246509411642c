"""The outbox: queue a message once, send it at most once.

Queueing: every message has an idempotency key (``invitation:<appointment id>``...) with a
unique constraint, so queueing twice is a no-op and its SMTP Message-ID is derived from
the key.

Sending is **at most once**. For each message the sender, in three separate commits:

1. claims it (``UPDATE ... SET status='sending' WHERE id=? AND status='queued'``: only one
   sender can win a message);
2. hands it to the SMTP server;
3. marks it ``sent``.

A crash between 1 and 3 leaves the message in ``sending``; nobody can tell from the
database whether the server accepted it. Those messages are never resent automatically:
once their claim is older than the lease they become ``uncertain`` and are listed for an
operator, who may look the Message-ID up on the mail server and requeue them deliberately
(``mobilise comms requeue --uncertain``; at-least-once for exactly those). A duplicate
invitation is a nuisance, but an automatic resend loop that mails 30,000 officers twice
after a crash is worse, and the deliberate resend keeps the same Message-ID so mail
systems that de-duplicate on it still can.

Retries: a server that answers 4xx ("try later"), or that cannot be connected to, has
definitely not taken the message, so it is retried with back-off; a 5xx refusal fails the
message; a connection lost mid-transfer is ambiguous and makes it ``uncertain``.
"""

from __future__ import annotations

import hashlib
import smtplib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from sqlalchemy import CursorResult, Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mobilise.comms.models import MessageStatus, OutboxMessage
from mobilise.comms.templates import current, render
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.errors import Conflict, ExternalServiceError
from mobilise.core.progress import NullProgress, Progress
from mobilise.core.settings import Settings

S = MessageStatus


def message_id_for(key: str, domain: str) -> str:
    return f"<mobilise.{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}@{domain}>"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: str


def queue(
    session: Session,
    *,
    key: str,
    template: str,
    recipient: str,
    context: dict[str, Any],
    settings: Settings,
    person_id: int | None = None,
    attachment: Attachment | None = None,
    clock: Clock | None = None,
) -> tuple[OutboxMessage, bool]:
    """Render the current version of ``template`` and queue it under ``key``; returns the
    message and whether it was new (an existing key is returned unchanged)."""
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    if existing is not None:
        return existing, False
    rendered = render(current(session, template),
                      {"organisation": settings.organisation, **context})
    msg = OutboxMessage(
        idempotency_key=key, template=rendered.template, template_version=rendered.version,
        person_id=person_id, recipient=recipient, subject=rendered.subject,
        body=rendered.body, attachment_name=attachment.filename if attachment else None,
        attachment=attachment.content if attachment else None,
        message_id=message_id_for(key, settings.email_domain), status=S.QUEUED.value,
        attempts=0, created_at=(clock or SystemClock()).now(),
    )
    try:
        with session.begin_nested():
            session.add(msg)
    except IntegrityError:
        # Another process queued the same key between our look and our insert.
        found = session.scalar(select(OutboxMessage)
                               .where(OutboxMessage.idempotency_key == key))
        assert found is not None
        return found, False
    return msg, True


def existing_keys(session: Session, prefix: str) -> set[str]:
    return set(session.scalars(select(OutboxMessage.idempotency_key)
                               .where(OutboxMessage.idempotency_key.startswith(prefix))))


def as_email(msg: OutboxMessage, sender: str, clock: Clock) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = msg.recipient
    email["Subject"] = msg.subject
    email["Message-ID"] = msg.message_id
    email["Date"] = format_datetime(clock.now())
    email["X-Mobilise-Key"] = msg.idempotency_key
    email.set_content(msg.body)
    if msg.attachment and msg.attachment_name:
        email.add_attachment(msg.attachment.encode("utf-8"), maintype="text",
                             subtype="calendar", filename=msg.attachment_name,
                             params={"method": "REQUEST", "charset": "utf-8"})
    return email


class Uncertain(Exception):
    """The server may or may not have taken the message."""


class Refused(Exception):
    """The server refused the message for good."""


class SmtpDelivery:
    """One SMTP connection, reopened when lost, with retries for 'try later'."""

    def __init__(self, settings: Settings, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.sleep = sleep
        self.conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        conn = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        if s.smtp_starttls:
            conn.starttls()
        if s.smtp_username and s.smtp_password:
            conn.login(s.smtp_username, s.smtp_password.get_secret_value())
        return conn

    def close(self) -> None:
        if self.conn is not None:
            with suppress(smtplib.SMTPException, OSError):
                self.conn.quit()
            self.conn = None

    def deliver(self, email: EmailMessage) -> int:
        """Send; returns the number of attempts. Raises Refused or Uncertain, or
        ExternalServiceError when every retry met 'try later' or no connection."""
        delay = self.settings.smtp_retry_seconds
        last = ""
        for attempt in range(1, self.settings.smtp_max_retries + 2):
            try:
                if self.conn is None:
                    self.conn = self._connect()
            except (OSError, smtplib.SMTPException) as err:
                # Not connected: the message cannot have been taken.
                last = f"cannot connect to {self.settings.smtp_host}:" \
                       f"{self.settings.smtp_port}: {err}"
                self.conn = None
            else:
                try:
                    self.conn.send_message(email)
                    return attempt
                except smtplib.SMTPRecipientsRefused as err:
                    raise Refused(f"recipient refused: {err.recipients}") from None
                except smtplib.SMTPResponseException as err:
                    if 500 <= err.smtp_code < 600:
                        raise Refused(f"{err.smtp_code} {err.smtp_error!r}") from None
                    last = f"{err.smtp_code} {err.smtp_error!r}"
                    # A 421 closes the connection; start the retry on a fresh one anyway.
                    self.close()
                except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as err:
                    self.conn = None
                    raise Uncertain(f"connection lost while sending: {err}") from None
            if attempt <= self.settings.smtp_max_retries:
                self.sleep(delay)
                delay *= 2
        raise ExternalServiceError(f"SMTP gave up after {self.settings.smtp_max_retries} "
                                   f"retries: {last}")


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    uncertain: int = 0
    stale: int = 0
    deferred: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@contextmanager
def _unit(factory: sessionmaker[Session]) -> Iterator[Session]:
    s = factory()
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
    finally:
        s.close()


def mark_stale(factory: sessionmaker[Session], lease: timedelta, clock: Clock) -> int:
    """Claims older than the lease belong to a sender that died: make them uncertain."""
    with _unit(factory) as s:
        result = s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == S.SENDING.value,
                   OutboxMessage.claimed_at <= clock.now() - lease)
            .values(status=S.UNCERTAIN.value,
                    last_error="the sender stopped between claiming and recording the send")
        )
        assert isinstance(result, CursorResult)
        return int(result.rowcount)


def _claim(factory: sessionmaker[Session], msg_id: int, worker: str, clock: Clock) -> bool:
    with _unit(factory) as s:
        result = s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == msg_id, OutboxMessage.status == S.QUEUED.value)
            .values(status=S.SENDING.value, claimed_by=worker, claimed_at=clock.now(),
                    attempts=OutboxMessage.attempts + 1)
        )
        assert isinstance(result, CursorResult)
        return bool(result.rowcount == 1)


def _finish(factory: sessionmaker[Session], msg_id: int, status: str, clock: Clock,
            error: str | None = None, attempts: int = 0) -> None:
    with _unit(factory) as s:
        values: dict[str, Any] = {"status": status, "last_error": error}
        if status == S.SENT.value:
            values["sent_at"] = clock.now()
        if attempts > 1:
            values["attempts"] = OutboxMessage.attempts + attempts - 1
        s.execute(update(OutboxMessage).where(OutboxMessage.id == msg_id).values(**values))


def send_queued(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    worker: str,
    clock: Clock | None = None,
    limit: int | None = None,
    lease: timedelta = timedelta(minutes=10),
    progress: Progress | None = None,
    delivery: SmtpDelivery | None = None,
) -> SendReport:
    """Send queued messages, oldest first, each claimed, sent and marked in turn."""
    clock = clock or SystemClock()
    progress = progress or NullProgress()
    report = SendReport(stale=mark_stale(factory, lease, clock))
    with _unit(factory) as s:
        stmt = select(OutboxMessage.id).where(OutboxMessage.status == S.QUEUED.value) \
            .order_by(OutboxMessage.id)
        ids = list(s.scalars(stmt.limit(limit) if limit else stmt))
    delivery = delivery or SmtpDelivery(settings)
    progress.start(len(ids), "sending")
    try:
        for msg_id in ids:
            if not _claim(factory, msg_id, worker, clock):
                continue  # another sender has it
            with _unit(factory) as s:
                msg = s.get(OutboxMessage, msg_id)
                assert msg is not None
                email = as_email(msg, settings.smtp_sender, clock)
            try:
                attempts = delivery.deliver(email)
            except Refused as err:
                _finish(factory, msg_id, S.FAILED.value, clock, str(err))
                report.failed += 1
            except Uncertain as err:
                _finish(factory, msg_id, S.UNCERTAIN.value, clock, str(err))
                report.uncertain += 1
            except ExternalServiceError as err:
                # Definitely not sent: back in the queue for the next run.
                _finish(factory, msg_id, S.QUEUED.value, clock, err.message)
                report.deferred += 1
                break
            else:
                _finish(factory, msg_id, S.SENT.value, clock, attempts=attempts)
                report.sent += 1
            progress.advance(1, sent=report.sent)
    finally:
        delivery.close()
        progress.finish()
    return report


def requeue(session: Session, status: str, ids: Sequence[int] = ()) -> int:
    """Put failed or uncertain messages back in the queue: an operator's decision."""
    if status not in (S.FAILED.value, S.UNCERTAIN.value):
        raise ValueError(status)
    stmt = update(OutboxMessage).where(OutboxMessage.status == status)
    if ids:
        stmt = stmt.where(OutboxMessage.id.in_(list(ids)))
    result = session.execute(stmt.values(status=S.QUEUED.value, claimed_by=None,
                                         claimed_at=None))
    assert isinstance(result, CursorResult)
    wanted = len(set(ids))
    if ids and result.rowcount < wanted:
        # Named messages, not all still in that state: requeued by someone else meanwhile
        # (or never in it). All or none, so that a message is sent again once.
        raise Conflict(f"{wanted - result.rowcount} of {wanted} message(s) are not {status} "
                       "(requeued by someone else?): nothing requeued")
    return int(result.rowcount)


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMessage.status, func.count())
                           .group_by(OutboxMessage.status))
    out = {s.value: 0 for s in S}
    out.update({status: n for status, n in rows})
    return out


OUTBOX_COLUMNS = ["id", "idempotency_key", "template", "template_version", "recipient",
                  "subject", "status", "attempts", "sent_at", "message_id", "last_error"]
MERGE_COLUMNS = ["recipient", "subject", "body", "template", "template_version",
                 "idempotency_key", "message_id"]


def _outbox(status: str | None, template: str | None) -> Select[OutboxMessage]:
    stmt = select(OutboxMessage)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    if template:
        stmt = stmt.where(OutboxMessage.template == template)
    return stmt


def count_outbox(session: Session, status: str | None = None,
                 template: str | None = None) -> int:
    found = _outbox(status, template).subquery()
    return session.scalar(select(func.count()).select_from(found)) or 0


def outbox_rows(session: Session, status: str | None = None, template: str | None = None,
                limit: int = 1000, with_body: bool = False,
                offset: int = 0) -> list[dict[str, Any]]:
    stmt = _outbox(status, template).order_by(OutboxMessage.id).limit(limit).offset(offset)
    cols = set(OUTBOX_COLUMNS) | ({"body"} if with_body else set())
    return [{c: getattr(m, c) for c in cols} for m in session.scalars(stmt)]
