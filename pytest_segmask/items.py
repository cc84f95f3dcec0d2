"""The pytest items: run one planned check, map its findings to an outcome under the profile."""

from __future__ import annotations

import json
import re
import warnings

import pytest

from .findings import CheckResult, Finding, Profile, Severity, shorten

RESULT_KEY = pytest.StashKey[CheckResult]()
PROFILE_KEY = pytest.StashKey[Profile]()
WAIVERS_KEY = pytest.StashKey[dict]()  # rule code -> reason
# CheckResult.data entries copied into the report's properties (the HTML summary reads them)
REPORTED_DATA = ("objects", "rows")
REPORTED_JSON = ("bad_pixel_boxes",)  # JSON-encoded data (the HTML thumbnails mark them)
MAX_RECORDED = 50  # findings per item kept in the report's properties

# -k's alphabet (letters, digits, _:+-./\\): anything else in a name becomes "_".
_UNSAFE = re.compile(r"[^A-Za-z0-9_:+\-./\\]")


def safe_name(name: str) -> str:
    return _UNSAFE.sub("_", name) or "_"


class SegmaskWarning(UserWarning):
    """A finding that does not fail under the profile (promote with -W error::pytest_segmask.SegmaskWarning)."""

    __module__ = "pytest_segmask"


class SegmaskFailure(Exception):
    """Raised by an item whose check found what the profile fails."""

    def __init__(self, failing: list[Finding], others: list[Finding], profile: Profile) -> None:
        super().__init__(failing[0].format() if failing else "")
        self.findings = failing + others
        self.failing = failing
        self.profile = profile

    def render(self) -> str:
        # What fails first: the first line is what -rf and junit show.
        blocks = [f.format() for f in self.findings]
        if len(self.findings) > 1:
            first = self.findings[0]
            blocks.insert(
                0,
                f"{first.code}: {first.message.splitlines()[0]} "
                f"(+{len(self.findings) - 1} more finding(s) below)",
            )
        if self.profile is Profile.STRICT and not any(f.severity is Severity.ERROR for f in self.failing):
            blocks.append("(warnings fail because the profile is strict: --segmask-strict is set)")
        return "\n".join(blocks)


def finding_record(finding: Finding, outcome: str) -> dict:
    """One finding as plain data for reports (junit property, HTML): values shortened."""
    return {
        "code": finding.code, "severity": finding.severity.value, "authority": finding.authority.value,
        "outcome": outcome, "message": shorten(finding.message, 1000), "where": shorten(str(finding.location), 300),
        "fix": shorten(finding.fix or "", 300), "follows_from": finding.follows_from or "",
    }


def waivers_text(config, finding: Finding) -> str:
    return config.stash.get(WAIVERS_KEY, {}).get(finding.code, "")


class SegmaskItem(pytest.Item):
    """One planned check: ``model.run`` resolves its inputs and calls the pure check."""

    def __init__(self, *, model, node_plan, plan, node, description: str,
                 properties: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.node_plan = node_plan
        self.plan = plan
        self.node = node
        self.description = description
        # junit <property> elements; pytest copies them onto the report (survives xdist)
        self.user_properties.extend((properties or {}).items())

    def runtest(self) -> None:
        result = self.model.run(self.node_plan, self.plan, self.node)
        self.stash[RESULT_KEY] = result
        waivers = self.config.stash.get(WAIVERS_KEY, {})
        profile = self.config.stash.get(PROFILE_KEY, Profile.HUBMAP)
        waived = [f for f in result.findings if f.code in waivers]
        kept = [f for f in result.findings if f.code not in waivers]
        failing = [f for f in kept if profile.fails(f)]
        warned = [f for f in kept if not profile.fails(f)]
        self._record(result, failing, warned, waived)
        self.user_properties.append(("segmask_outcome", "failed" if failing else "warned" if warned else "passed"))
        if result.skip:
            pytest.skip(result.skip)
        if failing:
            raise SegmaskFailure(failing, warned, profile)
        for finding in warned:
            # ignored by default (the terminal summary shows warned items as findings);
            # -W error::pytest_segmask.SegmaskWarning promotes it to a failure
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
        if result.findings:
            self.user_properties.append(
                ("rule_authority", " ".join(sorted({f"{f.code}:{f.authority.value}" for f in result.findings}))))
            outcome = {id(f): "fail" for f in failing} | {id(f): "warn" for f in warned} | {id(f): "waived" for f in waived}
            self.user_properties.append(("findings", json.dumps(
                [finding_record(f, outcome.get(id(f), "warn")) for f in result.findings[:MAX_RECORDED]])))
        notes = list(result.notes)
        notes += [f"waived {f.code} ({waivers_text(self.config, f)}): {f.message}" for f in waived]
        if notes:
            self.user_properties.append(("notes", json.dumps([shorten(n, 500) for n in notes])))
        for key in REPORTED_JSON:
            if key in result.data:
                self.user_properties.append((key, json.dumps(result.data[key])))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, SegmaskFailure):
            return excinfo.value.render()
        if isinstance(excinfo.value, SegmaskWarning):  # promoted by -W error::…
            return f"warning promoted to error: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"segmask: {self.description}"
