"""The rule catalogue: every finding has a stable code declared here.

Check modules declare their rules with ``define_rule`` at import time; the README's
rules table is tested against ``all_rules()`` so the two cannot drift.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from .findings import Authority, Finding, Location, Severity

# Modules that declare rules; ``all_rules`` imports them so the catalogue is complete.
CHECK_MODULES = (
    "pytest_segmask.dataset",
    "pytest_segmask.dirschema",
    "pytest_segmask.checks.mask_image",
    "pytest_segmask.checks.channel_stats",
    "pytest_segmask.checks.pyramid_labels",
    "pytest_segmask.checks.glb",
    "pytest_segmask.checks.adjacency",
    "pytest_segmask.checks.transformations",
    "pytest_segmask.checks.objects_table",
    "pytest_segmask.checks.segmentation_masks_csv",
)


@dataclass(frozen=True)
class Rule:
    """One rule: its code, default severity, authority (who requires it) and public source.

    ``reason`` says why a ``practice`` rule exists (the sources do not require it)."""

    code: str
    severity: Severity
    summary: str
    source: str
    authority: Authority
    reason: str | None = None

    def finding(
        self,
        message: str,
        location: Location | None = None,
        fix: str | None = None,
        severity: Severity | None = None,
        authority: Authority | None = None,
    ) -> Finding:
        """A finding of this rule; ``authority`` overrides the rule's where a file kind changes
        who requires it (HuBMAP's validators never see ``.tsv`` tables: ingest -> schema)."""
        return Finding(
            code=self.code,
            severity=severity or self.severity,
            message=message,
            location=location or Location(),
            fix=fix,
            authority=authority or self.authority,
        )


_REGISTRY: dict[str, Rule] = {}


def define_rule(code: str, severity: Severity, summary: str, source: str, *,
                authority: Authority, reason: str | None = None) -> Rule:
    existing = _REGISTRY.get(code)
    rule = Rule(code, severity, summary, source, authority, reason)
    if existing is not None and existing != rule:
        raise ValueError(f"rule {code} defined twice with different contents")
    _REGISTRY[code] = rule
    return rule


def all_rules() -> dict[str, Rule]:
    for name in CHECK_MODULES:
        importlib.import_module(name)
    return dict(sorted(_REGISTRY.items()))


def rules_markdown() -> str:
    """The README's rules table, generated from the catalogue."""
    lines = ["| code | authority | severity | rule | source |", "| --- | --- | --- | --- | --- |"]
    for rule in all_rules().values():
        summary = rule.summary + (f" *Why:* {rule.reason}" if rule.reason else "")
        lines.append(f"| `{rule.code}` | {rule.authority.value} | {rule.severity.value} | {summary} | {rule.source} |")
    return "\n".join(lines)


README_START = "<!-- rules:start -->"
README_END = "<!-- rules:end -->"


def readme_with_rules(readme: str) -> str:
    """The README text with its rules block replaced by the generated table."""
    head, _, rest = readme.partition(README_START)
    _, _, tail = rest.partition(README_END)
    return f"{head}{README_START}\n{rules_markdown()}\n{README_END}{tail}"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    # Run as a script this module is __main__; the registry lives in the imported module.
    from pytest_segmask import rules

    if sys.argv[1:] == ["--write-readme"]:
        path = Path("README.md")
        path.write_text(rules.readme_with_rules(path.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(rules.rules_markdown())
