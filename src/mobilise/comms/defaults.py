"""The first version of every template, with a sample context for previews.

Rollout: invitation, reminder, no-show, hand-over confirmation. Migration: wave
announcement, personal readiness report, cutover notice, completion with the rename map.
Templates are plain text (Jinja2); a later version is added with ``mobilise comms
templates add``. A default changed here becomes the next version (note "default") where
the latest version in use is still the previous default (``templates.ensure_defaults``);
a version someone added is never replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DefaultTemplate:
    name: str
    subject: str
    body: str
    sample: dict[str, Any]


PERSON = {"first_name": "Sam", "last_name": "Okafor", "number": "204117",
          "email": "sam.okafor@example.police.uk"}
APPOINTMENT = {"id": 101, "day": "Tuesday 17 January 2023", "site_name": "Central East "
               "Police Station 1", "site_code": "CE-01", "accessible": True,
               "adjustments": "Step-free issuing site required"}
SIGN_OFF = "\n\nThe Mobilise programme team\n{{ organisation }}\n"

DEFAULTS: tuple[DefaultTemplate, ...] = (
    DefaultTemplate(
        "invitation",
        "Your new work smartphone: {{ appointment.day }} at {{ appointment.site_name }}",
        "Dear {{ person.first_name }},\n\n"
        "Your new Samsung A32 work smartphone is ready to be handed over to you.\n\n"
        "When:  {{ appointment.day }}\n"
        "Where: {{ appointment.site_name }} ({{ appointment.site_code }})\n\n"
        "Please bring your warrant card or staff pass and your old BlackBerry, if you "
        "have one. The hand-over takes about 20 minutes.\n"
        "{% if appointment.adjustments %}\nWe have noted your reasonable adjustment: "
        "{{ appointment.adjustments }}.\n{% endif %}"
        "\nThe calendar invitation is attached. If you cannot come, tell your line manager "
        "or reply to this message and we will offer you another day." + SIGN_OFF,
        {"person": PERSON, "appointment": APPOINTMENT},
    ),
    DefaultTemplate(
        "reminder",
        "Reminder: smartphone hand-over on {{ appointment.day }}",
        "Dear {{ person.first_name }},\n\n"
        "A reminder that your new work smartphone will be handed over on "
        "{{ appointment.day }} at {{ appointment.site_name }}.\n"
        "Please bring your warrant card or staff pass." + SIGN_OFF,
        {"person": PERSON, "appointment": APPOINTMENT},
    ),
    DefaultTemplate(
        "no_show",
        "We missed you: your smartphone hand-over",
        "Dear {{ person.first_name }},\n\n"
        "You were booked to collect your new work smartphone on {{ appointment.day }} at "
        "{{ appointment.site_name }}, but we did not see you. We will book you a new "
        "appointment and write to you with the details." + SIGN_OFF,
        {"person": PERSON, "appointment": APPOINTMENT},
    ),
    DefaultTemplate(
        "handover",
        "Your work smartphone: hand-over confirmed",
        "Dear {{ person.first_name }},\n\n"
        "This confirms that on {{ appointment.day }} at {{ appointment.site_name }} you "
        "received your work smartphone"
        "{% if handset %} ({{ handset.model }}, IMEI {{ handset.imei }}"
        "{% if handset.number %}, phone number {{ handset.number }}{% endif %}){% endif %}."
        "\n\n"
        "It is managed by the force: use it for calls to victims and witnesses instead of "
        "a personal phone. Report loss or theft to the service desk at once." + SIGN_OFF,
        {"person": PERSON, "appointment": APPOINTMENT,
         "handset": {"model": "Samsung Galaxy A32", "imei": "356938035643809",
                     "number": "07700900123"}},
    ),
    DefaultTemplate(
        "wave_announcement",
        "Your H: drive moves to OneDrive from {{ wave.starts_on }}",
        "Dear {{ person.first_name }},\n\n"
        "Your personal files on the H: drive will move to OneDrive as part of wave "
        "{{ wave.name }}, starting on {{ wave.starts_on }}. The final switch-over "
        "(cutover) is planned for {{ wave.cutover_on }}.\n"
        "{% if drive.files is not none %}\nYour H: drive holds {{ drive.files }} files "
        "({{ drive.size }}).\n{% elif drive.size %}\nYour H: drive holds {{ drive.size }}."
        "\n{% endif %}"
        "\nYou do not need to do anything yet: a personal readiness report will tell you "
        "about any files that need your attention." + SIGN_OFF,
        {"person": PERSON, "wave": {"name": "CE-1", "starts_on": "3 June 2025",
                                    "cutover_on": "17 June 2025"},
         "drive": {"files": 4210, "bytes": 3_200_000_000, "size": "3.2 GB"}},
    ),
    DefaultTemplate(
        "readiness_report",
        "Your H: drive readiness report: {{ readiness.rename_count }} to rename, "
        "{{ readiness.blocked_count }} will not move",
        "Dear {{ person.first_name }},\n\n"
        "We have checked the {{ readiness.files_total }} files on your H: drive "
        "({{ readiness.size }}).\n"
        "{% if readiness.rename %}\n{{ readiness.rename_count }} of your files or folders "
        "need renaming for OneDrive; we will rename them as follows (old  ->  new):\n"
        "{% for r in readiness.rename %}  {{ r.old }}  ->  {{ r.new }}\n{% endfor %}"
        "{% if readiness.rename_more %}  ... and {{ readiness.rename_more }} more, not "
        "listed here.\n{% endif %}{% endif %}"
        "{% if readiness.blocked %}\n{{ readiness.blocked_count }} will not move, and "
        "why:\n{% for b in readiness.blocked %}  {{ b.path }}: {{ b.reason }}\n{% endfor %}"
        "{% if readiness.blocked_more %}  ... and {{ readiness.blocked_more }} more, not "
        "listed here.\n{% endif %}"
        "If you need any of these, copy them somewhere they can move from, or ask us how."
        "\n{% endif %}"
        "{% if not readiness.rename and not readiness.blocked %}\nAll your files are ready "
        "to move.\n{% endif %}"
        "{% if readiness.retention %}\nWhat the records retention rules will do with your "
        "files:\n{% for o in readiness.retention %}  {{ o.label }}: {{ o.files }} files "
        "({{ o.size }}): {{ o.meaning }}\n{% endfor %}"
        "{% elif readiness.retention_note %}\n{{ readiness.retention_note }}\n{% endif %}"
        + SIGN_OFF,
        {"person": PERSON, "readiness": {
            "files_total": 4210, "size": "3.2 GB", "rename_count": 1, "rename_more": 0,
            "rename": [{"old": "Notes: interview?.docx", "new": "Notes_ interview_.docx"}],
            "blocked_count": 1, "blocked_more": 0,
            "blocked": [{"path": "old/backup.pst", "reason": "Outlook data files are not "
                         "supported in OneDrive"}],
            "retention": [{"action": "migrate", "label": "migrate", "files": 4100,
                           "size": "3.1 GB", "meaning": "moves to your OneDrive"},
                          {"action": "dispose", "label": "dispose", "files": 110,
                           "size": "90 MB", "meaning": "is past its retention period: it "
                           "does not move, and is deleted once a disposal is approved"}],
            "retention_note": None}},
    ),
    DefaultTemplate(
        "cutover_notice",
        "H: drive switch-over on {{ cutover.day }}",
        "Dear {{ person.first_name }},\n\n"
        "On {{ cutover.day }} from {{ cutover.time }} your H: drive becomes read-only and "
        "your files open from OneDrive instead. Please save and close any files on the "
        "H: drive before then.\n\n"
        "What to do:\n"
        "  - Until then, keep working as usual; changes you save before the switch-over "
        "move with your files.\n"
        "  - After it, open and save your files in OneDrive, not on the H: drive: "
        "anything saved to the H: drive afterwards is not moved.\n"
        "  - We will write again when your files have moved." + SIGN_OFF,
        {"person": PERSON, "cutover": {"day": "17 June 2025", "time": "18:00",
                                       "wave": "CE-1"}},
    ),
    DefaultTemplate(
        "completion",
        "Your files are now in OneDrive",
        "Dear {{ person.first_name }},\n\n"
        "{{ completion.files_moved }} files ({{ completion.size_moved }}) have moved from "
        "your H: drive to OneDrive{% if completion.onedrive_url %}: "
        "{{ completion.onedrive_url }}{% else %}.{% endif %}\n"
        "{% if completion.renames %}\nThese files were renamed on the way:\n"
        "{% for r in completion.renames %}  {{ r.old }}  ->  {{ r.new }}\n{% endfor %}"
        "{% if completion.renames_more %}  ... and {{ completion.renames_more }} more, not "
        "listed here.\n{% endif %}{% endif %}"
        "{% if completion.not_moved %}\n{{ completion.not_moved_count }} files did not "
        "move, and why:\n{% for n in completion.not_moved %}  {{ n.path }}: {{ n.reason }}"
        "\n{% endfor %}{% if completion.not_moved_more %}  ... and "
        "{{ completion.not_moved_more }} more, not listed here.\n{% endif %}{% endif %}"
        + SIGN_OFF,
        {"person": PERSON, "completion": {
            "files_moved": 4209, "bytes_moved": 3_100_000_000, "size_moved": "3.1 GB",
            "onedrive_url": "https://example-my.sharepoint.com/personal/sam_okafor",
            "renames_count": 1, "renames_more": 0,
            "renames": [{"old": "Notes: interview?.docx", "new": "Notes_ interview_.docx"}],
            "not_moved_count": 1, "not_moved_more": 0,
            "not_moved": [{"path": "old/backup.pst", "reason": "not moved — a file type "
                           "OneDrive blocks"}]}},
    ),
    DefaultTemplate(
        "late_files",
        "{{ late.count }} late file(s) from your H: drive are now in OneDrive",
        "Dear {{ person.first_name }},\n\n"
        "After your files moved to OneDrive, {{ late.count }} file(s) reached your H: drive "
        "late (most often a laptop's offline copy that synced after the switch-over). On "
        "{{ late.swept_on }} we copied them to OneDrive:\n"
        "{% for f in late.files %}  {{ f }}\n{% endfor %}\n"
        "Please work on them in OneDrive from now on: your H: drive will soon become "
        "read-only." + SIGN_OFF,
        {"person": PERSON, "late": {"count": 1, "files": ["Reports/statement-v2.docx"],
                                    "swept_on": "2 July 2025"}},
    ),
    DefaultTemplate(
        "sim_bar",
        "Bar request: SIM {{ sim.iccid }}{% if sim.msisdn %} ({{ sim.msisdn }}){% endif %}",
        "To {{ sim.carrier or 'the network operator' }},\n\n"
        "Please bar this SIM card at once and confirm by reply, quoting our reference "
        "{{ request.key }}.\n\n"
        "ICCID:   {{ sim.iccid }}\n"
        "Number:  {{ sim.msisdn or 'not recorded' }}\n"
        "{% if handset %}Handset: IMEI {{ handset.imei }} ({{ handset.status }})\n{% endif %}"
        "{% if request.police_reference %}Police reference: {{ request.police_reference }}\n"
        "{% endif %}Reason:  {{ request.reason }}" + SIGN_OFF,
        {"sim": {"iccid": "8944110000000000017", "msisdn": "07700900123", "carrier": "EE"},
         "handset": {"imei": "356938035643809", "status": "stolen"},
         "request": {"key": "carrier:12", "reason": "stolen", "police_reference": "CRIS 4/23"}},
    ),
    DefaultTemplate(
        "sim_unbar",
        "Unbar request: SIM {{ sim.iccid }}{% if sim.msisdn %} ({{ sim.msisdn }}){% endif %}",
        "To {{ sim.carrier or 'the network operator' }},\n\n"
        "Please lift the bar on this SIM card and confirm by reply, quoting our reference "
        "{{ request.key }}.\n\n"
        "ICCID:   {{ sim.iccid }}\n"
        "Number:  {{ sim.msisdn or 'not recorded' }}\n"
        "Reason:  {{ request.reason }}" + SIGN_OFF,
        {"sim": {"iccid": "8944110000000000017", "msisdn": "07700900123", "carrier": "EE"},
         "request": {"key": "carrier:13", "reason": "handset found and returned"}},
    ),
    DefaultTemplate(
        "offline_sync",
        "Action needed: sync your laptop before your H: drive moves to OneDrive",
        "Dear {{ person.first_name }},\n\n"
        "Your H: drive moves to OneDrive with wave {{ wave }}. Your laptop keeps an offline "
        "copy of it, and work saved there reaches the H: drive only when the laptop syncs.\n\n"
        "{% for l in laptops %}Laptop {{ l.device }}: {{ l.state }} (last synced "
        "{{ l.last_sync }}{% if l.pending %}, {{ l.pending }} item(s) waiting{% endif %})\n"
        "{% endfor %}\n"
        "Please connect the laptop to the force network{% if freeze %} after {{ freeze }}"
        "{% endif %} and leave it signed in until Sync Center shows no items waiting. "
        "We move your drive once your laptop has synced, so nothing you saved offline is "
        "left behind." + SIGN_OFF,
        {"person": PERSON, "wave": "W03 Central East",
         "freeze": "2026-12-14 18:00",
         "laptops": [{"device": "LT-04417", "state": "not synced since the freeze",
                      "last_sync": "2026-12-02 08:14", "pending": 3}]},
    ),
)

# Retention review: the person's reminder before their deadline, and the line manager's
# notice when it has lapsed and their files are escalated to them.
REVIEW = {"files": 3, "due_on": "21 June 2025", "link": "/retention/review/me"}
DEFAULTS += (
    DefaultTemplate(
        "review_reminder",
        "Reminder: {{ review.files }} file(s) on your H: drive need your decision by "
        "{{ review.due_on }}",
        "Dear {{ person.first_name }},\n\n"
        "{{ review.files }} file(s) on your H: drive may be records, so they do not move to "
        "OneDrive until you decide: keep (migrate or archive) or dispose, with a reason.\n\n"
        "Please decide by {{ review.due_on }} on the page \"My files to review\" "
        "({{ review.link }}). After that date they go to your line manager to decide."
        + SIGN_OFF,
        {"person": PERSON, "review": REVIEW},
    ),
    DefaultTemplate(
        "review_escalated",
        "{{ review.files }} file(s) of {{ subject.first_name }} {{ subject.last_name }} "
        "need your decision",
        "Dear {{ person.first_name }},\n\n"
        "{{ subject.first_name }} {{ subject.last_name }} ({{ subject.number }}) did not "
        "decide {{ review.files }} file(s) on their H: drive by {{ review.due_on }}, so, as "
        "their line manager, you are asked to: keep (migrate or archive) or dispose, with a "
        "reason, on the page \"My files to review\" ({{ review.link }}). Until they are "
        "decided, their move to OneDrive cannot finish." + SIGN_OFF,
        {"person": PERSON, "review": REVIEW,
         "subject": {"first_name": "Alex", "last_name": "Reid", "number": "204118"}},
    ),
    DefaultTemplate(
        "policy_receipt",
        "Your receipt: acceptable-use policy {{ policy.version }} accepted",
        "Dear {{ person.first_name }},\n\n"
        "This is your receipt for accepting the acceptable-use policy for your work "
        "smartphone.\n\n"
        "Handset:        {{ handset.model }}, IMEI {{ handset.imei }}\n"
        "Phone number:   {{ handset.number or 'none fitted' }}\n"
        "Kit:            {% if kit %}{{ kit.name }} ({{ kit.code }}){% else %}none{% endif %}\n"
        "Policy version: {{ policy.version }} (in force from {{ policy.effective_on }})\n"
        "Text SHA-256:   {{ policy.sha256 }}\n"
        "Accepted at:    {{ accepted_at }} ({{ how }})\n\n"
        "Keep this message: the hash identifies exactly the text you accepted. You can "
        "download the receipt as a PDF from My Mobilise." + SIGN_OFF,
        {"person": PERSON, "handset": {"model": "Samsung Galaxy A32",
                                       "imei": "356938035643809", "number": "07700900123"},
         "kit": {"code": "STD", "name": "Standard kit", "contents": "case, charger"},
         "policy": {"version": "2.0", "effective_on": "2026-12-01", "sha256": "0" * 64},
         "accepted_at": "2026-12-07T10:15:00+00:00", "how": "own-device"},
    ),
)

BY_NAME = {t.name: t for t in DEFAULTS}
