"""The outbox against a real SMTP server: idempotent queueing, retries, refusals, and a
sender SIGKILLed in the middle of a run that sends nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.comms import outbox, templates
from mobilise.comms.models import OutboxMessage
from mobilise.core.db import session_factory, session_scope
from mobilise.core.output import Format, render
from mobilise.core.settings import Settings
from tests.factories import ADMIN
from tests.smtp import SmtpServer

SRC = Path(__file__).resolve().parents[2] / "src"
CONTEXT = templates.sample_context("reminder", "Example Police")


def queue_many(settings: Settings, count: int, prefix: str = "test") -> None:
    with session_scope(settings) as s:
        templates.ensure_defaults(s, ADMIN)
        for i in range(count):
            outbox.queue(s, key=f"{prefix}:{i}", template="reminder",
                         recipient=f"person{i}@example.police.uk", context=CONTEXT,
                         settings=settings)


def smtp_settings(settings: Settings, server: SmtpServer, **over: object) -> Settings:
    return settings.model_copy(update={"smtp_host": server.host, "smtp_port": server.port,
                                       "smtp_retry_seconds": 0.01, **over})


def sender(settings: Settings, server: SmtpServer) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "MOBILISE_DATABASE_URL": settings.database_url,
           "MOBILISE_SMTP_HOST": server.host, "MOBILISE_SMTP_PORT": str(server.port),
           "MOBILISE_CONFIG": "/nonexistent/mobilise.toml"}
    return subprocess.Popen(
        [sys.executable, "-m", "mobilise.cli.main", "comms", "send", "--lease-seconds", "0",
         "--no-progress"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def statuses(settings: Settings) -> dict[str, str]:
    with session_scope(settings) as s:
        return {m: st for m, st in s.execute(select(OutboxMessage.message_id,
                                                    OutboxMessage.status))}


def test_a_sender_killed_mid_run_sends_nothing_twice(settings: Settings,
                                                     smtp_server: SmtpServer) -> None:
    total = 120
    queue_many(settings, total)
    smtp_server.recorder.delay = 0.02
    first = sender(settings, smtp_server)
    deadline = time.monotonic() + 60
    while smtp_server.recorder.count() < 30:
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the sender never got going"
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    at_kill = smtp_server.recorder.count()
    assert at_kill < total, "the kill came too late to be in the middle of the run"

    second = sender(settings, smtp_server)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode()

    received = Counter(m.message_id for m in smtp_server.recorder.messages)
    assert received and max(received.values()) == 1, "a message was delivered twice"
    state = statuses(settings)
    sent = {m for m, st in state.items() if st == "sent"}
    uncertain = {m for m, st in state.items() if st == "uncertain"}
    assert len(sent) + len(uncertain) == total
    assert len(uncertain) <= 1, "only the message in flight at the kill is in doubt"
    assert sent <= set(received), "a message marked sent never arrived"
    assert set(received) - sent <= uncertain
    # Running again sends nothing more: the uncertain message waits for a person.
    third = sender(settings, smtp_server)
    third.communicate(timeout=60)
    assert Counter(m.message_id for m in smtp_server.recorder.messages) == received


def test_queueing_is_idempotent_and_versioned(session: Session, settings: Settings) -> None:
    templates.ensure_defaults(session, ADMIN)
    assert templates.ensure_defaults(session, ADMIN) == 0
    first, new = outbox.queue(session, key="k1", template="reminder", recipient="a@x",
                              context=CONTEXT, settings=settings)
    again, new_again = outbox.queue(session, key="k1", template="reminder", recipient="b@x",
                                    context=CONTEXT, settings=settings)
    assert new and not new_again and again.id == first.id and again.recipient == "a@x"
    templates.add_version(session, ADMIN, "reminder", "Reminder v2 {{ appointment.day }}",
                          "Hello {{ person.first_name }}")
    second, _ = outbox.queue(session, key="k2", template="reminder", recipient="a@x",
                             context=CONTEXT, settings=settings)
    assert (first.template_version, second.template_version) == (1, 2)
    assert second.subject == "Reminder v2 Tuesday 17 January 2023"
    assert first.message_id != second.message_id
    assert first.message_id == outbox.message_id_for("k1", settings.email_domain)


def test_retries_try_later_and_fails_a_refusal(settings: Settings,
                                               smtp_server: SmtpServer) -> None:
    queue_many(settings, 2)
    smtp_server.recorder.replies = ["451 4.3.0 Try again later", "421 4.3.2 Busy", "",
                                    "550 5.1.1 Mailbox unavailable"]
    report = outbox.send_queued(session_factory(settings), smtp_settings(settings, smtp_server),
                                worker="t")
    assert report.sent == 1 and report.failed == 1
    with session_scope(settings) as s:
        rows = {m.idempotency_key: m for m in s.scalars(select(OutboxMessage))}
    assert rows["test:0"].status == "sent" and rows["test:0"].attempts == 3
    assert rows["test:1"].status == "failed" and "550" in (rows["test:1"].last_error or "")
    assert [m.message_id for m in smtp_server.recorder.messages] == [rows["test:0"].message_id]


def test_server_down_leaves_messages_queued(settings: Settings,
                                            smtp_server: SmtpServer) -> None:
    queue_many(settings, 1)
    down = smtp_settings(settings, smtp_server, smtp_port=1, smtp_max_retries=1)
    report = outbox.send_queued(session_factory(settings), down, worker="t")
    assert report.deferred == 1 and report.sent == 0
    assert set(statuses(settings).values()) == {"queued"}


def test_preview_every_default_and_export_neutralises(session: Session,
                                                      settings: Settings) -> None:
    templates.ensure_defaults(session, ADMIN)
    for t in templates.list_templates(session):
        out = templates.preview(session, t.name, "Example Police")
        assert out.subject and "Example Police" in out.body
    readiness = templates.preview(session, "readiness_report", "Example Police")
    assert "Notes: interview?.docx  ->  Notes_ interview_.docx" in readiness.body
    templates.add_version(session, ADMIN, "invitation", "=HYPERLINK(\"x\")", "Hi")
    outbox.queue(session, key="x", template="invitation", recipient="a@x", context=CONTEXT,
                 settings=settings)
    csv_text = render(outbox.outbox_rows(session, "queued", with_body=True),
                      outbox.MERGE_COLUMNS, Format.CSV)
    assert "'=HYPERLINK" in csv_text
