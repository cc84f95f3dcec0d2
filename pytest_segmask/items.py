"""The pytest items: run one pure check, map its findings to an outcome."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import pytest

from .findings import CheckResult, Finding, Severity

RESULT_KEY = pytest.StashKey[CheckResult]()

# -k's alphabet (SPEC §1): anything else in a name becomes "_".
_UNSAFE = re.compile(r"[^A-Za-z0-9_:+\-./\\]")


def safe_name(name: str) -> str:
    return _UNSAFE.sub("_", name) or "_"


class SegmaskWarning(UserWarning):
    """A finding of warning severity (promote with -W error::pytest_segmask.SegmaskWarning)."""

    __module__ = "pytest_segmask"


class SegmaskFailure(Exception):
    """Raised by an item whose check found errors (or warnings under --segmask-strict)."""

    def __init__(self, findings: list[Finding], strict: bool = False) -> None:
        super().__init__(findings[0].format() if findings else "")
        self.findings = findings
        self.strict = strict

    def render(self) -> str:
        errors = [f for f in self.findings if f.severity is Severity.ERROR]
        # Errors first: the first line is what -rf and junit show.
        ordered = errors + [f for f in self.findings if f not in errors]
        blocks = [f.format() for f in ordered]
        if len(ordered) > 1:
            first = ordered[0]
            blocks.insert(
                0,
                f"{first.code}: {first.message.splitlines()[0]} "
                f"(+{len(ordered) - 1} more finding(s) below)",
            )
        if self.strict and not errors:
            blocks.append("(warnings fail because --segmask-strict is set)")
        return "\n".join(blocks)


class SegmaskItem(pytest.Item):
    """One conformance check. ``check`` returns a CheckResult; findings decide the outcome."""

    def __init__(
        self,
        *,
        check: Callable[[], CheckResult],
        description: str,
        properties: dict[str, str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self._check = check
        self.description = description
        # junit <property> elements; pytest copies them onto the report (survives xdist)
        self.user_properties.extend((properties or {}).items())

    def runtest(self) -> None:
        result = self._check()
        self.stash[RESULT_KEY] = result
        waivers = self.config.stash.get(WAIVERS_KEY, {})
        waived = [f for f in result.findings if f.code in waivers]
        errors = [f for f in result.errors if f.code not in waivers]
        warns = [f for f in result.warnings if f.code not in waivers]
        strict = self.config.stash.get(STRICT_KEY, False)
        failing = errors + warns if (errors or (strict and warns)) else []
        self._record(result, failing, warns if not failing else [], waived)
        notes = list(result.notes)
        notes += [f"waived {f.code} ({waivers[f.code]}): {f.message}" for f in waived]
        if notes:
            self.add_report_section("call", "segmask", "\n".join(notes))
        if result.skip:
            pytest.skip(result.skip)
        if failing:
            raise SegmaskFailure(failing, strict=strict)
        for finding in warns:
            warnings.warn(SegmaskWarning(f"{self.nodeid}: {finding.format()}"), stacklevel=1)

    def _record(self, result, failing, warned, waived) -> None:
        """Rule codes as report properties: junit <property>, the terminal tally, HTML."""

        def codes(findings):
            return " ".join(sorted({f.code for f in findings}))

        for key in REPORTED_DATA:
            if key in result.data:
                self.user_properties.append((key, str(result.data[key])))
        for name, findings in (
            ("rule_codes", result.findings),
            ("failed_rules", failing),
            ("warned_rules", warned),
            ("waived_rules", waived),
        ):
            if findings:
                self.user_properties.append((name, codes(findings)))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, SegmaskFailure):
            return excinfo.value.render()
        if isinstance(excinfo.value, SegmaskWarning):  # promoted by -W error::…
            return f"warning promoted to error: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"segmask: {self.description}"


STRICT_KEY = pytest.StashKey[bool]()
# CheckResult.data entries copied into the report's properties (the HTML summary reads them)
REPORTED_DATA = ("objects", "rows")
WAIVERS_KEY = pytest.StashKey[dict]()  # rule code -> reason
