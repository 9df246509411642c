"""The rules' future in OneDrive: a Microsoft Purview plan generated from a rule set.

The decision paper asks for a design of Review, Retention and Disposal "for the future
state". After migration the H: drive's rules are no longer evaluated by Mobilise; Purview
retention labels are. This module turns a rule set into that plan, as reviewed artefacts
a records team can read and an administrator can run:

* one retention label per rule (``New-ComplianceTag``): its action (Keep, Delete,
  KeepAndDelete with a disposition reviewer), its period in days, and what the period
  counts from (created, modified, or an event: a person's leaving);
* label policies (``New-RetentionCompliancePolicy`` + ``New-RetentionComplianceRule``)
  scoped to OneDrive: auto-applied with a KQL query where the rule's selection can be
  said in KQL exactly, published for people to apply by hand where it cannot;
* every part of a rule that has no Purview equivalent, and why.

Nothing here talks to Microsoft 365: the script is an artefact for review, written so it
can be run twice (each object is created only if it is not there yet). Facts used, from
Microsoft's cmdlet reference: ``-RetentionAction`` is Delete, Keep or KeepAndDelete;
``-RetentionType`` is CreationAgeInDays, ModificationAgeInDays, TaggedAgeInDays or
EventAgeInDays; ``-RetentionDuration`` is a positive number of days or Unlimited;
``-ReviewerEmail`` starts a disposition review when the period ends (KeepAndDelete only).
KQL cannot start a name with a wildcard, and has no last-accessed date or duplicate test.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date

from mobilise.core.errors import InvalidInput
from mobilise.core.output import to_csv
from mobilise.retention.rules import Action, CountsFrom, Period, Rule, RuleSet, Selector

LABEL_NAME_MAX = 64  # Purview refuses longer retention label names
# Purview counts in days; a year of the rule set is 365 of them, as Microsoft's own
# example ("5 years (1825 days)"), a month a twelfth of that.
DAYS_PER_YEAR = 365
_COUNTS_FROM = {
    CountsFrom.CREATED: "CreationAgeInDays",
    CountsFrom.MODIFIED: "ModificationAgeInDays",
    CountsFrom.LEAVER: "EventAgeInDays",
    # Purview has no last-accessed trigger: the nearest is the last modification, which is
    # never later than the last access, so the label never keeps a file for less time.
    CountsFrom.ACCESSED: "ModificationAgeInDays",
}
_PLAIN_NAME = re.compile(r"^[^*?\[\]\"]+$")
_PREFIX_NAME = re.compile(r"^[^*?\[\]\"]+\*$")
_EXTENSION = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ADDRESS = re.compile(r"^[^@\s'\"]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,15}$")


@dataclass(frozen=True)
class Gap:
    """A part of a rule that Purview cannot carry, and what the plan does instead."""

    rule: str
    what: str
    instead: str


@dataclass(frozen=True)
class Label:
    name: str
    rule: Rule
    retention_action: str  # Keep | Delete | KeepAndDelete
    duration: str  # days, or "Unlimited"
    retention_type: str
    event_type: str | None
    reviewer: str | None
    query: str | None  # the KQL that auto-applies it; None: published for people to apply
    comment: str


@dataclass(frozen=True)
class PurviewPlan:
    rule_set: str
    version: int
    content_hash: str
    prefix: str
    generated: date
    labels: tuple[Label, ...]
    unlabelled: tuple[Rule, ...]  # rules that need no label (migrate, kept as is)
    gaps: tuple[Gap, ...]
    event_type: str | None = None
    reviewer: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def auto_applied(self) -> tuple[Label, ...]:
        return tuple(label for label in self.labels if label.query is not None)

    @property
    def published(self) -> tuple[Label, ...]:
        return tuple(label for label in self.labels if label.query is None)


# --------------------------------------------------------------------------- the plan

def plan(rule_set: RuleSet, *, as_of: date, prefix: str = "RRD",
         reviewer: str | None = None) -> PurviewPlan:
    """The Purview plan for ``rule_set``. ``reviewer`` (an address or group) receives the
    disposition reviews of rules whose action is review; without one they become Keep."""
    if reviewer is not None and not _ADDRESS.match(reviewer):
        raise InvalidInput(f"reviewer {reviewer!r}: give an e-mail address, e.g. "
                           "records@force.police.uk")
    if not _PREFIX.match(prefix):
        raise InvalidInput(f"prefix {prefix!r}: letters, digits, spaces, '-' or '_', "
                           "at most 16")
    gaps: list[Gap] = []
    labels: list[Label] = []
    unlabelled: list[Rule] = []
    event_type = f"{prefix} leaver: {rule_set.name}"[:LABEL_NAME_MAX]
    for rule in rule_set.all_rules:
        if rule.action is Action.MIGRATE and rule.period is None:
            unlabelled.append(rule)  # kept in OneDrive as it is: no label to apply
            continue
        labels.append(_label(rule_set, rule, prefix, reviewer, event_type, gaps))
    uses_event = any(label.event_type for label in labels)
    return PurviewPlan(
        rule_set=rule_set.name, version=rule_set.version, content_hash=rule_set.content_hash,
        prefix=prefix, generated=as_of, labels=tuple(labels), unlabelled=tuple(unlabelled),
        gaps=tuple(gaps), event_type=event_type if uses_event else None, reviewer=reviewer,
        notes=_notes(),
    )


def _notes() -> tuple[str, ...]:
    return (
        "Purview resolves a file with several labels' claims by the same principles as the "
        "rule set (retention wins over deletion, the longest retention wins, explicit wins "
        "over implicit, the shortest deletion wins), but a file carries one label: where "
        "auto-apply policies overlap, the first label applied stays.",
        "Holds are not labels: legal holds move to eDiscovery holds on the person's OneDrive.",
        "Periods are in days: a year is 365 days, a month 30 or 31 (365/12 rounded).",
    )


def _label(rule_set: RuleSet, rule: Rule, prefix: str, reviewer: str | None,
           event_type: str, gaps: list[Gap]) -> Label:
    action, chosen_reviewer = _retention_action(rule, reviewer, gaps)
    if rule.counts_from is CountsFrom.ACCESSED:
        gaps.append(Gap(rule.id, "counts from the last access",
                        "counts from the last modification (never earlier than the access)"))
    if rule.action is Action.ARCHIVE:
        gaps.append(Gap(rule.id, "archive to another store",
                        "the file is kept where it is in OneDrive for the period"))
    query = kql(rule.selector, rule.id, gaps)
    if rule.explicit:
        gaps.append(Gap(rule.id, "named people or folders",
                        "published for those people to apply by hand"))
        query = None
    return Label(
        name=label_name(prefix, rule_set.name, rule.id),
        rule=rule,
        retention_action=action,
        duration=duration_days(rule.period),
        retention_type=_COUNTS_FROM[rule.counts_from],
        event_type=event_type if rule.counts_from is CountsFrom.LEAVER else None,
        reviewer=chosen_reviewer,
        query=query,
        comment=f"{rule.title} ({rule.authority}). From {rule_set.name} v{rule_set.version}, "
                f"rule {rule.id}.",
    )


def _retention_action(rule: Rule, reviewer: str | None,
                      gaps: list[Gap]) -> tuple[str, str | None]:
    if rule.action is Action.DISPOSE:
        return "Delete", None
    if rule.action is Action.REVIEW:
        if reviewer:
            return "KeepAndDelete", reviewer
        gaps.append(Gap(rule.id, "review by a person",
                        "kept: no disposition reviewer was given (--reviewer)"))
    return "Keep", None


def duration_days(period: Period | None) -> str:
    """Purview's ``-RetentionDuration``: days (at least 1), or Unlimited for forever."""
    if period is None:
        return "Unlimited"
    if period.unit == "d":
        days = period.amount
    elif period.unit == "y":
        days = period.amount * DAYS_PER_YEAR
    else:
        days = round(period.amount * DAYS_PER_YEAR / 12)
    return str(max(days, 1))  # Purview's shortest period is one day


def label_name(prefix: str, rule_set: str, rule_id: str) -> str:
    """A unique, stable label name of at most 64 characters."""
    name = f"{prefix} {rule_set} {rule_id}"
    if len(name) <= LABEL_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:LABEL_NAME_MAX - 9]}~{digest}"


# --------------------------------------------------------------------------- KQL

def kql(selector: Selector, rule_id: str, gaps: list[Gap]) -> str | None:
    """The KQL that selects exactly what ``selector`` does, or None (with the reasons in
    ``gaps``) when any condition cannot be said in KQL: a partial query would label, and
    perhaps delete, files the rule never meant."""
    clauses: list[str] = []
    missing: list[str] = []
    if selector.extensions:
        if all(_EXTENSION.match(e) for e in selector.extensions):
            clauses.append(_any("FileExtension", selector.extensions))
        else:
            missing.append("an extension KQL cannot quote")
    if selector.names:
        names = _names(selector.names)
        if names is None:
            missing.append("a name pattern with a wildcard before its end")
        else:
            clauses.append(names)
    if selector.size_min is not None:
        clauses.append(f"Size>={selector.size_min}")
    if selector.size_max is not None:
        clauses.append(f"Size<={selector.size_max}")
    clauses.extend(_fixed_dates(selector))
    missing.extend(_inexpressible(selector))
    for what in missing:
        gaps.append(Gap(rule_id, f"selects by {what}",
                        "published for people to apply by hand, not auto-applied"))
    if missing or not clauses:
        if not clauses and not missing:
            gaps.append(Gap(rule_id, "selects everything not selected by another rule",
                            "published for people to apply by hand, not auto-applied"))
        return None
    return " AND ".join(clauses)


def _fixed_dates(selector: Selector) -> list[str]:
    """Absolute date bounds: ``X_before`` is strictly before, ``X_after`` on or after."""
    bounds = (("Created", "<", selector.created_before), ("Created", ">=", selector.created_after),
              ("LastModifiedTime", "<", selector.modified_before),
              ("LastModifiedTime", ">=", selector.modified_after))
    return [f"{prop}{op}{bound.absolute.isoformat()}" for prop, op, bound in bounds
            if bound is not None and bound.absolute is not None]


def _inexpressible(selector: Selector) -> list[str]:
    missing = []
    if selector.paths:
        missing.append("folder path (each OneDrive has its own address)")
    dates = (selector.created_before, selector.created_after, selector.modified_before,
             selector.modified_after)
    if any(bound is not None and bound.relative is not None for bound in dates):
        missing.append("a date relative to today (a KQL date is fixed when written)")
    if selector.accessed_before is not None or selector.accessed_after is not None:
        missing.append("last access date")
    if selector.org_units or selector.status is not None or selector.left_before is not None \
            or selector.left_after is not None:
        missing.append("the person's unit or status (needs an adaptive scope)")
    if selector.duplicate is not None:
        missing.append("duplicate content")
    if selector.people or selector.folders:
        missing.append("named people or folders")
    return missing


def _names(names: tuple[str, ...]) -> str | None:
    terms = []
    for name in names:
        if _PLAIN_NAME.match(name):
            terms.append(f'FileName:"{name}"')
        elif _PREFIX_NAME.match(name) and " " not in name:
            terms.append(f"FileName:{name}")
        else:
            return None
    return _join(terms)


def _any(prop: str, values: tuple[str, ...]) -> str:
    return _join([f"{prop}:{v.lower()}" for v in values])


def _join(terms: list[str]) -> str:
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


# --------------------------------------------------------------------------- artefacts

def ps_quote(text: str) -> str:
    """A PowerShell verbatim string: single quotes, each quote inside doubled. Nothing in
    it is expanded, so a rule's title cannot run as code. PowerShell also takes the
    typographic single quotes as quotes; they are doubled the same way."""
    out = text.replace("\r", " ").replace("\n", " ")
    for quote in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):
        out = out.replace(quote, quote * 2)
    return f"'{out}'"


def powershell(p: PurviewPlan) -> str:
    """The plan as a Security & Compliance PowerShell script, safe to run twice."""
    lines = [
        f"# Microsoft Purview retention plan for rule set {p.rule_set} v{p.version}",
        f"# content hash {p.content_hash}; generated by Mobilise on {p.generated.isoformat()}.",
        "# Review it with the records team before running. Run in Security & Compliance",
        "# PowerShell (Connect-IPPSSession). Each object is created only if missing.",
        "$ErrorActionPreference = 'Stop'",
        "",
    ]
    if p.event_type:
        lines += [
            "# Event-based retention: the period of leaver rules counts from the leaving date,",
            "# recorded in Purview as an event of this type (New-ComplianceRetentionEvent).",
            f"if (-not (Get-ComplianceRetentionEventType -Identity {ps_quote(p.event_type)} "
            "-ErrorAction SilentlyContinue)) {",
            f"    New-ComplianceRetentionEventType -Name {ps_quote(p.event_type)} "
            f"-Comment {ps_quote('A person left the force (roster leaving date).')}",
            "}",
            "",
        ]
    for label in p.labels:
        lines += _label_lines(label)
    lines += _policy_lines(p)
    return "\n".join(lines) + "\n"


def _label_lines(label: Label) -> list[str]:
    args = [
        f"-Name {ps_quote(label.name)}",
        f"-RetentionAction {label.retention_action}",
        f"-RetentionDuration {label.duration}",
        f"-RetentionType {label.retention_type}",
        f"-Comment {ps_quote(label.comment)}",
    ]
    if label.event_type:
        args.append(f"-EventType {ps_quote(label.event_type)}")
    if label.reviewer:
        args.append(f"-ReviewerEmail {ps_quote(label.reviewer)}")
    return [
        f"# rule {label.rule.id}: {_comment_safe(label.rule.title)}",
        f"if (-not (Get-ComplianceTag -Identity {ps_quote(label.name)} "
        "-ErrorAction SilentlyContinue)) {",
        "    New-ComplianceTag " + " ".join(args),
        "}",
        "",
    ]


def _policy_lines(p: PurviewPlan) -> list[str]:
    lines: list[str] = []
    for label in p.auto_applied:
        policy = ps_quote(_policy_name(p, label.rule.id))
        lines += [
            f"# auto-apply {label.name} to OneDrive where: {_comment_safe(label.query or '')}",
            f"if (-not (Get-RetentionCompliancePolicy -Identity {policy} "
            "-ErrorAction SilentlyContinue)) {",
            f"    New-RetentionCompliancePolicy -Name {policy} -OneDriveLocation All",
            f"    New-RetentionComplianceRule -Name {policy} -Policy {policy} "
            f"-ApplyComplianceTag {ps_quote(label.name)} "
            f"-ContentMatchQuery {ps_quote(label.query or '')}",
            "}",
            "",
        ]
    if p.published:
        policy = ps_quote(_policy_name(p, "published"))
        names = ps_quote(",".join(label.name for label in p.published))
        lines += [
            "# labels people apply by hand (their rules cannot be said in KQL exactly)",
            f"if (-not (Get-RetentionCompliancePolicy -Identity {policy} "
            "-ErrorAction SilentlyContinue)) {",
            f"    New-RetentionCompliancePolicy -Name {policy} -OneDriveLocation All",
            f"    New-RetentionComplianceRule -Name {policy} -Policy {policy} "
            f"-PublishComplianceTag {names}",
            "}",
        ]
    return lines


def _policy_name(p: PurviewPlan, suffix: str) -> str:
    return label_name(p.prefix, p.rule_set, suffix)


def _comment_safe(text: str) -> str:
    # A comment ends at the line's end; '#>' could close a block comment around it.
    return text.replace("\r", " ").replace("\n", " ").replace("#>", "# >")


CSV_COLUMNS = ("label", "rule", "title", "authority", "mobilise_action", "retention_action",
               "duration_days", "counts_from", "event_type", "disposition_reviewer",
               "applied", "kql", "gaps")


def rows(p: PurviewPlan) -> list[dict[str, str]]:
    """The mapping of each rule to its label (or to none), for the records team."""
    gaps: dict[str, list[str]] = {}
    for gap in p.gaps:
        gaps.setdefault(gap.rule, []).append(f"{gap.what}: {gap.instead}")
    out = [{
        "label": label.name, "rule": label.rule.id, "title": label.rule.title,
        "authority": label.rule.authority, "mobilise_action": label.rule.action.value,
        "retention_action": label.retention_action, "duration_days": label.duration,
        "counts_from": label.retention_type, "event_type": label.event_type or "",
        "disposition_reviewer": label.reviewer or "",
        "applied": "auto (KQL)" if label.query else "published",
        "kql": label.query or "", "gaps": "; ".join(gaps.get(label.rule.id, [])),
    } for label in p.labels]
    out += [{
        "label": "", "rule": rule.id, "title": rule.title, "authority": rule.authority,
        "mobilise_action": rule.action.value, "retention_action": "", "duration_days": "",
        "counts_from": "", "event_type": "", "disposition_reviewer": "",
        "applied": "no label: kept in OneDrive as it is", "kql": "", "gaps": "",
    } for rule in p.unlabelled]
    return out


def csv_text(p: PurviewPlan) -> str:
    return to_csv(rows(p), CSV_COLUMNS)  # neutralises formula triggers in every cell


def as_json(p: PurviewPlan) -> dict[str, object]:
    return {
        "rule_set": p.rule_set, "version": p.version, "content_hash": p.content_hash,
        "generated": p.generated.isoformat(), "prefix": p.prefix, "event_type": p.event_type,
        "reviewer": p.reviewer, "labels": rows(p),
        "gaps": [{"rule": g.rule, "what": g.what, "instead": g.instead} for g in p.gaps],
        "notes": list(p.notes),
    }
