"""Rule sets: the YAML a records manager writes, parsed into frozen values.

A rule set is versioned and identified by the SHA-256 of its exact text, so a rule set
activated once can be proved unchanged later. Parsing walks PyYAML's node tree (not the
constructed objects) so every problem is reported as ``file:line:column: message`` and all
problems are reported at once (``ImportRejected``); a rule set with any problem is refused.

Format (see docs/retention.md for the full reference)::

    rule_set: personal-files
    version: 3
    rules:
      - id: tmp-files
        title: Temporary and lock files
        authority: "Not a record (Code of Practice 2023, s.4)"
        action: dispose            # migrate | archive | review | dispose
        period: 0d                 # 30d, 18m, 6y, or forever
        from: modified             # created | modified | accessed | leaver
        explicit:                  # optional: scope to named people / folders
          people: [p001]
          folders: [{person: p002, path: Projects/Op Castle}]
        select:
          name: ["~$*", "*.tmp"]
          extension: [tmp]
    default:                        # optional: what files no rule selects get
      id: everything-else
      action: migrate
    floors:                         # optional: minimum retention per class of records
      - class: police-information
        minimum: 6y
        authority: "MoPI: 6-year minimum retention"

A dispose rule that names a ``class`` may not dispose sooner than the class's floor: such a
rule set is refused. A review rule may bring a file to review sooner, but a decision to
dispose of it is refused until the floor has passed (``retention.review``).
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mobilise.core.errors import FileProblem, ImportRejected
from mobilise.core.limits import NestedTooDeep, compose_yaml
from mobilise.core.words import parse_size

MAX_RULES = 1000  # the rule's position is packed into 10 bits of the precedence key


class Action(StrEnum):
    MIGRATE = "migrate"
    ARCHIVE = "archive"
    REVIEW = "review"
    DISPOSE = "dispose"

    @property
    def retains(self) -> bool:
        return self is not Action.DISPOSE


class CountsFrom(StrEnum):
    CREATED = "created"
    MODIFIED = "modified"
    ACCESSED = "accessed"
    LEAVER = "leaver"  # the person's leaving date: an event-based period


class Duplicate(StrEnum):
    CONTENT = "content"  # same content_key (a hash column in the inventory)
    NAME_SIZE = "name-size"  # same lower-cased name and size: likely, not proven


class Status(StrEnum):
    ACTIVE = "active"
    LEAVER = "leaver"


_PERIOD = re.compile(r"^(\d{1,4})([dmy])$")
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def add_months(day: date, months: int) -> date:
    """Calendar month arithmetic, clamping to the month's end like DuckDB does
    (31 January + 1 month = 28 or 29 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


@dataclass(frozen=True)
class Period:
    """``amount`` days, months or years; years are twelve calendar months."""

    amount: int
    unit: str  # "d" | "m" | "y"

    def after(self, day: date) -> date:
        if self.unit == "d":
            return day + timedelta(days=self.amount)
        return add_months(day, self.months)

    def before(self, day: date) -> date:
        if self.unit == "d":
            return day - timedelta(days=self.amount)
        return add_months(day, -self.months)

    @property
    def months(self) -> int:
        return self.amount * 12 if self.unit == "y" else self.amount

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class DateBound:
    """An absolute date, or a period counted back from the evaluation date."""

    absolute: date | None = None
    relative: Period | None = None

    def resolve(self, as_of: date) -> date:
        if self.absolute is not None:
            return self.absolute
        assert self.relative is not None
        return self.relative.before(as_of)

    def __str__(self) -> str:
        return str(self.absolute) if self.absolute is not None else f"{self.relative} ago"


@dataclass(frozen=True)
class Folder:
    person: str
    path: str  # relative, '/' separated, no trailing slash

    def covers(self, person: str, path: str) -> bool:
        return person == self.person and (
            self.path == "" or path == self.path or path.startswith(self.path + "/")
        )


@dataclass(frozen=True)
class Selector:
    """File facts a rule selects on. Conditions are ANDed; the values of one list ORed.
    Dates: ``X_before`` is strictly before, ``X_after`` is on or after."""

    paths: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    size_min: int | None = None
    size_max: int | None = None
    created_before: DateBound | None = None
    created_after: DateBound | None = None
    modified_before: DateBound | None = None
    modified_after: DateBound | None = None
    accessed_before: DateBound | None = None
    accessed_after: DateBound | None = None
    org_units: tuple[str, ...] = ()
    status: Status | None = None
    left_before: DateBound | None = None
    left_after: DateBound | None = None
    duplicate: Duplicate | None = None
    people: tuple[str, ...] = ()
    folders: tuple[Folder, ...] = ()

    @property
    def needs_people(self) -> bool:
        return bool(self.org_units) or self.status is not None or (
            self.left_before is not None or self.left_after is not None
        )


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    authority: str
    action: Action
    period: Period | None  # None: forever
    counts_from: CountsFrom
    selector: Selector
    explicit_people: tuple[str, ...] = ()
    explicit_folders: tuple[Folder, ...] = ()
    line: int = 0
    records_class: str | None = None  # the class of records, for the rule set's floors

    @property
    def explicit(self) -> bool:
        return bool(self.explicit_people or self.explicit_folders)

    @property
    def needs_people(self) -> bool:
        return self.selector.needs_people or self.counts_from is CountsFrom.LEAVER


@dataclass(frozen=True)
class Floor:
    """A minimum retention period for a class of records, with the authority for it."""

    records_class: str
    minimum: Period
    authority: str
    line: int = 0


# Reference days over a leap and a common year, every month's end included: a period is
# shorter than a floor if it ends sooner counted from any of them (1m against 30d, say).
_REFERENCE_DAYS = tuple(add_months(date(2023, 1, 31), n) for n in range(24))


def shorter_than(period: Period, floor: Period) -> bool:
    return any(period.after(day) < floor.after(day) for day in _REFERENCE_DAYS)


@dataclass(frozen=True)
class RuleSet:
    name: str
    version: int
    description: str
    rules: tuple[Rule, ...]
    default: Rule | None
    text: str = field(repr=False)
    content_hash: str
    floors: tuple[Floor, ...] = ()

    def floor_for(self, rule: Rule) -> Floor | None:
        return next((f for f in self.floors if f.records_class == rule.records_class), None)

    @property
    def all_rules(self) -> tuple[Rule, ...]:
        return self.rules + ((self.default,) if self.default else ())

    def rule(self, rule_id: str) -> Rule:
        for rule in self.all_rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_rule_set_file(path: Path) -> RuleSet:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportRejected([FileProblem(str(path), 1, 1, f"cannot read: {exc}")]) from exc
    return parse_rule_set(text, str(path))


def parse_rule_set(text: str, file: str = "<rule set>") -> RuleSet:
    """Parse and validate; raise ``ImportRejected`` listing every problem found."""
    parser = _Parser(file)
    try:
        root = compose_yaml(text)
    except NestedTooDeep as exc:
        raise ImportRejected([FileProblem(file, exc.line, exc.column, exc.message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ImportRejected(
            [FileProblem(file, line, col, f"not valid YAML: {exc.problem}")]
        ) from None
    except yaml.reader.ReaderError as exc:
        # A character YAML does not allow (a control character, say): locate it.
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise ImportRejected(
            [FileProblem(file, line, col, f"not valid YAML: {exc.reason} "
                                          f"(character {exc.character!r})")]
        ) from None
    except yaml.YAMLError as exc:
        raise ImportRejected([FileProblem(file, 1, 1, f"not valid YAML: {exc}")]) from None
    if root is None:
        raise ImportRejected([FileProblem(file, 1, 1, "empty rule set")])
    result = parser.rule_set(root, text)
    if parser.problems or result is None:
        raise ImportRejected(parser.problems)
    return result


_TOP_KEYS = {"rule_set", "version", "description", "rules", "default", "floors"}
_RULE_KEYS = {"id", "title", "authority", "action", "period", "from", "explicit", "select",
              "class"}
_FLOOR_KEYS = {"class", "minimum", "authority"}
_SELECT_KEYS = {
    "path", "name", "extension", "size_min", "size_max",
    "created_before", "created_after", "modified_before", "modified_after",
    "accessed_before", "accessed_after", "org_unit", "status", "left_before", "left_after",
    "duplicate", "people", "folders",
}
_DATE_KEYS = {
    "created_before", "created_after", "modified_before", "modified_after",
    "accessed_before", "accessed_after", "left_before", "left_after",
}


def _value_of(node: Node, key: str) -> Node:
    """The value node of ``key`` in a mapping node (the node itself if it has none), so
    a problem points at the value that causes it."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == key \
                    and isinstance(value_node, Node):
                return value_node
    return node


class _Parser:
    """Turns YAML nodes into values, collecting problems instead of stopping at one."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[FileProblem] = []

    def problem(self, node: Node, message: str) -> None:
        mark = node.start_mark
        self.problems.append(FileProblem(self.file, mark.line + 1, mark.column + 1, message))

    def mapping(self, node: Node, allowed: set[str], what: str) -> dict[str, Node] | None:
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping")
            return None
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if key is None or key not in allowed:
                choices = ", ".join(sorted(allowed))
                self.problem(key_node, f"unknown key {key!r} in {what}; allowed: {choices}")
            elif key in out:
                self.problem(key_node, f"duplicate key {key!r} in {what}")
            else:
                out[key] = value_node
        return out

    def string(self, node: Node, what: str, *, empty: bool = False) -> str | None:
        if not isinstance(node, ScalarNode) or node.tag.endswith(":null"):
            self.problem(node, f"{what} must be text")
            return None
        value = str(node.value).strip()
        if not value and not empty:
            self.problem(node, f"{what} must not be empty")
            return None
        return value

    def strings(self, node: Node, what: str) -> tuple[str, ...]:
        items = node.value if isinstance(node, SequenceNode) else [node]
        out = [self.string(item, what) for item in items]
        return tuple(s for s in out if s is not None)

    def integer(self, node: Node, what: str) -> int | None:
        if isinstance(node, ScalarNode) and re.fullmatch(r"\d+", str(node.value)):
            return int(node.value)
        self.problem(node, f"{what} must be a whole number")
        return None

    def period(self, node: Node, what: str) -> Period | None:
        text = self.string(node, what)
        match = _PERIOD.match(text.lower()) if text else None
        if text is not None and match is None:
            self.problem(node, f"{what} {text!r}: use a number and d, m or y (e.g. 30d, 18m, 6y)")
            return None
        return Period(int(match.group(1)), match.group(2)) if match else None

    def date_bound(self, node: Node, what: str) -> DateBound | None:
        text = self.string(node, what)
        if text is None:
            return None
        match = _PERIOD.match(text.lower())
        if match:
            return DateBound(relative=Period(int(match.group(1)), match.group(2)))
        try:
            return DateBound(absolute=date.fromisoformat(text))
        except ValueError:
            self.problem(node, f"{what} {text!r}: use a date (2019-04-01) or an age (6y, 18m, 30d)")
            return None

    def size(self, node: Node, what: str) -> int | None:
        text = self.string(node, what)
        if text is None:
            return None
        try:
            return parse_size(text)
        except ValueError:
            self.problem(node, f"{what} {text!r}: use bytes or a size such as 10MB, 2GiB")
            return None

    def enum(self, node: Node, kind: Callable[[str], Any], choices: list[str], what: str) -> Any:
        text = self.string(node, what)
        if text is None:
            return None
        if text.lower() not in choices:
            self.problem(node, f"{what} {text!r}: choose one of {', '.join(choices)}")
            return None
        return kind(text.lower())

    def folders(self, node: Node, what: str) -> tuple[Folder, ...]:
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what} must be a list of {{person, path}}")
            return ()
        out: list[Folder] = []
        for item in node.value:
            fields = self.mapping(item, {"person", "path"}, "a folder")
            if fields is None:
                continue
            if "person" not in fields or "path" not in fields:
                self.problem(item, "a folder needs both person and path")
                continue
            person = self.string(fields["person"], "folder person")
            path = self.string(fields["path"], "folder path", empty=True)
            if person is not None and path is not None:
                out.append(Folder(person, path.strip("/")))
        return tuple(out)

    def selector(self, node: Node) -> Selector:
        fields = self.mapping(node, _SELECT_KEYS, "select")
        if fields is None:
            return Selector()
        values: dict[str, Any] = {}
        for key, value in fields.items():
            if key in _DATE_KEYS:
                values[key] = self.date_bound(value, key)
            elif key in ("size_min", "size_max"):
                values[key] = self.size(value, key)
            elif key == "path":
                values["paths"] = tuple(p.strip("/") for p in self.strings(value, "path glob"))
            elif key == "name":
                values["names"] = self.strings(value, "name glob")
            elif key == "extension":
                values["extensions"] = tuple(
                    e.lower().lstrip(".") for e in self.strings(value, "extension")
                )
            elif key == "org_unit":
                values["org_units"] = self.strings(value, "org unit")
            elif key == "people":
                values["people"] = self.strings(value, "person")
            elif key == "folders":
                values["folders"] = self.folders(value, "folders")
            elif key == "status":
                values["status"] = self.enum(value, Status, [s.value for s in Status], key)
            elif key == "duplicate":
                choices = [d.value for d in Duplicate]
                values["duplicate"] = self.enum(value, Duplicate, choices, key)
        selector = Selector(**{k: v for k, v in values.items() if v is not None})
        if (
            selector.size_min is not None
            and selector.size_max is not None
            and selector.size_min > selector.size_max
        ):
            self.problem(node, "size_min is larger than size_max: the rule selects nothing")
        return selector

    def rule(self, node: Node, *, default: bool) -> Rule | None:
        fields = self.mapping(node, _RULE_KEYS, "a rule")
        if fields is None:
            return None
        required = ["id", "action"] if default else ["id", "title", "authority", "action"]
        for key in required:
            if key not in fields:
                self.problem(node, f"a rule needs {key!r}")
        if default and ("select" in fields or "explicit" in fields):
            self.problem(node, "the default rule applies to what no rule selects: no select")
        rule_id = self.string(fields["id"], "id") if "id" in fields else None
        if rule_id is not None and not _RULE_ID.match(rule_id):
            self.problem(fields["id"], f"id {rule_id!r}: use lower-case letters, digits, - and _")
        action = (
            self.enum(fields["action"], Action, [a.value for a in Action], "action")
            if "action" in fields
            else None
        )
        period: Period | None = None
        if "period" in fields and not (
            isinstance(fields["period"], ScalarNode) and fields["period"].value == "forever"
        ):
            period = self.period(fields["period"], "period")
        elif "period" not in fields and action in (Action.DISPOSE, Action.REVIEW):
            period = Period(0, "d")  # due as soon as selected, counting from the date
        counts_from = CountsFrom.MODIFIED
        if "from" in fields:
            choice = self.enum(fields["from"], CountsFrom, [c.value for c in CountsFrom], "from")
            counts_from = choice or counts_from
        if action is Action.DISPOSE and period is None and "period" in fields:
            self.problem(fields["period"], "a dispose rule cannot keep forever")
        people: tuple[str, ...] = ()
        folders: tuple[Folder, ...] = ()
        if "explicit" in fields:
            scope = self.mapping(fields["explicit"], {"people", "folders"}, "explicit")
            if scope is not None:
                people = self.strings(scope["people"], "person") if "people" in scope else ()
                folders = self.folders(scope["folders"], "folders") if "folders" in scope else ()
                if not people and not folders:
                    self.problem(fields["explicit"], "explicit needs people or folders")
        selector = self.selector(fields["select"]) if "select" in fields else Selector()
        if rule_id is None or action is None:
            return None
        title = self.string(fields["title"], "title") if "title" in fields else rule_id
        authority = self.string(fields["authority"], "authority") if "authority" in fields else ""
        records_class = self.string(fields["class"], "class") if "class" in fields else None
        return Rule(
            id=rule_id,
            title=title or rule_id,
            authority=authority or "",
            action=action,
            period=period,
            counts_from=counts_from,
            selector=selector,
            explicit_people=people,
            explicit_folders=folders,
            line=node.start_mark.line + 1,
            records_class=records_class,
        )

    def rule_set(self, root: Node, text: str) -> RuleSet | None:
        fields = self.mapping(root, _TOP_KEYS, "the rule set")
        if fields is None:
            return None
        for key in ("rule_set", "version", "rules"):
            if key not in fields:
                self.problem(root, f"the rule set needs {key!r}")
        name = self.string(fields["rule_set"], "rule_set") if "rule_set" in fields else None
        version = self.integer(fields["version"], "version") if "version" in fields else None
        description = ""
        if "description" in fields:
            description = self.string(fields["description"], "description", empty=True) or ""
        rules: list[Rule] = []
        rules_node = fields.get("rules")
        if rules_node is not None and not isinstance(rules_node, SequenceNode):
            self.problem(rules_node, "rules must be a list")
        elif rules_node is not None:
            if len(rules_node.value) > MAX_RULES:
                self.problem(rules_node, f"at most {MAX_RULES} rules")
            rules = self.rule_list(rules_node)
        default = self.rule(fields["default"], default=True) if "default" in fields else None
        if default is not None and any(r.id == default.id for r in rules):
            self.problem(fields["default"], f"rule id {default.id!r} is used twice")
        floors = self.floors(fields["floors"]) if "floors" in fields else ()
        self.check_floors(rules_node, rules, fields.get("default"), default, floors)
        if name is None or version is None:
            return None
        return RuleSet(name, version, description, tuple(rules), default, text,
                       content_hash(text), floors)

    def floors(self, node: Node) -> tuple[Floor, ...]:
        if not isinstance(node, SequenceNode):
            self.problem(node, "floors must be a list of {class, minimum, authority}")
            return ()
        out: dict[str, Floor] = {}
        for item in node.value:
            fields = self.mapping(item, _FLOOR_KEYS, "a floor")
            if fields is None:
                continue
            missing = [k for k in ("class", "minimum", "authority") if k not in fields]
            for key in missing:
                self.problem(item, f"a floor needs {key!r}")
            if missing:
                continue
            name = self.string(fields["class"], "class")
            minimum = self.period(fields["minimum"], "minimum")
            authority = self.string(fields["authority"], "authority")
            if name is not None and name in out:
                self.problem(fields["class"], f"class {name!r} has two floors "
                                              f"(first on line {out[name].line})")
            elif name is not None and minimum is not None and authority is not None:
                out[name] = Floor(name, minimum, authority, item.start_mark.line + 1)
        return tuple(out.values())

    def check_floors(self, rules_node: Node | None, rules: list[Rule], default_node: Node | None,
                     default: Rule | None, floors: tuple[Floor, ...]) -> None:
        """Refuse a rule that would dispose of a class of records sooner than its floor,
        and a rule naming a class no floor declares (a misspelt class escapes its floor)."""
        by_class = {f.records_class: f for f in floors}
        nodes = list(rules_node.value) if isinstance(rules_node, SequenceNode) else []
        located = {r.line: n for r in rules for n in nodes if n.start_mark.line + 1 == r.line}
        if default is not None and default_node is not None:
            located[default.line] = default_node
        for rule in rules + ([default] if default is not None else []):
            if rule.records_class is None:
                continue
            node = located.get(rule.line)
            if node is None:
                continue
            floor = by_class.get(rule.records_class)
            if floor is None:
                known = ", ".join(sorted(by_class)) or "none declared"
                self.problem(node, f"rule {rule.id!r}: class {rule.records_class!r} has no "
                                   f"floor (floors: {known})")
            elif rule.action is Action.DISPOSE and rule.period is not None \
                    and shorter_than(rule.period, floor.minimum):
                self.problem(_value_of(node, "period"),
                             f"rule {rule.id!r} disposes {rule.records_class} after "
                             f"{rule.period}, sooner than its floor of {floor.minimum} "
                             f"({floor.authority})")

    def rule_list(self, node: SequenceNode) -> list[Rule]:
        rules: list[Rule] = []
        seen: dict[str, int] = {}
        for item in node.value:
            rule = self.rule(item, default=False)
            if rule is None:
                continue
            if rule.id in seen:
                first = seen[rule.id]
                self.problem(item, f"rule id {rule.id!r} is used twice (first on line {first})")
                continue
            seen[rule.id] = rule.line
            rules.append(rule)
        return rules
