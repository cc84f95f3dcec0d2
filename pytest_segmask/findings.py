"""What a check returns: findings (rule code, severity, message, location).

Checks are pure: they import nothing from pytest and return a ``CheckResult``.
The pytest layer maps the findings to outcomes (fail / warn / pass / skip).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


class Authority(str, enum.Enum):
    """Who requires a rule: HuBMAP's ingest rejects it, the schema/template text states it, or
    this project's judgement of what makes a mask usable."""

    INGEST = "ingest"
    SCHEMA = "schema"
    PRACTICE = "practice"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


ALWAYS_FAILS = frozenset({"CHECKER-ERROR"})  # no verdict was reached: fail in every profile


class Profile(str, enum.Enum):
    """Which findings fail an item (``--segmask-profile``)."""

    INGEST = "ingest"  # only ingest errors fail: "would HuBMAP's ingest accept this?"
    HUBMAP = "hubmap"  # ingest and schema errors fail, practice findings warn
    STRICT = "strict"  # every finding fails

    def fails(self, finding: "Finding") -> bool:
        if self is Profile.STRICT or finding.code in ALWAYS_FAILS:
            return True
        if finding.severity is not Severity.ERROR:
            return False
        if self is Profile.INGEST:
            return finding.authority is Authority.INGEST
        return finding.authority in (Authority.INGEST, Authority.SCHEMA)


@dataclass(frozen=True)
class Location:
    """Where a finding is: any subset of file, channel, row, column, pixel, offset."""

    file: str | None = None
    channel: str | None = None
    row: int | None = None
    column: str | None = None
    pixel: tuple[int, ...] | None = None
    level: int | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.channel is not None:
            parts.append(f"channel {self.channel!r}")
        if self.level is not None:
            parts.append(f"level {self.level}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.pixel is not None:
            parts.append("pixel (" + ", ".join(str(p) for p in self.pixel) + ")")
        return ", ".join(parts)


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    location: Location = field(default_factory=Location)
    fix: str | None = None
    authority: Authority = Authority.SCHEMA
    follows_from: str | None = None  # node id of the item whose failure causes this one

    def format(self) -> str:
        """One block a person can act on: code, what, where, how to fix."""
        head = f"{self.code} ({self.severity.value}, {self.authority.value}): {self.message}"
        lines = [head]
        where = str(self.location)
        if where:
            lines.append(f"  where: {where}")
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        if self.follows_from:
            lines.append(f"  follows from: {self.follows_from}")
        return "\n".join(lines)


@dataclass
class CheckResult:
    """Findings of one check plus notes on what was found (shown in reports).

    ``skip`` set means the check does not apply (e.g. an optional file is absent).
    """

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skip: str | None = None
    data: dict = field(default_factory=dict)  # for reports (e.g. bad pixel coordinates)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]


def cut_list(values, limit: int = 5) -> str:
    """``a, b, c … (+N more)``: long lists are cut to the first few plus a count."""
    values = list(values)
    shown = ", ".join(str(v) for v in values[:limit])
    if len(values) > limit:
        shown += f" … (+{len(values) - limit} more)"
    return shown


class Examples:
    """Count every occurrence of a problem, keep the first few as text for the message."""

    def __init__(self, limit: int = 5) -> None:
        self.limit = limit
        self.count = 0
        self.first: list[str] = []

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.first) < self.limit:
            self.first.append(text)

    def text(self) -> str:
        more = f" … (+{self.count - len(self.first)} more)" if self.count > len(self.first) else ""
        return "; ".join(self.first) + more



def shorten(value, limit: int = 80) -> str:
    """A value as text fit to quote in a message: characters that are not text (the bytes of
    a name that is not UTF-8, which Python carries as lone surrogates) become ``\\xNN``
    escapes, and anything longer than ``limit`` characters is cut, saying how long it was."""
    import re

    if isinstance(value, (bytes, bytearray)):
        total, unit = len(value), "bytes"
        text = bytes(value[: limit + 1]).decode("utf-8", "backslashreplace")
    else:
        try:
            text = value if isinstance(value, str) else str(value)
        except ValueError:  # an int past Python's str conversion limit
            return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
        total, unit = len(text), "characters"
        text = text[: limit + 1]
    text = re.sub(
        "[\ud800-\udfff]",
        lambda m: (f"\\x{ord(m.group()) - 0xDC00:02x}" if "\udc80" <= m.group() <= "\udcff"
                   else f"\\u{ord(m.group()):04x}"),
        text,
    )
    if total > limit:
        return f"{text[:limit]}… ({total} {unit})"
    return text
