"""The mask image `<name>.segmentations.ome.tiff`: file-level rules (SPEC §3).

``open_mask`` reads metadata only (IFDs, OME-XML) and never raises; decoding pixels is
``channel_stats`` / ``pyramid_labels``' business.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..findings import CheckResult, Finding, Location, Severity, cut_list
from ..rules import Authority, define_rule

SRC = "SPEC §3; HuBMAP segmentation-mask schema"
TIFF_READ = define_rule("TIFF-READ", Severity.ERROR, "The mask is a TIFF or BigTIFF that opens; damaged IFDs are findings.", SRC + "; TIFF 6.0", authority=Authority.INGEST)
OME_XML = define_rule("OME-XML", Severity.ERROR, "OME-XML is embedded in the first IFD's ImageDescription and is well-formed UTF-8; tifffile reads the file as an OME series.", SRC + "; OME-TIFF specification", authority=Authority.INGEST)
OME_XSD = define_rule("OME-XSD", Severity.ERROR, "The OME-XML is valid against the OME 2016-06 XSD (validated offline with the XSD ome-types ships).", "SPEC §3; OME 2016-06 schema", authority=Authority.INGEST)
OME_SELF_CONTAINED = define_rule("OME-SELF-CONTAINED", Severity.ERROR, "The mask is self-contained: no BinaryOnly stub, no TiffData/UUID naming other files.", SRC + "; OME-TIFF specification", authority=Authority.SCHEMA)
OME_CONSISTENT = define_rule("OME-CONSISTENT", Severity.ERROR, "OME-XML agrees with the TIFF: Pixels Type = sample type, SizeX/SizeY = full-resolution IFD, SizeC = channel planes, SizeT = 1.", SRC, authority=Authority.SCHEMA)
OME_CHANNEL_NAMES = define_rule("OME-CHANNEL-NAMES", Severity.ERROR, "Every OME Channel has a non-empty Name, and names are unique (they name the objects tables).", SRC, authority=Authority.SCHEMA)
PIXEL_TYPE = define_rule("PIXEL-TYPE", Severity.ERROR, "Pixels are uint8, uint16 or uint32 (object ids ≥ 1, 0 = background).", SRC, authority=Authority.SCHEMA)
PHYSICAL_SIZE = define_rule("PHYSICAL-SIZE", Severity.ERROR, "PhysicalSizeX and PhysicalSizeY are present.", "SPEC §3; HuBMAP ingest-validation-tests", authority=Authority.INGEST)
PYRAMID = define_rule("PYRAMID", Severity.ERROR, "Pyramid levels are SubIFDs, largest first, each within 1 px of size/2^k, same dtype and channel count.", SRC + "; Bio-Formats 6 pyramid layout", authority=Authority.SCHEMA)
PYRAMID_MISSING = define_rule("PYRAMID-MISSING", Severity.ERROR, "A mask larger than 4096 px has a pyramid (warning when smaller).", SRC + " (\"pyramidal\")", authority=Authority.SCHEMA)
PYRAMID_LEGACY = define_rule("PYRAMID-LEGACY", Severity.WARNING, "Levels stored as separate series (pre-Bio-Formats-6 layout) instead of SubIFDs.", SRC, authority=Authority.PRACTICE)
TIFF_LAYOUT = define_rule("TIFF-LAYOUT", Severity.WARNING, "Tiles with power-of-two sizes, not strips.", "SPEC §3", authority=Authority.PRACTICE)
TIFF_COMPRESSION = define_rule("TIFF-COMPRESSION", Severity.WARNING, "No zstd compression (the portal's viewer cannot decode it).", "SPEC §3", authority=Authority.PRACTICE)

UNSIGNED = ("uint8", "uint16", "uint32")
OME_TYPES = {"float32": "float", "float64": "double", "bool": "bit"}  # numpy -> OME Pixels Type
MAX_SEGMENT_BYTES = 512 * 1024 * 1024  # one tile/strip larger than this is refused, not decoded
OME_NS = "{http://www.openmicroscopy.org/Schemas/OME/2016-06}"


@dataclass
class LevelInfo:
    height: int
    width: int
    dtype: str
    planes: int


@dataclass
class MaskInfo:
    """Cheap metadata of one mask image (no pixels decoded)."""

    path: Path
    display: str
    findings: list[Finding] = field(default_factory=list)  # TIFF-READ from opening
    log: list[str] = field(default_factory=list)  # tifffile's own warnings
    readable: bool = False
    bigtiff: bool = False
    description: str | None = None
    series_kind: str | None = None
    planes: int = 0  # top-level IFDs of the full-resolution image
    height: int = 0
    width: int = 0
    dtype: str | None = None
    tiled: bool = False
    tile: tuple[int, int] | None = None
    rows_per_strip: int | None = None
    compression: str | None = None
    levels: list[LevelInfo] = field(default_factory=list)  # SubIFD levels incl. level 0
    extra_series: list[tuple[int, int]] = field(default_factory=list)  # legacy layout
    ome_channel_names: list[str | None] = field(default_factory=list)
    ome: dict = field(default_factory=dict)  # Pixels attributes
    xml_error: str | None = None
    segment_error: str | None = None
    series_error: str | None = None

    @property
    def channel_names(self) -> list[str]:
        """Names for items: OME names where present, else channel-<index>."""
        count = self.planes if self.readable else 0
        names: list[str] = []
        for i in range(count):
            name = self.ome_channel_names[i] if i < len(self.ome_channel_names) else None
            name = name or f"channel-{i}"
            # duplicate names (an OME-CHANNEL-NAMES error) still need distinct items
            names.append(name if name not in names else f"{name}_{i}")
        return names

    def location(self, **kw) -> Location:
        return Location(file=self.display, **kw)


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def capture_tifffile_log():
    """Context manager collecting tifffile's logged warnings (it logs instead of raising)."""
    import contextlib

    @contextlib.contextmanager
    def cm():
        logger = logging.getLogger("tifffile")
        handler = _LogCapture()
        logger.addHandler(handler)
        propagate = logger.propagate
        logger.propagate = False
        try:
            yield handler.messages
        finally:
            logger.removeHandler(handler)
            logger.propagate = propagate

    return cm()


def open_tiff(path: Path):
    import tifffile

    return tifffile.TiffFile(path)


def open_mask(path: Path, display: str | None = None) -> MaskInfo:
    info = MaskInfo(path=path, display=display or path.name)
    fix = "re-export the mask as OME-TIFF (e.g. with bfconvert or tifffile)"
    with capture_tifffile_log() as log:
        try:
            with open_tiff(path) as tif:
                _read_metadata(info, tif)
            info.readable = True
        except Exception as exc:  # noqa: BLE001 - any parse error of a damaged file is a finding
            info.findings.append(TIFF_READ.finding(
                f"{info.display} cannot be read as TIFF: {type(exc).__name__}: {exc}",
                info.location(), fix=fix))
    info.log = list(log)
    return info


def _read_metadata(info: MaskInfo, tif) -> None:
    info.bigtiff = tif.is_bigtiff
    first = tif.pages.first
    info.description = first.description if first.description else None
    pages = list(tif.pages)  # top-level IFDs (tifffile guards against IFD loops)
    info.height, info.width = first.imagelength, first.imagewidth
    info.dtype = str(first.dtype) if first.dtype is not None else f"{first.sampleformat}:{first.bitspersample}"
    info.tiled = first.is_tiled
    info.tile = (first.tilelength, first.tilewidth) if first.is_tiled else None
    info.rows_per_strip = None if first.is_tiled else first.rowsperstrip
    info.compression = first.compression.name if hasattr(first.compression, "name") else str(first.compression)
    same = [p for p in pages if (p.imagelength, p.imagewidth) == (info.height, info.width)]
    info.planes = len(same)
    info.extra_series = [(p.imagelength, p.imagewidth) for p in pages if p not in same]
    if first.samplesperpixel != 1:
        info.findings.append(TIFF_READ.finding(
            f"{info.display}: {first.samplesperpixel} samples per pixel; a label mask stores one "
            "channel per plane (SamplesPerPixel = 1)", info.location(),
            fix="write one plane per channel (planar CYX)"))
    # SubIFD levels straight from the IFDs (not tifffile's OME series, which zero-fills)
    info.levels = [LevelInfo(info.height, info.width, info.dtype, info.planes)]
    subifds = [p.aspage().pages for p in same]
    depth = max((len(s) for s in subifds if s is not None), default=0)
    for k in range(depth):
        level_pages = [s[k] for s in subifds if s is not None and len(s) > k]
        first_level = level_pages[0]
        info.levels.append(LevelInfo(
            first_level.imagelength, first_level.imagewidth, str(first_level.dtype), len(level_pages)))
    try:
        info.series_kind = tif.series[0].kind
    except Exception as exc:  # noqa: BLE001
        info.series_error = f"tifffile cannot build an image series: {type(exc).__name__}: {exc}"
    for page in pages[:1]:
        segment = _largest_segment_bytes(page)
        if segment > MAX_SEGMENT_BYTES:
            info.segment_error = (
                f"one {'tile' if page.is_tiled else 'strip'} would decode to {segment:,} bytes "
                f"(declared {page.imagewidth} × {page.imagelength} px)"
            )
    _parse_ome(info)


def _largest_segment_bytes(page) -> int:
    itemsize = page.bitspersample // 8 or 1
    if page.is_tiled:
        return page.tilelength * page.tilewidth * itemsize
    return min(page.rowsperstrip, page.imagelength) * page.imagewidth * itemsize


def _xml_parser():
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@lru_cache(maxsize=1)
def ome_schema():
    """The OME 2016-06 XSD bundled with ome-types, parsed once per process (offline)."""
    from importlib.resources import files

    from lxml import etree

    class OfflineResolver(etree.Resolver):
        """The OME XSD imports xml.xsd from w3.org: answer locally, never over the network."""

        def resolve(self, url, pubid, context):
            if url == "http://www.w3.org/2001/xml.xsd":
                return self.resolve_string(XML_NAMESPACE_XSD, context)
            return None

    parser = _xml_parser()
    parser.resolvers.add(OfflineResolver())
    xsd = files("ome_types") / "ome-2016-06.xsd"
    with xsd.open("rb") as fh:
        return etree.XMLSchema(etree.parse(fh, parser))


# The attributes of the XML namespace, enough for the OME schema's import of xml.xsd.
XML_NAMESPACE_XSD = """<?xml version="1.0"?>
<xs:schema targetNamespace="http://www.w3.org/XML/1998/namespace"
           xmlns:xs="http://www.w3.org/2001/XMLSchema" xml:lang="en">
  <xs:attribute name="lang" type="xs:language"/>
  <xs:attribute name="space"><xs:simpleType><xs:restriction base="xs:NCName">
    <xs:enumeration value="default"/><xs:enumeration value="preserve"/>
  </xs:restriction></xs:simpleType></xs:attribute>
  <xs:attribute name="base" type="xs:anyURI"/>
  <xs:attribute name="id" type="xs:ID"/>
</xs:schema>"""


def _parse_ome(info: MaskInfo) -> None:
    from lxml import etree

    text = info.description
    if not text or "<OME" not in text:
        return
    try:
        root = etree.fromstring(text.encode("utf-8"), _xml_parser())
    except etree.XMLSyntaxError as exc:
        info.xml_error = str(exc)
        return
    pixels = root.find(f"{OME_NS}Image/{OME_NS}Pixels")
    if pixels is not None:
        info.ome = dict(pixels.attrib)
        info.ome_channel_names = [c.get("Name") for c in pixels.findall(f"{OME_NS}Channel")]


# --- file-level checks -----------------------------------------------------------------


def _unreadable(info: MaskInfo) -> CheckResult | None:
    if not info.readable:
        return CheckResult(skip=f"{info.display} could not be opened as TIFF (see its tiff item)")
    return None


def check_tiff(info: MaskInfo) -> CheckResult:
    result = CheckResult(findings=list(info.findings))
    if info.readable and info.segment_error:
        result.findings.append(TIFF_READ.finding(
            f"{info.display}: {info.segment_error}", info.location(),
            fix="re-export the mask with tiles (e.g. 512 × 512) and sane image sizes"))
    if info.readable and info.series_error:
        result.findings.append(TIFF_READ.finding(
            f"{info.display}: {info.series_error}", info.location(),
            fix="re-export the mask; its IFD structure is damaged"))
    # complaints about the OME series belong to the ome-xml item
    serious = [m for m in info.log if "OME series" not in m and any(
        word in m.lower() for word in ("fail", "error", "invalid", "corrupt", "incorrect", "circular", "truncat"))]
    if info.readable and serious:
        result.findings.append(TIFF_READ.finding(
            f"{info.display}: tifffile reported: {cut_list(serious, 3)}", info.location(),
            fix="re-export the mask; the reader had to guess or skip damaged structures"))
    if info.readable and not result.findings:
        result.notes.append(
            f"{'BigTIFF' if info.bigtiff else 'TIFF'}, {info.width} × {info.height} px, {info.planes} plane(s), "
            f"{info.dtype}, {'tiles ' + '×'.join(map(str, info.tile)) if info.tiled else 'strips'}, "
            f"{info.compression}, {len(info.levels)} level(s)")
    return result


def check_ome_xml(info: MaskInfo) -> CheckResult:
    if (skip := _unreadable(info)) is not None:
        return skip
    result = CheckResult()
    fix = "embed the OME-XML in the first IFD's ImageDescription (bfconvert or tifffile with ome=True)"
    if not info.description or "<OME" not in info.description:
        result.findings.append(OME_XML.finding(f"{info.display} has no OME-XML in its first ImageDescription", info.location(), fix=fix))
        return result
    if info.xml_error:
        result.findings.append(OME_XML.finding(f"{info.display}: the OME-XML is not well-formed XML: {info.xml_error}", info.location(), fix=fix))
        return result
    _check_self_contained(info, result)
    from lxml import etree

    doc = etree.fromstring(info.description.encode("utf-8"), _xml_parser())
    schema = ome_schema()
    if not schema.validate(doc):
        errors = [f"line {e.line}: {e.message}" for e in schema.error_log]
        result.findings.append(OME_XSD.finding(
            f"{info.display}: the OME-XML is not valid against the OME 2016-06 schema: {cut_list(errors, 3)}",
            info.location(), fix="fix the OME-XML elements named above (the writer produced a non-conforming document)"))
    if info.series_kind != "ome" and not info.series_error and not result.findings:
        result.findings.append(OME_XML.finding(
            f"{info.display}: tifffile does not read the file as an OME series (it fell back to "
            f"{info.series_kind!r}); " + (f"it reported: {cut_list(info.log, 3)}" if info.log else "the OME-XML does not describe the IFDs"),
            info.location(), fix=fix))
    if not result.findings:
        result.notes.append("OME-XML embedded, well-formed, valid against OME 2016-06")
    return result


def _check_self_contained(info: MaskInfo, result: CheckResult) -> None:
    from lxml import etree

    root = etree.fromstring(info.description.encode("utf-8"), _xml_parser())
    fix = "write a single self-contained OME-TIFF holding all planes and its metadata"
    binary_only = root.find(f"{OME_NS}BinaryOnly")
    if binary_only is not None:
        result.findings.append(OME_SELF_CONTAINED.finding(
            f"{info.display} holds only a BinaryOnly stub pointing at {binary_only.get('MetadataFile')!r}; "
            "the metadata is not in the file", info.location(), fix=fix))
    # a UUID naming this file (by the root's own UUID, or by file name) is fine: renamed
    # single files keep their old FileName but the same UUID
    own_uuid = (root.get("UUID") or "").strip()
    others = sorted({u.get("FileName") or (u.text or "?").strip() for u in root.iter(f"{OME_NS}UUID")
                     if (u.text or "").strip() != own_uuid and u.get("FileName") != info.path.name})
    if others:
        result.findings.append(OME_SELF_CONTAINED.finding(
            f"{info.display}: TiffData/UUID entries name other files ({cut_list(others)}); a mask must be one file",
            info.location(), fix=fix))


def check_ome_consistency(info: MaskInfo) -> CheckResult:
    if (skip := _unreadable(info)) is not None:
        return skip
    if not info.ome:
        return CheckResult(skip=f"{info.display} has no readable OME Pixels element (see its ome-xml item)")
    result = CheckResult()
    ome = info.ome
    problems = []
    if ome.get("Type") != OME_TYPES.get(info.dtype, info.dtype):
        problems.append(f"Pixels Type is {ome.get('Type')!r} but the TIFF stores {info.dtype}")
    if (ome.get("SizeX"), ome.get("SizeY")) != (str(info.width), str(info.height)):
        problems.append(f"SizeX × SizeY is {ome.get('SizeX')} × {ome.get('SizeY')} but the full-resolution IFD is {info.width} × {info.height}")
    if ome.get("SizeC") != str(info.planes):
        problems.append(f"SizeC is {ome.get('SizeC')} but the file has {info.planes} full-resolution plane(s)")
    if ome.get("SizeT", "1") != "1" or ome.get("SizeZ", "1") != "1":
        problems.append(f"SizeT = {ome.get('SizeT')}, SizeZ = {ome.get('SizeZ')}; a mask has one time point and one plane per channel")
    if len(info.ome_channel_names) != info.planes:
        problems.append(f"{len(info.ome_channel_names)} Channel element(s) for {info.planes} plane(s)")
    for p in problems:
        result.findings.append(OME_CONSISTENT.finding(f"{info.display}: {p}", info.location(),
                                                      fix="make the OME-XML describe the TIFF planes exactly"))
    names = info.ome_channel_names
    missing = [i for i, n in enumerate(names) if not n]
    if missing:
        result.findings.append(OME_CHANNEL_NAMES.finding(
            f"{info.display}: channel(s) {cut_list(missing)} have no Name", info.location(),
            fix="give every OME Channel a Name; objects tables are named after it"))
    dupes = sorted({n for n in names if n and names.count(n) > 1})
    if dupes:
        result.findings.append(OME_CHANNEL_NAMES.finding(
            f"{info.display}: channel name(s) used more than once: {cut_list(repr(d) for d in dupes)}",
            info.location(), fix="give every channel a unique Name"))
    if not result.findings:
        result.notes.append(f"channels: {', '.join(repr(n) for n in names)}")
    return result


def check_pixel_type(info: MaskInfo) -> CheckResult:
    if (skip := _unreadable(info)) is not None:
        return skip
    if info.dtype in UNSIGNED:
        return CheckResult(notes=[f"pixel type {info.dtype}"])
    return CheckResult(findings=[PIXEL_TYPE.finding(
        f"{info.display}: pixel type is {info.dtype}; label masks must be uint8, uint16 or uint32 "
        "(OME has no uint64; signed and float values cannot be object ids)", info.location(),
        fix="convert the labels to an unsigned integer type (uint32 for more than 65535 objects)")])


def check_physical_size(info: MaskInfo) -> CheckResult:
    if (skip := _unreadable(info)) is not None:
        return skip
    if not info.ome:
        return CheckResult(skip=f"{info.display} has no readable OME Pixels element (see its ome-xml item)")
    missing = [a for a in ("PhysicalSizeX", "PhysicalSizeY") if not info.ome.get(a)]
    if missing:
        return CheckResult(findings=[PHYSICAL_SIZE.finding(
            f"{info.display}: OME Pixels lacks {' and '.join(missing)}", info.location(),
            fix="record the pixel size in µm (PhysicalSizeX/Y) so centroids convert to micrometers")])
    return CheckResult(notes=[
        f"pixel size {info.ome['PhysicalSizeX']} × {info.ome['PhysicalSizeY']} "
        f"{info.ome.get('PhysicalSizeXUnit', 'µm')}"])


def check_pyramid(info: MaskInfo) -> CheckResult:
    if (skip := _unreadable(info)) is not None:
        return skip
    result = CheckResult()
    fix = "write the pyramid as SubIFDs, halving each level (bfconvert -pyramid-resolutions, or tifffile subifds=)"
    levels = info.levels
    if len(levels) == 1:
        if info.extra_series:
            result.findings.append(PYRAMID_LEGACY.finding(
                f"{info.display}: {len(info.extra_series)} reduced-size IFD(s) stored as separate series "
                f"({cut_list('×'.join(map(str, s[::-1])) for s in info.extra_series)}) instead of SubIFDs",
                info.location(), fix=fix))
        big = max(info.width, info.height) > 4096
        result.findings.append(PYRAMID_MISSING.finding(
            f"{info.display}: no pyramid (no SubIFD levels) for a {info.width} × {info.height} image"
            + ("; viewers cannot show images over 4096 px without one" if big else ""),
            info.location(), fix=fix, severity=None if big else Severity.WARNING))
        return result
    for k, level in enumerate(levels[1:], start=1):
        expect_h, expect_w = info.height / 2**k, info.width / 2**k
        ok_h = abs(level.height - expect_h) <= 1
        ok_w = abs(level.width - expect_w) <= 1
        if not (ok_h and ok_w):
            result.findings.append(PYRAMID.finding(
                f"{info.display}: level {k} is {level.width} × {level.height}, expected about "
                f"{expect_w:g} × {expect_h:g} (full size / 2^{k}, within 1 px)", info.location(level=k), fix=fix))
        if level.dtype != info.dtype or level.planes != info.planes:
            result.findings.append(PYRAMID.finding(
                f"{info.display}: level {k} has {level.planes} plane(s) of {level.dtype}, the full "
                f"resolution {info.planes} of {info.dtype}", info.location(level=k), fix=fix))
    if not result.findings:
        result.notes.append("levels: " + ", ".join(f"{lv.width}×{lv.height}" for lv in levels))
    return result


def check_layout(info: MaskInfo) -> CheckResult:
    if (skip := _unreadable(info)) is not None:
        return skip
    result = CheckResult()
    if not info.tiled:
        result.findings.append(TIFF_LAYOUT.finding(
            f"{info.display} is stored in strips ({info.rows_per_strip} row(s) per strip), not tiles",
            info.location(), fix="re-export with tiles (e.g. 512 × 512) for fast random access"))
    elif any(t & (t - 1) for t in info.tile):
        result.findings.append(TIFF_LAYOUT.finding(
            f"{info.display} uses {info.tile[1]} × {info.tile[0]} tiles, not powers of two",
            info.location(), fix="use power-of-two tiles such as 256 or 512"))
    if info.compression and "ZSTD" in info.compression.upper():
        result.findings.append(TIFF_COMPRESSION.finding(
            f"{info.display} is zstd-compressed; the HuBMAP portal's viewer cannot decode it",
            info.location(), fix="re-export with deflate (zlib) or LZW compression"))
    if not result.findings:
        result.notes.append(f"tiles {info.tile[1]} × {info.tile[0]}, {info.compression}")
    return result


FILE_CHECKS = {
    "tiff": ("readable TIFF", check_tiff),
    "ome-xml": ("embedded, valid, self-contained OME-XML", check_ome_xml),
    "ome-consistency": ("OME-XML agrees with the IFDs", check_ome_consistency),
    "pixel-type": ("unsigned integer pixels", check_pixel_type),
    "physical-size": ("PhysicalSizeX/Y present", check_physical_size),
    "pyramid": ("SubIFD pyramid", check_pyramid),
    "layout": ("tiles and compression", check_layout),
}


def numpy_dtype(info: MaskInfo) -> np.dtype | None:
    try:
        return np.dtype(info.dtype)
    except TypeError:
        return None


class MaskReader:
    """An open mask for decoding, shared by the items of one dataset; close() when done."""

    def __init__(self, info: MaskInfo) -> None:
        self.info = info
        self._tif = None

    def planes(self, channel_index: int, channel: str) -> list:
        """The channel's plane at every pyramid level, full resolution first."""
        from .tiff_stream import MaskDecodeError, Plane

        try:
            if self._tif is None:
                self._tif = open_tiff(self.info.path)
            page = self._tif.pages[channel_index].aspage()
            pages = [page] + list(page.pages or [])
        except Exception as exc:  # noqa: BLE001 - damaged IFDs found only when decoding
            raise MaskDecodeError(
                f"{self.info.display}: cannot read the IFDs of channel {channel!r}: {type(exc).__name__}: {exc}"
            ) from None
        # TiffFrame.aspage(): tifffile shares one keyframe among similar IFDs; decoding
        # needs the page's own tags
        return [Plane(page.aspage(), self.info.display, channel, k) for k, page in enumerate(pages)]

    def close(self) -> None:
        if self._tif is not None:
            self._tif.close()
            self._tif = None
