"""The f × f block test: every pixel of level k equals one of the pixels of its f × f source
block in level k−1 (edge pixels use the block they have). It is the test that catches averaged
or interpolated levels. It runs inside the channel's single pass (``label_pass``), comparing
each level-k tile while the level-(k+1) tiles it feeds are at hand; this module holds the
result and the pyramid-labels item's check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..findings import CheckResult, Severity
from ..rules import Authority, define_rule
from .mask_image import SCHEMA_SRC, ChannelNotInFile, MaskInfo
from .tiff_stream import MaskDecodeError

PYRAMID_LABELS = define_rule(
    "PYRAMID-LABELS", Severity.ERROR,
    "Every pixel of pyramid level k equals one of the pixels of its f × f block in level k−1 "
    "(no averaged or interpolated levels); every level decodes.",
    SCHEMA_SRC + " (\"pyramidal OME TIFF bitmasks\": each level is a label image); "
    "Bio-Formats pyramid layout (bfconvert -pyramid-scale)", authority=Authority.SCHEMA)

MAX_EXAMPLES = 5


@dataclass
class LevelResult:
    level: int  # the smaller level k (compared with k − 1)
    factor: int = 0  # mutation: equivalent — set when the level is compared; only compared levels print it
    tested: int = 0
    bad: int = 0
    first: list[tuple[int, int, int]] = field(default_factory=list)  # (z, y, x) at level k
    errors: list[str] = field(default_factory=list)  # tiles of this level that do not decode

    def add_examples(self, examples: list[tuple[int, int, int]]) -> None:
        self.first = sorted(self.first + examples)[:MAX_EXAMPLES]


@dataclass
class PyramidResult:
    """The block test of one channel over all its planes."""

    levels: list[LevelResult]  # one per level ≥ 1, in order
    planes: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def bad_pixels(self) -> int:
        return sum(lv.bad for lv in self.levels)


def check_pyramid_labels(info: MaskInfo, result, channel: str, workers: int = 2) -> CheckResult:  # mutation: equivalent — decoding threads only; the pass gives the same result with any number
    """``result``: the channel pass's PyramidResult, or the MaskDecodeError that stopped it.
    (A list of Planes — the old interface — is accepted and runs a pass over them.)"""
    if isinstance(result, list):
        from .label_pass import pyramid_of_planes

        try:
            result = pyramid_of_planes(result, workers=workers)
        except MaskDecodeError as exc:
            result = exc
    loc = info.location(channel=channel)
    fix_damaged = "re-export the mask; its pixel data is damaged or truncated"
    if isinstance(result, ChannelNotInFile):
        return CheckResult(skip=f"{result} (see the channel's labels item)")
    if isinstance(result, MaskDecodeError):
        return CheckResult(findings=[PYRAMID_LABELS.finding(str(result), loc, fix=fix_damaged)])
    if result is None or not result.levels:
        return CheckResult(skip=f"{info.display} has no pyramid levels to compare")
    out = CheckResult()
    out.notes.extend(result.notes)
    for lv in result.levels:
        k = lv.level
        for err in lv.errors[:MAX_EXAMPLES]:
            out.findings.append(PYRAMID_LABELS.finding(err, info.location(channel=channel, level=k), fix=fix_damaged))
        if len(lv.errors) > MAX_EXAMPLES:
            out.findings.append(PYRAMID_LABELS.finding(
                f"{info.display}: channel {channel!r} level {k}: {len(lv.errors) - MAX_EXAMPLES} more segment(s) "
                "do not decode", info.location(channel=channel, level=k), fix=fix_damaged))
        if lv.bad:
            out.data.setdefault("bad_pixels", {})[k] = [(y, x) for _, y, x in lv.first]
            where = ", ".join((f"(plane {z}, y {y}, x {x})" if result.planes > 1 else f"(y {y}, x {x})")
                              for z, y, x in lv.first)
            f = lv.factor
            z0, y0, x0 = lv.first[0]
            out.findings.append(PYRAMID_LABELS.finding(
                f"{info.display}: channel {channel!r} level {k}: {lv.bad} of {lv.tested} pixel(s) match none of "
                f"the {f * f} pixels of their {f}×{f} block in level {k - 1} (pyramid factor {f}); first at "
                f"{where} — the level was averaged or interpolated, which invents object ids",
                info.location(channel=channel, level=k, pixel=(y0, x0)),
                fix=f"build pyramid levels by nearest-neighbour subsampling (e.g. labels[::{f}, ::{f}]) "
                "or the block mode, never by averaging"))
        elif not lv.errors:
            out.notes.append(f"level {k}: all {lv.tested} pixels come from their {lv.factor}×{lv.factor} "
                             f"block in level {k - 1}")
    return out
