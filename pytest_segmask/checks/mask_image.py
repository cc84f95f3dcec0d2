"""The mask image `<name>.segmentations.ome.tiff`: file-level rules and metadata.

``open_mask`` reads metadata only (IFDs, OME-XML) and never raises; every IFD and SubIFD is
checked against the named limits of ``tiff_stream`` before anything is allocated from its
declared sizes. Planes are mapped to (channel, z) through the OME ``DimensionOrder`` and
``TiffData`` elements. Decoding pixels is ``label_pass``' business (``MaskReader.channel_pass``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..findings import CheckResult, Finding, Location, Severity, cut_list
from ..rules import Authority, define_rule
from .tiff_stream import (
    MAX_IFDS, MAX_SUBIFDS, MaskDecodeError, limit_text, segment_layout,
)

SCHEMA_SRC = ("HuBMAP Segmentation Mask directory schema (\"multi-channel pyramidal OME TIFF bitmasks … "
              "unique integer pixel value starting at 1, with 0 meaning background\")")
SRC = SCHEMA_SRC
OME_TIFF_SPEC = "OME-TIFF specification (docs.openmicroscopy.org/ome-model, OME-TIFF › Specification)"
IVT = "ingest-validation-tests"
TIFF_READ = define_rule("TIFF-READ", Severity.ERROR, "The mask is a TIFF or BigTIFF that opens; damaged IFDs, and IFDs beyond the reader's named limits, are findings.", f"{IVT} tiff_validator.py; TIFF 6.0 specification", authority=Authority.INGEST)
OME_XML = define_rule("OME-XML", Severity.ERROR, "OME-XML is embedded in the first IFD's ImageDescription and is well-formed UTF-8; tifffile reads the file as an OME series.", f"{IVT} ome_tiff_validator.py; {OME_TIFF_SPEC}", authority=Authority.INGEST)
OME_XSD = define_rule("OME-XSD", Severity.ERROR, "The OME-XML is valid against the OME 2016-06 XSD (validated offline with the XSD ome-types ships).", f"{IVT} ome_tiff_validator.py; OME 2016-06 schema", authority=Authority.INGEST)
OME_SELF_CONTAINED = define_rule("OME-SELF-CONTAINED", Severity.ERROR, "The mask is self-contained: no BinaryOnly stub, no TiffData/UUID naming other files.", f"{SCHEMA_SRC}; {OME_TIFF_SPEC}", authority=Authority.SCHEMA)
OME_CONSISTENT = define_rule("OME-CONSISTENT", Severity.ERROR, "OME-XML agrees with the TIFF: Pixels Type = sample type, SizeX/SizeY = full-resolution IFD, SizeC × SizeZ = planes (mapped by DimensionOrder/TiffData), SizeT = 1.", f"{SCHEMA_SRC}; {OME_TIFF_SPEC}", authority=Authority.SCHEMA)
OME_CHANNEL_NAMES = define_rule("OME-CHANNEL-NAMES", Severity.ERROR, "Every OME Channel has a non-empty Name, and names are unique (they name the objects tables).", f"{SCHEMA_SRC} (\"Mask name … MUST MATCH A CHANNEL IN THE OME TIFF FILE\")", authority=Authority.SCHEMA)
PIXEL_TYPE = define_rule("PIXEL-TYPE", Severity.ERROR, "Pixels are integers: uint8/16/32, or int8/16/32 without negative values (float and bit are not labels).", f"{SCHEMA_SRC}; OME 2016-06 PixelType (no uint64)", authority=Authority.SCHEMA)
PIXEL_SIGNED = define_rule("PIXEL-SIGNED", Severity.WARNING, "A signed integer container (int8/16/32) holds labels; unsigned types are the usual choice.", SCHEMA_SRC, authority=Authority.PRACTICE, reason="signed containers halve the id range and invite negative values; many viewers assume unsigned labels")
PHYSICAL_SIZE = define_rule("PHYSICAL-SIZE", Severity.ERROR, "PhysicalSizeX and PhysicalSizeY are present and positive.", f"{IVT} ome_tiff_field_validator.py (PhysicalSizeX/Y required; PositiveFloat in the OME 2016-06 XSD)", authority=Authority.INGEST)
PYRAMID = define_rule("PYRAMID", Severity.ERROR, "Pyramid levels are SubIFDs, largest first; one integer factor f ≥ 2 between all levels; level k within 1 px of size/f^k; same dtype and plane count.", f"{SCHEMA_SRC}; Bio-Formats 6 pyramid layout (bfconvert -pyramid-scale)", authority=Authority.SCHEMA)
PYRAMID_MISSING = define_rule("PYRAMID-MISSING", Severity.ERROR, "A mask larger than 4096 px has a pyramid (warning when smaller).", SCHEMA_SRC + " (\"pyramidal\")", authority=Authority.SCHEMA)
PYRAMID_LEGACY = define_rule("PYRAMID-LEGACY", Severity.WARNING, "Levels stored as separate series (pre-Bio-Formats-6 layout) instead of SubIFDs.", "Bio-Formats documentation: OME-TIFF pyramids (SubIFDs since Bio-Formats 6)", authority=Authority.PRACTICE, reason="current viewers read SubIFD pyramids; separate-series levels look like extra images")
TIFF_LAYOUT = define_rule("TIFF-LAYOUT", Severity.WARNING, "Tiles with power-of-two sizes, not strips.", "Bio-Formats / OME-TIFF writing recommendations (tiled pyramids)", authority=Authority.PRACTICE, reason="viewers fetch tiles; strips force decoding whole rows")
TIFF_COMPRESSION = define_rule("TIFF-COMPRESSION", Severity.WARNING, "No zstd compression (the portal's viewer cannot decode it).", "Viv/Avivator supported codecs (HuBMAP portal viewer)", authority=Authority.PRACTICE, reason="the portal's viewer cannot decode zstd")
SOURCE_IMAGE = define_rule("SOURCE-IMAGE", Severity.ERROR, "The mask's SizeX/Y/Z, PhysicalSizeX/Y/Z and their units equal the source (parent) image's.", f"{IVT} segmentation_mask_imagesize_validation.py", authority=Authority.INGEST)

UNSIGNED = ("uint8", "uint16", "uint32")
SIGNED = ("int8", "int16", "int32")
LABEL_TYPES = UNSIGNED + SIGNED
OME_TYPES = {"float32": "float", "float64": "double", "bool": "bit"}  # numpy -> OME Pixels Type
OME_NS = "{http://www.openmicroscopy.org/Schemas/OME/2016-06}"
MAX_OME_SIZE = 65_536  # OME SizeC, SizeZ or SizeT
MAX_OME_PLANES = MAX_IFDS  # SizeC × SizeZ × SizeT
DIM_LIMITS = {"MAX_OME_SIZE": MAX_OME_SIZE, "MAX_OME_PLANES": MAX_OME_PLANES}
from .tiff_stream import MAX_SEGMENT_BYTES  # noqa: E402,F401  (re-exported)


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
    planes: int = 0  # top-level IFDs of full-resolution size
    ifd_count: int = 0  # top-level IFDs
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
    # plane mapping: plane_map[c][z] = top-level IFD index, or None when not in this file
    plane_map: list[list[int | None]] = field(default_factory=list)
    size_z: int = 1
    ome_problem: str | None = None  # why the OME metadata cannot map planes (None: usable)
    other_files: dict = field(default_factory=dict)  # (c, z) -> file name holding that plane
    full_ifds: list[int] = field(default_factory=list)  # top-level IFD indices of full size
    _names: list[str] | None = None

    @property
    def channel_names(self) -> list[str]:
        """One name per channel (OME Channel Name, else channel-<index>); computed once."""
        if self._names is None:
            count = len(self.plane_map) if self.readable else 0
            names: list[str] = []
            seen: set[str] = set()
            for i in range(count):
                name = self.ome_channel_names[i] if i < len(self.ome_channel_names) else None
                name = name or f"channel-{i}"
                # duplicate names (an OME-CHANNEL-NAMES error) still need distinct items
                if name in seen:
                    name = f"{name}_{i}"
                seen.add(name)
                names.append(name)
            self._names = names
        return self._names

    @property
    def signed(self) -> bool:
        return self.dtype in SIGNED

    def location(self, **kw) -> Location:
        return Location(file=self.display, **kw)

    def physical_size_um(self) -> tuple[float | None, float | None, float | None]:
        """PhysicalSizeX/Y/Z in micrometres (None where absent, not a positive number, or in an
        unknown unit)."""
        from ..units import micrometres_per

        out = []
        for axis in "XYZ":
            value, unit = self.ome.get(f"PhysicalSize{axis}"), self.ome.get(f"PhysicalSize{axis}Unit")
            try:
                number = float(value) if value is not None else None
            except ValueError:
                number = None
            factor = micrometres_per(unit)
            out.append(number * factor if number is not None and number > 0 and factor is not None else None)
        return tuple(out)

    def channels_problem(self) -> tuple[str, str] | None:
        """(reason in words, file item to see) when channel items cannot run, else None."""
        if not self.readable:
            return f"{self.display} could not be opened as TIFF", "tiff"
        if self.segment_error:
            return f"the pixel layout cannot be decoded safely: {self.segment_error}", "tiff"
        if self.dtype not in LABEL_TYPES:
            return f"pixel type {self.dtype} is not a label type", "pixel-type"
        if self.ome_problem:
            return f"the OME metadata cannot be used to find the channels' planes: {self.ome_problem}", "ome-xml"
        return None

    def channel_problem(self, index: int) -> str | None:
        """Why one channel has no plane to check in this file (multi-file members), else None."""
        if index >= len(self.plane_map):
            return f"{self.display} has no channel {index}"
        zs = self.plane_map[index]
        if all(ifd is None for ifd in zs):
            elsewhere = sorted({f for (c, _), f in self.other_files.items() if c == index})
            where = f" (the OME-XML places it in {cut_list(elsewhere)})" if elsewhere else ""
            return f"channel {self.channel_names[index]!r} has no plane in {self.display}{where}"
        return None


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.messages) < 100:
            import re

            # words, not reprs: drop tifffile's "<tifffile.TiffPages @8>" object prefixes and
            # "raised ValueError(...)"-style exception quotes
            text = re.sub(r"<tifffile\.\w+ @\d+>\s*", "", record.getMessage()[:500])
            text = re.sub(r"\braised (\w+)\((.*)\)$", r"(\2)", text)
            self.messages.append(text)


def capture_tifffile_log():
    """Context manager collecting tifffile's logged warnings (it logs instead of raising)."""
    import contextlib

    @contextlib.contextmanager
    def cm():
        logger = logging.getLogger("tifffile")
        handler = _LogCapture()
        logger.addHandler(handler)
        propagate = logger.propagate
        logger.propagate = False  # mutation: equivalent — keeps tifffile's warnings out of other handlers; the captured list is the same
        try:
            yield handler.messages
        finally:
            logger.removeHandler(handler)
            logger.propagate = propagate

    return cm()


def open_tiff(path: Path):
    import tifffile

    return tifffile.TiffFile(path)


def _open_words(exc: BaseException) -> str:
    """What is wrong, in words, for an exception raised while opening a TIFF."""
    text = str(exc)
    low = text.lower()
    if isinstance(exc, FileNotFoundError):
        return "the file does not exist"
    if isinstance(exc, PermissionError):
        return "the file cannot be read (permission denied)"
    if isinstance(exc, IsADirectoryError):
        return "it is a directory"
    if "not a tiff" in low or "invalid tiff" in low or "byteorder" in low:
        return "it does not start with a TIFF or BigTIFF header"
    if "circular" in low:
        return "its IFD chain loops back on itself (circular reference)"
    if "keyframe" in low:
        return "its IFDs are inconsistent with each other"
    if isinstance(exc, (EOFError,)) or "eof" in low or "truncat" in low or "out of range" in low:
        return "it ends before the structures it declares (truncated or damaged IFD)"
    if isinstance(exc, MemoryError):
        return "its declared structures need more memory than is available"
    return f"its IFD structure is damaged (the TIFF reader stopped at: {text[:100] or 'an unnamed error'})"


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
                f"{info.display} cannot be read as TIFF: {_open_words(exc)}", info.location(), fix=fix))
    info.log = list(log)
    if info.readable:
        _map_planes(info)
    return info


def _read_metadata(info: MaskInfo, tif) -> None:
    info.bigtiff = tif.is_bigtiff
    first = tif.pages.first
    info.description = first.description if first.description else None
    _parse_ome(info)
    # top-level IFDs, counted against MAX_IFDS before anything is kept per IFD
    count = len(tif.pages)  # walks the IFD chain only (tifffile stops at loops and logs them)
    if count > MAX_IFDS:
        info.segment_error = f"the file has {count:,} IFDs, beyond {limit_text('MAX_IFDS')}"
    info.ifd_count = min(count, MAX_IFDS)
    tif.pages.cache = False  # one pass over the IFDs, nothing kept per IFD but its size  # mutation: equivalent — memory only: a cached page is the same page
    pages: dict[int, object] = {}
    same, info.extra_series = [], []
    size0 = (first.imagelength, first.imagewidth)
    for index in range(info.ifd_count):
        page = first if index == 0 else tif.pages[index]
        size = (page.imagelength, page.imagewidth)
        if size == size0:
            same.append(index)
            pages[index] = page
        elif len(info.extra_series) < 1000:
            info.extra_series.append(size)
    info.full_ifds = same
    info.planes = len(same)
    try:
        layout0 = segment_layout(first)
    except MaskDecodeError as exc:
        info.segment_error = info.segment_error or f"IFD 0: {exc}"
        layout0 = None
    if layout0:
        info.height, info.width = layout0.h, layout0.w
    else:  # keep plain declared sizes for the messages of other items
        info.height, info.width = max(0, _safe_int(first.imagelength)), max(0, _safe_int(first.imagewidth))
    info.dtype = str(first.dtype) if first.dtype is not None else f"{first.sampleformat}:{first.bitspersample}"
    info.tiled = bool(layout0.tiled) if layout0 else ("TileWidth" in first.tags)
    info.tile = (layout0.sh, layout0.sw) if layout0 and info.tiled else None
    info.rows_per_strip = layout0.sh if layout0 and not info.tiled else None
    info.compression = first.compression.name if hasattr(first.compression, "name") else str(first.compression)
    if first.samplesperpixel != 1:
        info.findings.append(TIFF_READ.finding(
            f"{info.display}: {first.samplesperpixel} samples per pixel; a label mask stores one "
            "channel per plane (SamplesPerPixel = 1)", info.location(),
            fix="write one plane per channel (planar CYX)"))
    # every IFD and SubIFD against the limits (the segment-size limit included)
    levels: list[list] = []
    for index in same:
        page = pages[index]
        if index and info.segment_error is None:
            try:
                segment_layout(page)
            except MaskDecodeError as exc:
                info.segment_error = f"IFD {index}: {exc}"
        page = page.aspage() if hasattr(page, "aspage") else page  # mutation: equivalent — tifffile hands out pages here (frames are off); a page's aspage() is itself
        subifds = getattr(page, "subifds", None) or ()
        sub = page.pages if subifds else None
        n_sub = len(subifds)
        if n_sub > MAX_SUBIFDS:
            info.segment_error = info.segment_error or (
                f"IFD {index} lists {n_sub} SubIFDs, beyond {limit_text('MAX_SUBIFDS')}")
            continue
        chain = list(sub) if sub is not None else []
        for k, subpage in enumerate(chain, start=1):
            if info.segment_error is None:
                try:
                    segment_layout(subpage)
                except MaskDecodeError as exc:
                    info.segment_error = f"IFD {index} SubIFD level {k}: {exc}"
            while len(levels) < k:
                levels.append([])
            levels[k - 1].append(subpage)
    info.levels = [LevelInfo(info.height, info.width, info.dtype, info.planes)]
    for level_pages in levels:
        lp = level_pages[0]
        info.levels.append(LevelInfo(_safe_int(lp.imagelength), _safe_int(lp.imagewidth), str(lp.dtype), len(level_pages)))
    too_big = _ome_too_big(info)
    if too_big:
        info.series_error = f"tifffile's image series not built: {too_big}"
    elif not info.description or "<OME" not in info.description:
        info.series_kind = "not OME"  # tifffile's generic series is quadratic in the IFD count
    else:
        try:
            info.series_kind = tif.series[0].kind
        except Exception as exc:  # noqa: BLE001
            info.series_error = f"tifffile cannot build an image series: {_open_words(exc)}"


def _safe_int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _ome_int(info: MaskInfo, attr: str, default: int | None = 1) -> int | None:
    value = info.ome.get(attr)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return None


def _ome_too_big(info: MaskInfo) -> str | None:
    """A limit the OME Size attributes exceed (checked before anything uses them), else None."""
    if not info.ome:
        return None
    sizes = {a: _ome_int(info, a) for a in ("SizeC", "SizeZ", "SizeT")}
    for attr, value in sizes.items():
        if value is not None and value > MAX_OME_SIZE:
            return f"OME {attr}={info.ome.get(attr)[:20]!r} is beyond the limit MAX_OME_SIZE = {MAX_OME_SIZE:,}"
    if all(v is not None for v in sizes.values()):
        total = sizes["SizeC"] * sizes["SizeZ"] * sizes["SizeT"]
        if total > MAX_OME_PLANES:
            return f"OME SizeC × SizeZ × SizeT = {total:,} planes, beyond the limit MAX_OME_PLANES = {MAX_OME_PLANES:,}"
    return None


def _map_planes(info: MaskInfo) -> None:
    """plane_map[c][z] -> IFD, from DimensionOrder and TiffData (or one channel per IFD when the
    OME metadata is missing or unusable; ``ome_problem`` says why)."""
    fallback = [[ifd] for ifd in info.full_ifds]
    problem = _ome_problem(info)
    if problem:
        info.ome_problem = problem
        info.plane_map = fallback
        return
    from lxml import etree

    size_c, size_z, size_t = (_ome_int(info, a) for a in ("SizeC", "SizeZ", "SizeT"))
    order = info.ome.get("DimensionOrder", "XYZCT")
    root = etree.fromstring(info.description.encode("utf-8"), _xml_parser())
    own_uuid = (root.get("UUID") or "").strip()
    pixels = root.find(f"{OME_NS}Image/{OME_NS}Pixels")
    dims = {"Z": size_z, "C": size_c, "T": size_t}
    axes = [a for a in order[2:] if a in dims]
    if sorted(axes) != ["C", "T", "Z"]:
        info.ome_problem = f"DimensionOrder {order[:20]!r} is not a permutation of XY + ZCT"
        info.plane_map = fallback
        return
    total = size_c * size_z * size_t

    def czt(index: int) -> tuple[int, int, int]:
        out = {}
        for a in axes:
            index, out[a] = divmod(index, dims[a])
        return out["C"], out["Z"], out["T"]

    def plane_index(c: int, z: int, t: int) -> int:
        idx, mult = 0, 1
        for a in axes:
            idx += {"C": c, "Z": z, "T": t}[a] * mult
            mult *= dims[a]
        return idx

    mapping: dict[int, int | None] = {}
    tiffdata = pixels.findall(f"{OME_NS}TiffData")
    if not tiffdata:
        for p in range(min(total, len(info.full_ifds))):
            mapping[p] = info.full_ifds[p]
    for td in tiffdata:
        attrs = td.attrib
        try:
            ifd = int(attrs.get("IFD", 0))
            first = plane_index(int(attrs.get("FirstC", 0)), int(attrs.get("FirstZ", 0)), int(attrs.get("FirstT", 0)))
            explicit = any(a in attrs for a in ("IFD", "FirstC", "FirstZ", "FirstT"))
            count = int(attrs["PlaneCount"]) if "PlaneCount" in attrs else (1 if explicit else total - first)
        except ValueError:
            info.ome_problem = "a TiffData element has a non-integer IFD/First*/PlaneCount"
            info.plane_map = fallback
            return
        if ifd < 0 or count < 0 or first >= total or count > MAX_OME_PLANES:
            info.ome_problem = f"a TiffData element points outside the image (IFD {ifd}, {count} plane(s))"
            info.plane_map = fallback
            return
        uuid = td.find(f"{OME_NS}UUID")
        here = uuid is None or (uuid.text or "").strip() == own_uuid or uuid.get("FileName") == info.path.name
        for k in range(min(count, total - first)):
            if here:
                mapping[first + k] = ifd + k if ifd + k < info.ifd_count else None
            else:
                c, z, _ = czt(first + k)
                info.other_files[(c, z)] = uuid.get("FileName") or (uuid.text or "?").strip()
                mapping.setdefault(first + k, None)
    info.size_z = size_z
    plane_map = []
    for c in range(size_c):
        plane_map.append([mapping.get(plane_index(c, z, 0)) for z in range(size_z)])
    if all(ifd is None for zs in plane_map for ifd in zs) and not info.other_files:
        info.ome_problem = "no plane of the image is mapped to an IFD of this file"
        info.plane_map = fallback
        return
    info.plane_map = plane_map


def _ome_problem(info: MaskInfo) -> str | None:
    if not info.description or "<OME" not in info.description:
        return "the file has no OME-XML"
    if info.xml_error:
        return "the OME-XML is not well-formed"
    if "BinaryOnly" in info.description and not info.ome:
        return "the OME-XML is a BinaryOnly stub pointing at another file"
    if not info.ome:
        return "the OME-XML has no Image/Pixels element"
    too_big = _ome_too_big(info)
    if too_big:
        return too_big
    for attr in ("SizeC", "SizeZ", "SizeT"):
        value = _ome_int(info, attr)
        if value is None or value < 1:
            return f"Pixels {attr}={str(info.ome.get(attr))[:20]!r} is not a positive integer"
    return None


def _xml_parser():
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,  # mutation: equivalent — defence in depth: with entities unresolved and no DTD loaded nothing is fetched either way
        huge_tree=False,
    )


@lru_cache(maxsize=1)  # mutation: equivalent — cache size only (one schema)
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
    # the package's folder without importing it: ome_types imports its pydantic model (~0.5 s)
    import importlib.util

    spec = importlib.util.find_spec("ome_types")
    folders = list(spec.submodule_search_locations or []) if spec else []  # mutation: equivalent — an empty list only takes the files() fallback below: the same XSD
    xsd = Path(folders[0]) / "ome-2016-06.xsd" if folders else files("ome_types") / "ome-2016-06.xsd"  # mutation: equivalent — both name the same XSD of the installed ome_types; the second only imports it first
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
            fix="re-export the mask with tiles (e.g. 512 × 512), sane image sizes and undamaged tags"))
    if info.readable and info.series_error and "OME " not in info.series_error:
        result.findings.append(TIFF_READ.finding(
            f"{info.display}: {info.series_error}", info.location(),
            fix="re-export the mask; its IFD structure is damaged"))
    # complaints about the OME series belong to the ome-xml item
    serious = [m for m in info.log if "OME series" not in m and any(
        word in m.lower() for word in ("fail", "error", "invalid", "corrupt", "incorrect", "circular", "truncat"))]
    if info.readable and serious:
        result.findings.append(TIFF_READ.finding(
            f"{info.display}: tifffile reported: {cut_list((m[:200] for m in serious), 3)}", info.location(),
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
    too_big = _ome_too_big(info)
    if too_big:
        result.findings.append(OME_XML.finding(
            f"{info.display}: {too_big}", info.location(), fix="write the OME Size attributes the file really has"))
        return result
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
    if info.ome_problem and not result.findings:
        result.findings.append(OME_XML.finding(
            f"{info.display}: {info.ome_problem}; the planes cannot be assigned to channels",
            info.location(), fix="describe every plane with Pixels DimensionOrder, SizeC/Z/T and TiffData"))
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
    if info.ome_problem:
        return CheckResult(skip=f"{info.display}: {info.ome_problem} (see its ome-xml item)")
    result = CheckResult()
    ome = info.ome
    problems = []
    size_c, size_z, size_t = (_ome_int(info, a) for a in ("SizeC", "SizeZ", "SizeT"))
    if ome.get("Type") != OME_TYPES.get(info.dtype, info.dtype):
        problems.append(f"Pixels Type is {str(ome.get('Type'))[:20]!r} but the TIFF stores {info.dtype}")
    if (ome.get("SizeX"), ome.get("SizeY")) != (str(info.width), str(info.height)):
        problems.append(f"SizeX × SizeY is {str(ome.get('SizeX'))[:20]} × {str(ome.get('SizeY'))[:20]} but the "
                        f"full-resolution IFD is {info.width} × {info.height}")
    here = sum(ifd is not None for zs in info.plane_map for ifd in zs)
    elsewhere = len(info.other_files)
    if size_c * size_z != here + elsewhere:
        problems.append(f"SizeC × SizeZ = {size_c} × {size_z} = {size_c * size_z} planes but {here} are mapped to "
                        f"IFDs of this file" + (f" and {elsewhere} to other files" if elsewhere else ""))
    if info.planes != here and not elsewhere:
        problems.append(f"the file has {info.planes} full-resolution IFD(s) but the OME-XML maps {here}")
    if size_t != 1:
        problems.append(f"SizeT = {size_t}; a mask has one time point")
    if len(info.ome_channel_names) != size_c:
        problems.append(f"{len(info.ome_channel_names)} Channel element(s) for SizeC = {size_c}")
    for p in problems:
        result.findings.append(OME_CONSISTENT.finding(f"{info.display}: {p}", info.location(),
                                                      fix="make the OME-XML describe the TIFF planes exactly"))
    names = info.ome_channel_names
    missing = [i for i, n in enumerate(names) if not n]
    if missing:
        result.findings.append(OME_CHANNEL_NAMES.finding(
            f"{info.display}: channel(s) {cut_list(missing)} have no Name", info.location(),
            fix="give every OME Channel a Name; objects tables are named after it"))
    counts: dict[str, int] = {}
    for n in names:
        if n:
            counts[n] = counts.get(n, 0) + 1
    dupes = sorted(n for n, k in counts.items() if k > 1)
    if dupes:
        result.findings.append(OME_CHANNEL_NAMES.finding(
            f"{info.display}: channel name(s) used more than once: {cut_list(repr(d[:80]) for d in dupes)}",
            info.location(), fix="give every channel a unique Name"))
    if not result.findings:
        z = f", {size_z} z-planes each" if size_z > 1 else ""
        result.notes.append(f"channels: {cut_list((repr(n) for n in names), 20)}{z}")
    return result


def check_pixel_type(info: MaskInfo) -> CheckResult:
    if (skip := _unreadable(info)) is not None:
        return skip
    if info.dtype in UNSIGNED:
        return CheckResult(notes=[f"pixel type {info.dtype}"])
    if info.dtype in SIGNED:
        return CheckResult(findings=[PIXEL_SIGNED.finding(
            f"{info.display}: pixel type is {info.dtype}, a signed container; accepted while no pixel is "
            "negative (each channel's labels item checks that)", info.location(),
            fix=f"store the labels as u{info.dtype} (same size, no negative values possible)")])
    return CheckResult(findings=[PIXEL_TYPE.finding(
        f"{info.display}: pixel type is {info.dtype}; label masks must be integers: uint8/16/32 "
        "(or int8/16/32 without negative values); float and bit values cannot be object ids "
        "(OME has no uint64)", info.location(),
        fix="convert the labels to an unsigned integer type (uint32 for more than 65535 objects)")])


def check_physical_size(info: MaskInfo) -> CheckResult:
    if (skip := _unreadable(info)) is not None:
        return skip
    if not info.ome:
        return CheckResult(skip=f"{info.display} has no readable OME Pixels element (see its ome-xml item)")
    fix = "record the pixel size in µm (PhysicalSizeX/Y) so centroids convert to micrometers"
    missing = [a for a in ("PhysicalSizeX", "PhysicalSizeY") if not info.ome.get(a)]
    if missing:
        return CheckResult(findings=[PHYSICAL_SIZE.finding(
            f"{info.display}: OME Pixels lacks {' and '.join(missing)}", info.location(), fix=fix)])
    bad = []
    for a in ("PhysicalSizeX", "PhysicalSizeY"):
        try:
            if not float(info.ome[a]) > 0:
                bad.append(f"{a}={info.ome[a][:20]!r}")
        except ValueError:
            bad.append(f"{a}={info.ome[a][:20]!r}")
    if bad:
        return CheckResult(findings=[PHYSICAL_SIZE.finding(
            f"{info.display}: {' and '.join(bad)} is not a positive number", info.location(), fix=fix)])
    return CheckResult(notes=[
        f"pixel size {info.ome['PhysicalSizeX']} × {info.ome['PhysicalSizeY']} "
        f"{info.ome.get('PhysicalSizeXUnit', 'µm')}"])


def pyramid_factor(info: MaskInfo) -> int | None:
    """The integer factor between level 0 and level 1 (None without a usable level 1)."""
    if len(info.levels) < 2 or info.levels[1].width < 1 or info.levels[1].height < 1:
        return None
    lv = info.levels[1]
    return max(round(info.width / lv.width), round(info.height / lv.height))


def check_pyramid(info: MaskInfo) -> CheckResult:
    if (skip := _unreadable(info)) is not None:
        return skip
    result = CheckResult()
    fix = ("write the pyramid as SubIFDs with one integer factor between levels "
           "(bfconvert -pyramid-resolutions N -pyramid-scale F, or tifffile subifds=)")
    levels = info.levels
    if len(levels) == 1:
        if info.extra_series:
            # a legacy pyramid is a pyramid: a warning, never PYRAMID-MISSING
            result.findings.append(PYRAMID_LEGACY.finding(
                f"{info.display}: {len(info.extra_series)} reduced-size IFD(s) stored as separate series "
                f"({cut_list('×'.join(map(str, s[::-1])) for s in info.extra_series)}) instead of SubIFDs",
                info.location(), fix=fix))
            return result
        big = max(info.width, info.height) > 4096
        result.findings.append(PYRAMID_MISSING.finding(
            f"{info.display}: no pyramid (no SubIFD levels) for a {info.width} × {info.height} image"
            + ("; viewers cannot show images over 4096 px without one" if big else ""),
            info.location(), fix=fix, severity=None if big else Severity.WARNING))
        return result
    f = pyramid_factor(info)
    if f is None or f < 2:
        result.findings.append(PYRAMID.finding(
            f"{info.display}: level 1 is {levels[1].width} × {levels[1].height}, not smaller than the full "
            f"resolution {info.width} × {info.height} by an integer factor ≥ 2", info.location(level=1), fix=fix))
        return result
    for k, level in enumerate(levels[1:], start=1):
        expect_h, expect_w = info.height / f**k, info.width / f**k
        ok_h = abs(level.height - expect_h) <= 1
        ok_w = abs(level.width - expect_w) <= 1
        if not (ok_h and ok_w):
            prev = levels[k - 1]
            found = (max(round(prev.width / level.width), round(prev.height / level.height))
                     if level.width > 0 and level.height > 0 else None)
            between = (f"; the factor between levels {k - 1} and {k} is about {found}, not {f}"
                       if found and found != f else "")
            result.findings.append(PYRAMID.finding(
                f"{info.display}: level {k} is {level.width} × {level.height}, expected about "
                f"{expect_w:g} × {expect_h:g} (full size / {f}^{k} with pyramid factor {f} found between levels "
                f"0 and 1, within 1 px){between}", info.location(level=k), fix=fix))
        if level.dtype != info.dtype or level.planes != info.planes:
            result.findings.append(PYRAMID.finding(
                f"{info.display}: level {k} has {level.planes} plane(s) of {level.dtype}, the full "
                f"resolution {info.planes} of {info.dtype}", info.location(level=k), fix=fix))
    if not result.findings:
        result.notes.append(f"pyramid factor {f}; levels: " + ", ".join(f"{lv.width}×{lv.height}" for lv in levels))
    return result


def check_layout(info: MaskInfo) -> CheckResult:
    if (skip := _unreadable(info)) is not None:
        return skip
    result = CheckResult()
    if not info.tiled:
        result.findings.append(TIFF_LAYOUT.finding(
            f"{info.display} is stored in strips ({info.rows_per_strip} row(s) per strip), not tiles",
            info.location(), fix="re-export with tiles (e.g. 512 × 512) for fast random access"))
    elif info.tile and any(t & (t - 1) for t in info.tile):
        result.findings.append(TIFF_LAYOUT.finding(
            f"{info.display} uses {info.tile[1]} × {info.tile[0]} tiles, not powers of two",
            info.location(), fix="use power-of-two tiles such as 256 or 512"))
    if info.compression and "ZSTD" in info.compression.upper():
        result.findings.append(TIFF_COMPRESSION.finding(
            f"{info.display} is zstd-compressed; the HuBMAP portal's viewer cannot decode it",
            info.location(), fix="re-export with deflate (zlib) or LZW compression"))
    if not result.findings and info.tile:
        result.notes.append(f"tiles {info.tile[1]} × {info.tile[0]}, {info.compression}")
    return result


FILE_CHECKS = {
    "tiff": ("readable TIFF", check_tiff),
    "ome-xml": ("embedded, valid, self-contained OME-XML", check_ome_xml),
    "ome-consistency": ("OME-XML agrees with the IFDs", check_ome_consistency),
    "pixel-type": ("integer label pixels", check_pixel_type),
    "physical-size": ("PhysicalSizeX/Y present", check_physical_size),
    "pyramid": ("SubIFD pyramid", check_pyramid),
    "layout": ("tiles and compression", check_layout),
}


# --- the source (parent) image ----------------------------------------------------------

_SOURCE_ATTRS = ("SizeX", "SizeY", "SizeZ", "PhysicalSizeX", "PhysicalSizeY", "PhysicalSizeZ",
                 "PhysicalSizeXUnit", "PhysicalSizeYUnit", "PhysicalSizeZUnit")


def _ingest_view(info: MaskInfo) -> dict:
    """Pixels attributes as ingest's xmlschema decoding compares them: sizes as integers,
    physical sizes as numbers, units with the schema default (µm)."""
    out = {}
    for attr in _SOURCE_ATTRS:
        value = info.ome.get(attr)
        if attr.endswith("Unit"):
            out[attr] = value if value is not None else "µm"
        elif value is None:
            out[attr] = None
        else:
            try:
                out[attr] = int(value) if attr.startswith("Size") else float(value)
            except ValueError:
                out[attr] = value
    return out


def check_source_image(mask_info: MaskInfo, source_info: MaskInfo) -> CheckResult:
    """The mask's SizeX/Y/Z, PhysicalSizeX/Y/Z and units equal the source image's (as HuBMAP's
    ingest compares them). Metadata only: both come from ``open_mask``."""
    fix = "write the mask with the source image's size and PhysicalSize/Unit attributes"
    loc = mask_info.location()
    for info, role in ((mask_info, "mask"), (source_info, "source image")):
        if not info.readable or not info.ome:
            return CheckResult(findings=[SOURCE_IMAGE.finding(
                f"the {role} {info.display} has no readable OME Pixels element, so its size cannot be "
                "compared (ingest reports it as not a valid OME-TIFF)", loc, fix=fix)])
    mask, source = _ingest_view(mask_info), _ingest_view(source_info)
    diffs = [a for a in _SOURCE_ATTRS if mask[a] != source[a]]
    if not diffs:
        return CheckResult(notes=[
            f"{mask_info.display} and the source {source_info.display} agree: "
            + ", ".join(f"{a}={mask[a]}" for a in _SOURCE_ATTRS if mask[a] is not None)])
    shown = "; ".join(f"{a}: mask {mask[a]!r}, source {source[a]!r}" for a in diffs)
    same_um = mask_info.physical_size_um() == source_info.physical_size_um()
    hint = (" (the same length in micrometres, but ingest compares values and units as written)"
            if same_um and all("Physical" in a for a in diffs) else "")
    return CheckResult(findings=[SOURCE_IMAGE.finding(
        f"{mask_info.display} differs from the source image {source_info.display}: {shown}{hint}", loc, fix=fix)])


def numpy_dtype(info: MaskInfo) -> np.dtype | None:
    try:
        return np.dtype(info.dtype)
    except TypeError:
        return None


SPLIT_MIN_PIXELS = 1 << 22  # a channel from 2048² px is passed on all threads, one channel at a time
# The next channel's pass starts before a channel is returned while the channel's tables are
# predicted to hold at most this many rows: one of its threads as soon as a thread of the
# channel's pass has no part left (the other finishes its last one) and while the channel is
# merged (the merge has the other core), all of them once it is, so they run while the
# channel's items do. Both threads beside the merge (before 2026-12-06: three threads on two
# cores) cost 6 % more CPU and 14 MB more peak at 8192² dense, the same CPU and 20–40 MB more at
# 16384²; the one thread's early start buys about 2 % of wall time and 0.04 cores for about 1 %
# more CPU (benchmarks/bench_ab.py; a928281 started both threads early, for 2–6 % more CPU, and
# was reverted). Past 8 M rows (~200 MB of statistics a channel) the next pass starts when
# asked for: memory stays at one channel.
OVERLAP_MAX_ROWS = 1 << 23  # mutation: equivalent — when passes overlap only (overlapping or not, the results are the same: tested)


class ChannelNotInFile(MaskDecodeError):
    """The channel's planes are in other files of a multi-file OME-TIFF."""


class MaskReader:
    """An open mask for decoding, shared by the items of one dataset; close() when done."""

    def __init__(self, info: MaskInfo) -> None:
        import threading

        self.info = info
        self._tif = None
        self._lock = threading.RLock()  # file handle: seek + read, and lazy IFD parsing
        self._buffers = None  # the decode buffers the passes of this file share (SegmentBuffers)
        self._levels: dict[tuple[int, int], list] = {}  # (channel, z) -> its planes (IFDs parsed once)

    def _file(self):
        if self._tif is None:
            self._tif = open_tiff(self.info.path)
        return self._tif

    def plane_levels(self, channel_index: int, z: int) -> list:
        """Plane (channel, z) at every pyramid level, full resolution first."""
        from .tiff_stream import Plane

        got = self._levels.get((channel_index, z))
        if got is not None:  # the SubIFDs of a plane are parsed once, not once per pass
            return got
        info = self.info
        name = info.channel_names[channel_index]
        ifd = info.plane_map[channel_index][z]
        try:
            with self._lock:
                page = self._file().pages[ifd].aspage()
                pages = [page] + list(page.pages or [])[:MAX_SUBIFDS]
                got = [Plane(p.aspage(), info.display, name, k, z) for k, p in enumerate(pages)]
        except Exception as exc:  # noqa: BLE001 - damaged IFDs found only when decoding
            raise MaskDecodeError(
                f"{info.display}: cannot read the IFDs of channel {name!r}: {_open_words(exc)}") from None
        self._levels[(channel_index, z)] = got
        return got

    def planes(self, channel_index: int, channel: str | None = None, middle: bool = False) -> list:
        """One plane of the channel at every pyramid level: the first present z (2D
        compatibility), or the middle one (``middle=True``, e.g. for a thumbnail of a 3D mask)."""
        zs = [z for z, ifd in enumerate(self.info.plane_map[channel_index]) if ifd is not None]
        if not zs:
            raise ChannelNotInFile(self.info.channel_problem(channel_index))
        return self.plane_levels(channel_index, zs[len(zs) // 2] if middle else zs[0])

    def channel_pass(self, channel_index: int, workers: int = 2):  # mutation: equivalent — thread count only
        """Statistics over all planes of the channel and the pyramid block test, in one pass.
        Raises MaskDecodeError (ChannelNotInFile for a channel stored in other files)."""
        return self.start_channel_pass(channel_index, workers).result()

    def start_channel_pass(self, channel_index: int, workers: int = 2):  # mutation: equivalent — thread count only
        """``channel_pass`` started: a ``label_pass.PassRun`` whose threads are running."""
        return self.prepare_channel_pass(channel_index, workers).start()

    def prepare_channel_pass(self, channel_index: int, workers: int = 2):  # mutation: equivalent — thread count only
        """The channel's pass ready to start: a ``label_pass.PreparedPass`` (planned, its few
        tiles above the split level decoded, under the file's lock, so it may run while another
        pass's threads read)."""
        from .label_pass import prepare_pass
        from .tiff_stream import SegmentBuffers

        info = self.info
        problem = info.channel_problem(channel_index)
        if problem:
            raise ChannelNotInFile(problem)
        zs = info.plane_map[channel_index]
        missing = [z for z, ifd in enumerate(zs) if ifd is None]
        if missing:
            raise ChannelNotInFile(
                f"channel {info.channel_names[channel_index]!r} has no plane in {info.display} for "
                f"z = {cut_list(missing)}")
        with self._lock:
            if self._buffers is None:
                self._buffers = SegmentBuffers()
            levels = [self.plane_levels(channel_index, z) for z in range(len(zs))]
            return prepare_pass(levels, info.height, info.width, workers=workers, lock=self._lock,
                                buffers=self._buffers)

    def channel_passes(self, indices: list[int], workers: int = 2) -> dict:  # mutation: equivalent — thread count only
        """Several channels' passes, ``workers`` channels at a time (each consumer thread runs its
        kernels without the GIL): index -> ChannelPass, or the MaskDecodeError that stopped it.
        Every result is kept until returned; see ``iter_channel_passes`` to free as you go."""
        return dict(self.iter_channel_passes(indices, workers))

    def iter_channel_passes(self, indices: list[int], workers: int = 2):  # mutation: equivalent — thread count only
        """(index, ChannelPass or MaskDecodeError) in the order of ``indices``, holding no result
        the caller has already taken: drop each one when its items are done.

        A large mask (``SPLIT_MIN_PIXELS`` per channel, at least ``2 × workers`` tiles or strips)
        is passed one channel at a time, each pass split over ``workers`` threads; if the
        channel is predicted to hold at most ``OVERLAP_MAX_ROWS`` objects, the next channel's
        pass (planned when a thread of the channel's pass is done) runs one thread from then and
        while the channel is merged, and all of them while its items run, else it starts when
        asked for: memory stays at one channel. Smaller masks run ``workers`` channels at a time,
        one thread each (splitting a small pass costs more than it gains)."""
        from concurrent.futures import ThreadPoolExecutor

        def one(index, threads):
            try:
                return self.channel_pass(index, workers=threads)
            except MaskDecodeError as exc:
                return exc

        def prepare(index):
            try:
                return self.prepare_channel_pass(index, workers=workers)
            except MaskDecodeError as exc:
                return exc

        def start(prepared, threads=None):
            if isinstance(prepared, MaskDecodeError):
                return prepared
            try:
                return prepared.start(threads)
            except MaskDecodeError as exc:
                return exc

        todo = list(indices)
        if not todo:
            return
        with self._lock:
            self._file()
        if self._splits(todo[0], workers):
            run = start(prepare(todo[0]))
            for pos, index in enumerate(todo):
                later = todo[pos + 1] if pos + 1 < len(todo) else None
                following = None
                ahead = None
                if isinstance(run, MaskDecodeError):
                    result = run
                else:
                    if later is not None:
                        # the next channel planned (its top tiles decoded) when a thread of this
                        # pass has no part left, on the core that thread leaves: planned as this
                        # channel started, it was a third thread holding the GIL against the
                        # pass's two as they began (bench_ab.py: CPU −1 to −8 %, peak RSS 4–8
                        # MB lower)
                        idle_rows = run.wait_idle()
                        ahead = prepare(later)
                        # one thread of the next pass from then (the other finishes its last
                        # part) and while this channel is merged, all of them once it is
                        if idle_rows <= OVERLAP_MAX_ROWS:  # mutation: equivalent[compare] — when passes overlap only (the same results: tested)
                            following = start(ahead, 1)
                    try:
                        result = run.result()
                    except MaskDecodeError as exc:
                        result = exc
                    if not isinstance(following, (type(None), MaskDecodeError)):
                        following.start_rest()
                del run
                yield index, result
                del result
                if later is not None:
                    if ahead is None:  # this channel's pass could not start: none was idle
                        ahead = prepare(later)
                    run = following if following is not None else start(ahead)
                    del ahead
            return
        with ThreadPoolExecutor(max(1, workers)) as pool:  # mutation: equivalent — thread count only
            running = [(i, pool.submit(one, i, 1)) for i in todo[:workers]]  # mutation: equivalent — threads per channel only
            nxt = workers
            while running:
                index, future = running.pop(0)
                result = future.result()
                if nxt < len(todo):
                    running.append((todo[nxt], pool.submit(one, todo[nxt], 1)))  # mutation: equivalent — threads per channel only
                    nxt += 1
                yield index, result
                del result

    def _splits(self, index: int, workers: int) -> bool:
        """Whether a channel's pass is worth splitting over threads: a large channel with enough
        full-resolution segments. (Split or whole, the pass's result is the same: tested.)"""
        from .tiff_stream import _checked_layout

        info = self.info
        if workers < 2 or info.width * info.height * max(1, info.size_z) < SPLIT_MIN_PIXELS:
            return False
        try:
            plane = self.planes(index)[0]
            with self._lock:
                segments = _checked_layout(plane).n_segments
        except Exception:  # noqa: BLE001 - the pass itself reports a damaged channel
            return False  # mutation: equivalent — the pass of a damaged channel fails the same way split or whole
        return segments * max(1, info.size_z) >= 2 * workers

    def close(self) -> None:
        self._buffers = None
        self._levels.clear()
        if self._tif is not None:
            self._tif.close()
            self._tif = None
