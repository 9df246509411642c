"""Calendar (iCalendar, RFC 5545) attachments for hand-over appointments.

An appointment is for a day at a site, so the event is an all-day event there. The UID is
that of the first appointment in a chain of reschedules, and SEQUENCE counts the moves:
a calendar that receives the invitation for the moved appointment moves its one entry
instead of keeping the old day as well.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from mobilise.core.clock import Clock, utc


def _text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    current = b""
    for ch in line:
        b = ch.encode("utf-8")
        if len(current) + len(b) > (75 if not parts else 74):
            parts.append(current.decode("utf-8"))
            current = b""
        current += b
    parts.append(current.decode("utf-8"))
    return "\r\n ".join(parts)


def _stamp(at: datetime) -> str:
    return utc(at).strftime("%Y%m%dT%H%M%SZ")


def appointment_ics(
    *,
    uid: str,
    day: date,
    summary: str,
    location: str,
    description: str,
    organiser: str,
    attendee: str,
    clock: Clock,
    sequence: int = 0,
    cancel: bool = False,
) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Mobilise//Rollout//EN",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if cancel else 'REQUEST'}",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{_stamp(clock.now())}",
        f"DTSTART;VALUE=DATE:{day.strftime('%Y%m%d')}",
        f"DTEND;VALUE=DATE:{(day + timedelta(days=1)).strftime('%Y%m%d')}",
        f"SUMMARY:{_text(summary)}",
        f"LOCATION:{_text(location)}",
        f"DESCRIPTION:{_text(description)}",
        f"ORGANIZER:mailto:{organiser}",
        f"ATTENDEE;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:{attendee}",
        f"STATUS:{'CANCELLED' if cancel else 'CONFIRMED'}",
        f"SEQUENCE:{sequence + 1 if cancel else sequence}",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
