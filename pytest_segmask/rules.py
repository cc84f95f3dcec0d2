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
    lines = ["| code | authority | severity | rule |", "| --- | --- | --- | --- |"]
    for rule in all_rules().values():
        lines.append(f"| `{rule.code}` | {rule.authority.value} | {rule.severity.value} | {rule.summary} |")
    return "\n".join(lines)


def rules_doc_markdown() -> str:
    """docs/rules.md's table: per rule, who requires it, its public source and, for practice
    rules, why."""
    lines = ["| code | authority | default severity | rule | public source | why (practice) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for rule in all_rules().values():
        lines.append(f"| `{rule.code}` | {rule.authority.value} | {rule.severity.value} | {rule.summary} "
                     f"| {rule.source} | {rule.reason or ''} |")
    return "\n".join(lines)


README_START = "<!-- rules:start -->"
README_END = "<!-- rules:end -->"
ITEMS_START = "<!-- items:start -->"
ITEMS_END = "<!-- items:end -->"


def _replace_block(text: str, start: str, end: str, block: str) -> str:
    if start not in text:
        return text
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{block}\n{end}{tail}"


def readme_with_rules(readme: str) -> str:
    """The README text with its rules and items blocks replaced by the generated tables."""
    from .plans import items_markdown

    readme = _replace_block(readme, README_START, README_END, rules_markdown())
    return _replace_block(readme, ITEMS_START, ITEMS_END, items_markdown())


def doc_with_rules(doc: str) -> str:
    return _replace_block(doc, README_START, README_END, rules_doc_markdown())


if __name__ == "__main__":
    import sys
    from pathlib import Path

    # Run as a script this module is __main__; the registry lives in the imported module.
    from pytest_segmask import rules

    if sys.argv[1:] == ["--write-readme"]:
        for name, render in (("README.md", rules.readme_with_rules), ("docs/rules.md", rules.doc_with_rules)):
            path = Path(name)
            path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(rules.rules_markdown())
