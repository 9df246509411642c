"""The first version of every template, with a sample context for previews.

Rollout: invitation, reminder, no-show, hand-over confirmation. Migration: wave
announcement, personal readiness report, cutover notice, completion with the rename map.
Templates are plain text (Jinja2); a later version is added with ``mobilise comms
templates add``, never by editing these.
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
        "(cutover) is planned for {{ wave.cutover_on }}.\n\n"
        "You do not need to do anything yet: a personal readiness report will tell you "
        "about any files that need your attention." + SIGN_OFF,
        {"person": PERSON, "wave": {"name": "CE-1", "starts_on": "3 June 2025",
                                    "cutover_on": "17 June 2025"}},
    ),
    DefaultTemplate(
        "readiness_report",
        "Your H: drive readiness report: {{ readiness.rename | length }} to rename, "
        "{{ readiness.blocked | length }} will not move",
        "Dear {{ person.first_name }},\n\n"
        "We have checked the {{ readiness.files_total }} files on your H: drive.\n"
        "{% if readiness.rename %}\n{{ readiness.rename | length }} of your files need "
        "renaming for OneDrive; we will rename them as follows:\n"
        "{% for r in readiness.rename %}  {{ r.old }}  ->  {{ r.new }}\n{% endfor %}"
        "{% endif %}"
        "{% if readiness.blocked %}\n{{ readiness.blocked | length }} will not move, and "
        "why:\n{% for b in readiness.blocked %}  {{ b.path }}: {{ b.reason }}\n{% endfor %}"
        "{% endif %}"
        "{% if not readiness.rename and not readiness.blocked %}\nAll your files are ready "
        "to move.\n{% endif %}" + SIGN_OFF,
        {"person": PERSON, "readiness": {
            "files_total": 4210,
            "rename": [{"old": "Notes: interview?.docx", "new": "Notes_ interview_.docx"}],
            "blocked": [{"path": "old/backup.pst", "reason": "Outlook data files are not "
                         "supported in OneDrive"}]}},
    ),
    DefaultTemplate(
        "cutover_notice",
        "H: drive switch-over on {{ cutover.day }}",
        "Dear {{ person.first_name }},\n\n"
        "On {{ cutover.day }} from {{ cutover.time }} your H: drive becomes read-only and "
        "your files open from OneDrive instead. Please save and close any files on the "
        "H: drive before then." + SIGN_OFF,
        {"person": PERSON, "cutover": {"day": "17 June 2025", "time": "18:00"}},
    ),
    DefaultTemplate(
        "completion",
        "Your files are now in OneDrive",
        "Dear {{ person.first_name }},\n\n"
        "{{ completion.files_moved }} files have moved from your H: drive to OneDrive: "
        "{{ completion.onedrive_url }}\n"
        "{% if completion.renames %}\nThese files were renamed on the way:\n"
        "{% for r in completion.renames %}  {{ r.old }}  ->  {{ r.new }}\n{% endfor %}"
        "{% endif %}" + SIGN_OFF,
        {"person": PERSON, "completion": {
            "files_moved": 4209,
            "onedrive_url": "https://example-my.sharepoint.com/personal/sam_okafor",
            "renames": [{"old": "Notes: interview?.docx", "new": "Notes_ interview_.docx"}]}},
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
