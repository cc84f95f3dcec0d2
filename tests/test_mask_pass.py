"""The channel pass (statistics + block test in one pass) against the numpy reference on 2D and
3D masks, pyramid factors 2–4, signed containers, straddling tiles; multi-file members; the
source-image comparison."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import REAL_DATA, assert_stats_equal, damage_segments

from fixtures_generator import ChannelSpec, MaskSpec
from fixtures_generator.writer import write_mask
from pytest_segmask.checks import label_kernels
from pytest_segmask.checks.channel_stats import StatsAccumulator, check_labels, stats_reference
from pytest_segmask.checks.mask_image import (
    FILE_CHECKS, ChannelNotInFile, MaskReader, check_source_image, open_mask,
)
from pytest_segmask.checks.pyramid_labels import check_pyramid_labels
from pytest_segmask.checks.tiff_stream import MaskDecodeError


def run(path: Path, channel: int = 0):
    info = open_mask(path)
    reader = MaskReader(info)
    try:
        return info, reader.channel_pass(channel)
    finally:
        reader.close()


LAYOUTS = [
    {}, dict(tile=None, rows_per_strip=3), dict(tile=32, width=77, height=45), dict(compression="lzw"),
    dict(dtype="uint8"), dict(dtype="uint32", bigtiff=True), dict(dtype="int16"), dict(dtype="int32"),
    dict(pyramid_factor=3, tile=32), dict(pyramid_factor=4, tile=None, rows_per_strip=5, pyramid_levels=2),
    dict(size_z=3), dict(size_z=4, pyramid_factor=3, dtype="int32", tile=16),
]


@pytest.mark.parametrize("changes", LAYOUTS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_pass_matches_numpy_reference(tmp_path, changes):
    mask = replace(MaskSpec(width=150, height=110, channels=(ChannelSpec("c", 25, sparse_ids=True),)), **changes)
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)[0]
    info, result = run(path)
    planes = list(labels) if labels.ndim == 3 else [labels]
    assert_stats_equal(result.stats, stats_reference(planes))
    assert check_labels(result.stats, info, "c").findings == []
    pyramid = check_pyramid_labels(info, result.pyramid, "c")
    assert pyramid.findings == [], pyramid.findings
    f = mask.pyramid_factor
    assert all(f"{f}×{f} block" in note for note in pyramid.notes)
    assert len(result.pyramid.levels) == mask.pyramid_levels - 1
    # the block test covered every pixel of every level, in every plane
    with __import__("tifffile").TiffFile(path) as tif:
        sub = tif.pages[0].pages
        for lv, page in zip(result.pyramid.levels, sub):
            assert lv.tested == page.imagelength * page.imagewidth * mask.size_z


@pytest.mark.parametrize("factor,method", [(2, "mean"), (3, "mean"), (4, "bilinear")])
def test_block_test_names_the_factor(tmp_path, factor, method):
    mask = MaskSpec(width=96, height=80, tile=32, pyramid_factor=factor, pyramid_levels=2, pyramid_method=method,
                    channels=(ChannelSpec("c", 30),))
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    info, result = run(path)
    [finding] = check_pyramid_labels(info, result.pyramid, "c").findings
    assert finding.code == "PYRAMID-LABELS"
    assert f"their {factor}×{factor} block in level 0 (pyramid factor {factor})" in finding.message
    assert finding.location.level == 1 and finding.location.pixel is not None
    assert FILE_CHECKS["pyramid"][1](info).findings == []  # sizes are right


def test_3d_ids_span_planes_and_negative_pixel_is_named(tmp_path):
    mask = MaskSpec(width=60, height=50, size_z=3, dtype="int16",
                    channels=(ChannelSpec("cells", 6), ChannelSpec("nuclei", 4, negative_at=(1, 7, 9))))
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)
    info = open_mask(path)
    assert info.channel_names == ["cells", "nuclei"] and info.size_z == 3
    assert info.plane_map == [[0, 1, 2], [3, 4, 5]]
    assert all(FILE_CHECKS[name][1](info).findings == [] for name in FILE_CHECKS if name != "pixel-type")
    assert [f.code for f in FILE_CHECKS["pixel-type"][1](info).findings] == ["PIXEL-SIGNED"]
    assert info.channels_problem() is None
    reader = MaskReader(info)
    cells, nuclei = reader.channel_pass(0), reader.channel_pass(1)
    reader.close()
    assert cells.stats.n_objects == 6  # each object spans the three planes: one id, one object
    assert (cells.stats.z_range == [0, 2]).all()
    np.testing.assert_allclose(cells.stats.centroid_z, 1.0)
    assert_stats_equal(nuclei.stats, stats_reference(list(labels[1])))
    [finding] = check_labels(nuclei.stats, info, "nuclei").findings
    assert finding.code == "LABELS-NEGATIVE"
    assert "the first is at plane 1, y 7, x 9" in finding.message


def test_dimension_order_xyczt_maps_planes(tmp_path):
    """Planes stored z-major (XYCZT): channel c, plane z is IFD z·C + c."""
    import tifffile

    path = tmp_path / "czt.segmentations.ome.tiff"
    data = np.zeros((2, 3, 16, 16), np.uint16)  # (Z, C, Y, X) in file order
    for z in range(2):
        for c in range(3):
            data[z, c, 2:5, 2:5] = 10 * c + 1
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "ZCYX", "Channel": {"Name": ["a", "b", "c"]},
                                                     "PhysicalSizeX": 1, "PhysicalSizeY": 1})
    info = open_mask(path)
    assert info.ome["DimensionOrder"] == "XYCZT"
    assert info.plane_map == [[0, 3], [1, 4], [2, 5]]
    reader = MaskReader(info)
    assert [int(reader.channel_pass(c).stats.ids[0]) for c in range(3)] == [1, 11, 21]
    reader.close()


def test_multifile_member_planes_go_to_their_channels():
    path = REAL_DATA / "ome-samples" / "hubmap-ingest-validation-tests" / "917_cropped_0_Z0_C3_T0.ome.tiff"
    if not path.exists():
        pytest.skip("real data absent")
    info = open_mask(path)
    assert info.channel_names == ["cortical-interstitium", "medullary-interstitium", "glomeruli", "tubules",
                                  "arteries-arterioles"]
    assert info.plane_map == [[None], [None], [None], [0], [None]]
    assert "has no plane in 917_cropped_0_Z0_C3_T0.ome.tiff (the OME-XML places it in 917_cropped_0_Z0_C0_T0" \
        in info.channel_problem(0)
    assert info.channel_problem(3) is None
    reader = MaskReader(info)
    with pytest.raises(ChannelNotInFile):
        reader.channel_pass(0)
    tubules = reader.channel_pass(3)
    reader.close()
    # the plane is judged as 'tubules' (this crop holds no tubules), not as 'cortical-interstitium'
    [finding] = check_labels(tubules.stats, info, "tubules").findings
    assert finding.code == "LABELS-EMPTY" and "channel 'tubules'" in finding.message
    result = check_labels(ChannelNotInFile(info.channel_problem(1)), info, "medullary-interstitium")
    assert [f.code for f in result.findings] == ["LABELS"]


@pytest.mark.parametrize("edit,item", [("no-ome", "ome-xml"), ("not-xml", "ome-xml"), ("binaryonly", "ome-xml")])
def test_unusable_ome_metadata_blocks_channel_items(tmp_path, edit, item):
    mask = MaskSpec(ome_edits=(edit,))
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    info = open_mask(path)
    reason, see = info.channels_problem()
    assert see == item and "OME" in reason


def test_channels_problem_points_at_the_file_item(tmp_path):
    mask = MaskSpec(dtype="float32")
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    assert open_mask(path).channels_problem()[1] == "pixel-type"
    assert open_mask(tmp_path / "absent.ome.tiff").channels_problem()[1] == "tiff"


def test_legacy_pyramid_is_a_warning_never_missing(tmp_path):
    mask = MaskSpec(pyramid_method="legacy", pyramid_levels=3)
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    assert [f.code for f in FILE_CHECKS["pyramid"][1](open_mask(path)).findings] == ["PYRAMID-LEGACY"]


def test_pyramid_sizes_name_the_factor(tmp_path):
    mask = MaskSpec(width=90, height=90, pyramid_factor=3, pyramid_levels=3, pyramid_method="wrong-sizes")
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    findings = FILE_CHECKS["pyramid"][1](open_mask(path)).findings
    assert findings and all(f.code == "PYRAMID" for f in findings)
    assert "pyramid factor 3" in findings[0].message


def test_physical_size_in_micrometres(tmp_path):
    mask = MaskSpec()
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    info = open_mask(path)
    assert info.physical_size_um() == (0.5, 0.5, None)
    info.ome.update(PhysicalSizeX="250", PhysicalSizeXUnit="nm", PhysicalSizeY="-1", PhysicalSizeZ="2",
                    PhysicalSizeZUnit="parsec")
    assert info.physical_size_um() == (0.25, None, None)


def _source(tmp_path, name, **changes):
    mask = replace(MaskSpec(stem=name), **changes)
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    return open_mask(path)


def test_source_image_comparison(tmp_path):
    mask = _source(tmp_path, "mask")
    assert check_source_image(mask, _source(tmp_path, "same")).findings == []
    [finding] = check_source_image(mask, _source(tmp_path, "wider", width=301)).findings
    assert finding.code == "SOURCE-IMAGE" and "SizeX: mask 300, source 301" in finding.message
    assert finding.authority.value == "ingest"
    other = _source(tmp_path, "nm")
    other.ome.update(PhysicalSizeX="500", PhysicalSizeXUnit="nm", PhysicalSizeY="500", PhysicalSizeYUnit="nm")
    [finding] = check_source_image(mask, other).findings
    assert "PhysicalSizeXUnit: mask 'µm', source 'nm'" in finding.message
    assert "the same length in micrometres" in finding.message
    missing = open_mask(tmp_path / "absent.ome.tiff")
    assert [f.code for f in check_source_image(mask, missing).findings] == ["SOURCE-IMAGE"]


def test_pyramid_level_decode_failure_is_a_pyramid_finding(tmp_path, decode_mode):
    mask = MaskSpec(width=128, height=128, tile=32, channels=(ChannelSpec("c", 9),))
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    damage_segments(path, [1], level=1)
    info, result = run(path)
    assert result.stats.n_objects == 9  # level 0 is intact
    findings = check_pyramid_labels(info, result.pyramid, "c").findings
    assert [f.code for f in findings] == ["PYRAMID-LABELS"]
    assert "tile 1 (pixels y 0…, x 32…) of channel 'c', level 1 cannot be decoded: its compressed bytes" \
        in findings[0].message
    assert "Error -3" not in findings[0].message


# --- the accumulator's growth paths, driven directly ------------------------------------


def _accumulate(planes, **attrs):
    h, w = planes[0].shape
    acc = StatsAccumulator(h, w, len(planes))
    for key, value in attrs.items():
        setattr(acc, key, value)
    for z, plane in enumerate(planes):
        for y0 in range(0, h, 64):
            for x0 in range(0, w, 64):
                tile = np.ascontiguousarray(plane[y0:y0 + 64, x0:x0 + 64])
                acc.add(tile, tile.shape[0], tile.shape[1], y0, x0, z)
    return acc.finish()


def test_promotion_to_wide_sums_and_many_objects():
    rng = np.random.default_rng(1)
    plane = rng.integers(0, 40_000, (300, 260)).astype(np.uint32)  # > LOCAL_MAX distinct per call
    plane[50:250, 20:200] = 7  # one big object
    stats = _accumulate([plane], big_at=50)  # promote everything above 50 px to the int64 table
    assert_stats_equal(stats, stats_reference([plane]))


def test_patterned_ids_switch_to_scrambled_hashing():
    ids = (np.arange(1, 4001, dtype=np.uint64) << np.uint64(20)).astype(np.uint32) | np.uint32(1)
    plane = np.repeat(ids, 4).reshape(80, 200)  # ids k·2^20+1: identity hashing collides
    stats = _accumulate([plane])
    assert_stats_equal(stats, stats_reference([plane]))


def test_3d_accumulator_with_promotion():
    rng = np.random.default_rng(2)
    planes = [rng.integers(0, 30, (70, 90)).astype(np.int16) for _ in range(5)]
    planes[3][5, 6] = -4
    stats = _accumulate(planes, big_at=20)
    assert_stats_equal(stats, stats_reference(planes))



def test_3d_promotion_keeps_the_z_sum_of_earlier_planes():
    """An object below the promotion threshold in plane 1 and promoted in plane 2: its z sum from
    plane 1 moves into the wide side table (centroid z = (10·1 + 30·2) / 40)."""
    planes = [np.zeros((8, 16), np.uint16) for _ in range(3)]
    planes[1][0, :10] = 7
    planes[2][1, :15] = 7
    planes[2][2, :15] = 7
    stats = _accumulate(planes, big_at=20)
    assert_stats_equal(stats, stats_reference(planes))
    assert float(stats.centroid_z[0]) == 1.75

@pytest.mark.parametrize("planes_n", [1, 3])
def test_parts_merge_promoted_objects_that_several_parts_saw(planes_n):
    """Three tables over disjoint tiles (as the pass's threads keep them), merged: objects cut
    by the tiles' borders are in several tables, some of them promoted to 64-bit sums in one
    table and not in another; counts, centroids (x, y, z), boxes and z ranges equal the
    reference."""
    from pytest_segmask.checks.channel_stats import finish_parts

    rng = np.random.default_rng(7)
    planes = [rng.integers(0, 6, (96, 80)).astype(np.uint16) for _ in range(planes_n)]
    planes[0][10:70, 5:60] = 9  # large: promoted in the tables whose tiles hold most of it
    planes[-1][0:90, 70:80] = 11
    for z, plane in enumerate(planes):  # objects inside one tile: in one table only
        plane[33:36, 41:44 + z] = 20
    planes[-1][66:70, 2:6] = 21
    h, w = planes[0].shape
    parts = [StatsAccumulator(h, w, planes_n) for _ in range(3)]
    for part in parts:
        part.big_at = 200
    tiles = [(z, y0, x0) for z in range(planes_n) for y0 in range(0, h, 32) for x0 in range(0, w, 40)]
    for i, (z, y0, x0) in enumerate(tiles):
        tile = np.ascontiguousarray(planes[z][y0:y0 + 32, x0:x0 + 40])
        parts[i % 3].add(tile, tile.shape[0], tile.shape[1], y0, x0, z)
    assert all(int(part.meta[1]) > 0 for part in parts)  # every table promoted some object
    assert_stats_equal(finish_parts(parts), stats_reference(planes))


@pytest.mark.parametrize("order", [[4, 3, 2, 1, 0], [2, 0, 4, 1, 3]])
def test_3d_planes_in_any_order(order):
    """A thread may take parts out of z order (``_PartQueue``): z ranges are minima and maxima
    of the planes seen, not the first and last; sums do not depend on the order."""
    rng = np.random.default_rng(3)
    planes = [rng.integers(0, 12, (40, 70)).astype(np.uint16) for _ in range(5)]
    planes[2][:, :] = np.where(planes[2] == 5, 0, planes[2])  # object 5 absent from the middle plane
    h, w = planes[0].shape
    acc = StatsAccumulator(h, w, len(planes))
    acc.big_at = 30  # promoted objects too
    for z in order:
        for y0 in range(0, h, 16):
            tile = np.ascontiguousarray(planes[z][y0:y0 + 16])
            acc.add(tile, tile.shape[0], w, y0, 0, z)
    stats = acc.finish()
    assert_stats_equal(stats, stats_reference(planes))
    assert stats.z_range[stats.index_of(np.array([5]))[0]].tolist() == [0, 4]


def test_part_queue_gives_each_thread_its_run_then_the_longest_run_left():
    from pytest_segmask.checks.label_pass import _PartQueue

    queue = _PartQueue(16, 2)
    assert [queue.take(0) for _ in range(8)] == list(range(8))  # thread 0's run
    assert [queue.take(1) for _ in range(3)] == [15, 14, 13]  # thread 1's run, from its end
    assert [queue.take(0) for _ in range(3)] == [8, 9, 10]  # then the parts next to its own
    assert [queue.take(1), queue.take(0), queue.take(1), queue.take(0)] == [12, 11, None, None]
    queue = _PartQueue(16, 2)
    assert [queue.take(1) for _ in range(8)] == list(range(15, 7, -1))
    assert [queue.take(1), queue.take(0), queue.take(1)] == [7, 0, 6]  # thread 1: the last of thread 0's run
    queue = _PartQueue(7, 3)  # runs [0, 2), [2, 4) (from its end), [4, 7)
    assert [queue.take(2), queue.take(2), queue.take(2), queue.take(2)] == [4, 5, 6, 1]  # a tie: the first run
    assert [queue.take(t) for t in (0, 1, 0, 1, 2)] == [0, 3, 2, None, None]
    assert _PartQueue(1, 2).take(1) == 0  # more threads than parts: an empty run takes from another
    queue = _PartQueue(10, 5)  # odd threads (1 and 3) from their run's end
    assert [queue.take(t) for t in range(5)] == [0, 3, 4, 7, 8]


def test_kernels_load_once_per_pixel_type_before_the_pass_threads(tmp_path, monkeypatch):
    import threading

    calls = []
    monkeypatch.setattr(label_kernels, "_LOADED", set())
    monkeypatch.setattr(label_kernels, "warm_up", lambda dtype: calls.append(np.dtype(dtype).str))
    threads = [threading.Thread(target=label_kernels.load, args=(np.uint16,)) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    label_kernels.load(np.float32)  # not labels: nothing to load
    label_kernels.load(None)
    assert calls == [np.dtype(np.uint16).str]
    mask = MaskSpec(width=64, height=64, tile=16, dtype="int32", channels=(ChannelSpec("c", 5),))
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    reader = MaskReader(open_mask(path))
    try:
        reader.prepare_channel_pass(0)  # the pass's own preparation loads them
    finally:
        reader.close()
    assert calls == [np.dtype(np.uint16).str, np.dtype(np.int32).str]


@pytest.mark.parametrize("dtype, sorted_numbering", [(np.uint8, False), (np.uint16, True), (np.uint32, True)])
def test_the_warm_up_loads_the_merge_kernels_of_both_numberings(monkeypatch, dtype, sorted_numbering):
    """Sparse ids are merged by sorting (``number_sorted``), dense ones by counting: the warm-up
    runs both where the pixel type can hold sparse ids, so no channel's first merge loads a
    kernel (3.5 ms of one core, while the next channel's pass had the other)."""
    from pytest_segmask.checks.channel_stats import numbered_by_counting

    calls = {"number_sorted": 0, "number_present": 0}
    for name in calls:
        real = getattr(label_kernels, name)
        monkeypatch.setattr(label_kernels, name, lambda *a, _real=real, _name=name: (
            calls.__setitem__(_name, calls[_name] + 1), _real(*a))[1])
    label_kernels.warm_up(dtype)
    assert calls == {"number_sorted": int(sorted_numbering), "number_present": 1}
    assert numbered_by_counting(2 * 1000 + 1024, 1000) and not numbered_by_counting(2 * 1000 + 1025, 1000)


@pytest.mark.parametrize("compression", [None, "lzw", "zlib"])
def test_the_pass_needs_no_kernel_variant_the_warm_up_did_not_make(tmp_path, compression):
    """Whatever a file's compression, the kernels see writable C arrays of the pixel type, the
    variant ``warm_up`` compiles (or loads) once, under a lock, before the pass threads start:
    an uncompressed segment, decoded as a read-only view of its bytes, is copied. Otherwise
    the first pass threads to meet a read-only tile would each compile a second variant, at
    the same moment."""
    mask = MaskSpec(width=96, height=96, tile=32, dtype="uint16", compression=compression, pyramid_levels=2,
                    channels=(ChannelSpec("a", 9), ChannelSpec("b", 7)))
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)
    label_kernels.load(np.uint16)
    kernels = (label_kernels.block_stats, label_kernels.block_test, label_kernels.block_count,
               label_kernels.tally_matched)
    before = [len(k.signatures) for k in kernels]
    reader = MaskReader(open_mask(path))
    try:
        got = dict(reader.iter_channel_passes([0, 1]))
    finally:
        reader.close()
    assert [len(k.signatures) for k in kernels] == before
    assert not any("readonly" in str(sig) for k in kernels for sig in k.signatures)
    for index in (0, 1):
        assert_stats_equal(got[index].stats, stats_reference([labels[index]]))


def test_a_uniformly_dense_channel_grows_its_table_twice(monkeypatch):
    """The capacity is extrapolated from the first full kernel call: a channel of even density
    grows (and copies) its table twice — once for the first call, once from the estimate — not
    once per doubling. Statistics as numpy's."""
    side, tile = 2048, 128  # a call is 0.4 % of the channel
    y, x = np.mgrid[0:side, 0:side].astype(np.uint32)
    ids = (y // 8) * (side // 8) + x // 8 + 1  # objects of 8 × 8 px: 256 per tile
    acc = StatsAccumulator(side, side)
    grows = []
    real = StatsAccumulator._grow_rows
    monkeypatch.setattr(StatsAccumulator, "_grow_rows", lambda self, need: (grows.append(self.cap), real(self, need))[1])
    monkeypatch.setattr("pytest_segmask.checks.channel_stats.CHUNK_PIXELS", tile * tile)
    for y0 in range(0, side, tile):
        for x0 in range(0, side, tile):
            t = np.ascontiguousarray(ids[y0:y0 + tile, x0:x0 + tile])
            acc.add(t, tile, tile, y0, x0)
    assert len(grows) == 2, grows
    assert_stats_equal(acc.finish(), stats_reference([ids]))


def test_a_table_sized_like_a_previous_one_grows_once(monkeypatch):
    """An accumulator told the rows a like table ended with sizes its tables and hash for them
    at once: one growth (the first call), no row rehashed. A hint too small grows again as
    usual, one too large wastes room only; the statistics are numpy's either way."""
    from pytest_segmask.checks import channel_stats, label_kernels

    side, tile = 1024, 64
    y, x = np.mgrid[0:side, 0:side].astype(np.uint32)
    ids = (y // 8) * (side // 8) + x // 8 + 1  # 16,384 objects of 8 × 8 px
    monkeypatch.setattr(channel_stats, "CHUNK_PIXELS", tile * tile)  # a call's room: 4,096 rows

    def fill(acc):
        for y0 in range(0, side, tile):
            for x0 in range(0, side, tile):
                acc.add(np.ascontiguousarray(ids[y0:y0 + tile, x0:x0 + tile]), tile, tile, y0, x0)
        return acc

    grows, rehashes = [], []
    real_grow, real_rehash = StatsAccumulator._grow_rows, label_kernels.rehash
    monkeypatch.setattr(StatsAccumulator, "_grow_rows", lambda self, need: (grows.append(self.cap), real_grow(self, need))[1])
    monkeypatch.setattr(label_kernels, "rehash", lambda *a: (rehashes.append(a[1]), real_rehash(*a))[1])
    unhinted = fill(StatsAccumulator(side, side))
    rows = int(unhinted.meta[0])
    assert rows == 16384 and len(grows) == 2 and max(rehashes) > 0  # grown once more, rows rehashed
    grows.clear()
    rehashes.clear()
    hinted = StatsAccumulator(side, side, expected_rows=rows)
    fill(hinted)
    assert grows == [0] and rehashes == [0]  # the hash sized at the first call: no row to rehash
    assert hinted.cap >= rows * channel_stats.HINT_MARGIN and hinted.expected_rows == 0
    assert (1 << hinted.hbits) * 7 >= rows * channel_stats.HINT_MARGIN * 10  # at most 70 % full
    assert_stats_equal(hinted.finish(), stats_reference([ids]))
    for wrong in (rows // 4, 4 * rows):
        grows.clear()
        acc = fill(StatsAccumulator(side, side, expected_rows=wrong))
        assert len(grows) == (1 if wrong > rows else 2), grows
        assert_stats_equal(acc.finish(), stats_reference([ids]))
    assert_stats_equal(unhinted.finish(), stats_reference([ids]))


def test_a_hinted_table_takes_2mb_pages_only_when_large(monkeypatch):
    """A hinted table is allocated whole at its pass's start, while the previous channel may
    still be merged: 2 MB pages only from HINT_HUGE_ROWS rows (each column rounded up to whole
    2 MB pages otherwise raised a small mask's peak RSS); an unhinted table's first growth, a
    call's room, keeps 4 KB pages as before."""
    from pytest_segmask.checks import channel_stats

    pages = []
    real = channel_stats._empty
    monkeypatch.setattr(channel_stats, "_empty", lambda shape, dtype, huge=True: (pages.append(huge), real(shape, dtype, huge))[1])
    monkeypatch.setattr(channel_stats, "HINT_HUGE_ROWS", 1000)
    monkeypatch.setattr(channel_stats, "HUGE_ROWS", 10)
    tile = np.arange(1, 64 * 64 + 1, dtype=np.uint32).reshape(64, 64)
    for hint, huge in ((999, False), (1000, True), (0, False)):
        pages.clear()
        acc = StatsAccumulator(64, 64, expected_rows=hint)
        acc.add(tile, 64, 64, 0, 0)
        assert pages[:5] == [huge] * 5, (hint, pages)  # gid, gcnt, gsx, gsy, gbb
        assert_stats_equal(acc.finish(), stats_reference([tile]))
    # unhinted, grown from the density seen: 2 MB pages from HUGE_ROWS rows, as before
    monkeypatch.setattr(channel_stats, "HINT_HUGE_ROWS", 10**6)
    monkeypatch.setattr(channel_stats, "CHUNK_PIXELS", 8 * 128)  # a call: 8 rows of 128 px
    boxes = []  # the bounding-box column's allocations: one per growth
    monkeypatch.setattr(channel_stats, "_empty", lambda shape, dtype, huge=True: (
        boxes.append(huge) if np.ndim(shape) == 1 and len(shape) == 2 and shape[1] == 4 else None, real(shape, dtype, huge))[1])
    big = np.arange(1, 128 * 128 + 1, dtype=np.uint32).reshape(128, 128)
    acc = StatsAccumulator(128, 128)
    acc.add(big, 128, 128, 0, 0)
    assert boxes[:2] == [False, True], boxes  # a call's room, then sized from the density seen
    assert_stats_equal(acc.finish(), stats_reference([big]))


def test_a_masks_next_channel_sizes_its_tables_like_the_last(tmp_path, monkeypatch):
    """A pass leaves on its plan the rows of its largest table when its threads are done; the
    next channel of the geometry sizes its threads' tables for them. Results unchanged."""
    from pytest_segmask.checks import label_pass

    made = []

    class Recorded(StatsAccumulator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append((kwargs.get("expected_rows"), self))

    monkeypatch.setattr(label_pass, "StatsAccumulator", Recorded)
    mask = MaskSpec(width=256, height=256, tile=32, pyramid_levels=2,
                    channels=(ChannelSpec("a", 300), ChannelSpec("b", 40)))
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)
    reader = MaskReader(open_mask(path))
    try:
        plan = label_pass._plan_parts([label_pass._PlanePyramid(reader.plane_levels(0, 0), 0)], 2)
        plan.table_hint = 0  # another test's mask of this geometry may have left one
        got, hints = {}, []
        for c in (0, 1):
            got[c] = reader.channel_pass(c, workers=2)
            assert plan.threads == 2 and len(made) == 2 * (c + 1)
            hints.append(plan.table_hint)
            assert hints[-1] == max(int(a.meta[0]) for _, a in made[-2:])
        assert [hint for hint, _ in made] == [0, 0, hints[0], hints[0]]  # b's tables sized like a's
        assert 0 < hints[1] < hints[0]  # … and b's own (fewer objects) is the next hint
    finally:
        reader.close()
    for c in (0, 1):
        assert_stats_equal(got[c].stats, stats_reference([labels[c]]))


def test_ids_sharing_their_low_bits_switch_the_local_slots_to_fibonacci_hashing():
    """A tile's ids take the tile-local slot of their low 15 bits; ids that all share them
    (multiples of 2^15) make one long probe, and the call switches to Fibonacci hashing: the
    statistics stay numpy's, call after call (each leaves its slots empty)."""
    y, x = np.mgrid[0:64, 0:64]
    plane = (((y // 2) * 32 + x // 2 + 1) << 15).astype(np.uint32)  # 1,024 objects of 2 × 2 px
    other = np.ascontiguousarray(plane[:, ::-1] >> 1)  # multiples of 2^14: pairs share a slot
    acc = StatsAccumulator(64, 128)
    acc.add(plane, 64, 64, 0, 0)
    assert (acc.local[1] == -1).all()
    acc.add(other, 64, 64, 0, 64)
    assert (acc.local[1] == -1).all()
    assert_stats_equal(acc.finish(), stats_reference([np.concatenate([plane, other], axis=1)]))
    # the switch late in a call: 1,900 random ids in slots of their own (their Fibonacci slots
    # collide now and then), then 40 ids sharing slot 7; objects of 1 × 2 px
    rng = np.random.default_rng(11)
    low = rng.choice(np.arange(8, 1 << 15), 1900, replace=False)
    ids = (rng.integers(1, 1 << 16, 1900) << 15) + low
    cell = y * 32 + x // 2
    late = np.where(cell < 1900, ids[np.minimum(cell, 1899)], ((cell - 1900) % 40 + 1) * (1 << 15) + 7).astype(np.uint32)
    acc = StatsAccumulator(64, 64)
    acc.add(late, 64, 64, 0, 0)
    assert (acc.local[1] == -1).all()  # every slot the rebuilt table used was emptied again
    assert_stats_equal(acc.finish(), stats_reference([late]))


_BOUNDS_SCRIPT = """
import sys
import numpy as np, tifffile
sys.path.insert(0, sys.argv[2])
from conftest import assert_stats_equal
from pytest_segmask.checks.channel_stats import StatsAccumulator, stats_reference
from pytest_segmask.checks.label_pass import run_pass
from pytest_segmask.checks.tiff_stream import Plane

rng = np.random.default_rng(3)
y, x = np.mgrid[0:64, 0:64]
planes = [
    (((y // 2) * 32 + x // 2 + 1) << 15).astype(np.uint32),  # one local slot for all: Fibonacci
    np.repeat(rng.integers(1, 1 << 20, (16, 64)), 4, 0).astype(np.uint32),  # ids past 2^16
    np.repeat(rng.integers(0, 40, (32, 64)), 2, 0).astype(np.uint32) * 65_537,  # few ids, far apart
]
for plane in planes:
    acc = StatsAccumulator(64, 64)
    acc.add(np.ascontiguousarray(plane), 64, 64, 0, 0)
    assert_stats_equal(acc.finish(), stats_reference([plane]))
vol = [np.ascontiguousarray(p) for p in planes]
acc = StatsAccumulator(64, 64, planes=3)
for z, plane in enumerate(vol):
    acc.add(plane, 64, 64, 0, 0, z)
assert_stats_equal(acc.finish(), stats_reference(vol))
labels = np.repeat(np.repeat(rng.integers(1, 5000, (40, 40)), 5, 0), 3, 1).astype(np.uint32)[:192, :100]
for f, tiles in ((2, [(32, 32), (16, 16)]), (3, [(48, 48), (16, 16)]), (3, [(16, 16), (16, 16)])):
    level1 = labels[::f, ::f].copy()
    level1[1::7, 2::5] = 7_000_000
    path = sys.argv[1] + f"/p{f}-{tiles[0][0]}.tiff"
    with tifffile.TiffWriter(path) as tif:
        tif.write(labels, photometric="minisblack", metadata=None, compression="zlib", tile=tiles[0], subifds=1)
        tif.write(level1, photometric="minisblack", metadata=None, compression="zlib", tile=tiles[1], subfiletype=1)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        levels = [Plane(page, "p", "c", 0), Plane(page.pages[0], "p", "c", 1)]
        for workers in (1, 2):
            result = run_pass([levels], *labels.shape, workers=workers)
            assert_stats_equal(result.stats, stats_reference([labels]))
            assert result.pyramid.levels[0].bad > 5
print("in bounds")
"""


def test_the_kernels_stay_inside_their_arrays(tmp_path):
    """Every array index of the compiled kernels checked (numba's NUMBA_BOUNDSCHECK, in a fresh
    process with a compilation cache of its own): accumulators over ids past 2^15 and 2^16, in
    a pattern that switches the tile-local slots to Fibonacci hashing, 2D and 3D, and pyramid
    passes that count and that keep marks, on one thread and two, raise no IndexError and give
    numpy's statistics."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    script = tmp_path / "bounds.py"
    script.write_text(_BOUNDS_SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(tmp_path), str(Path(__file__).parent)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0 and out.stdout.strip() == "in bounds", out.stderr[-3000:]


def test_tile_local_tables_are_handed_on_with_empty_slots():
    """A finished accumulator hands its tile-local tables to the next one: the slots all empty
    again, the other arrays holding leftovers (here: the ids the next tiles hold, and junk),
    which the kernel never reads before it writes them — the statistics equal numpy's."""
    rng = np.random.default_rng(5)
    planes = [np.repeat(rng.integers(0, 300, (16, 40)), 4, 0).astype(np.uint32)[:, :37] for _ in range(2)]
    first = StatsAccumulator(64, 37)
    local = first.local
    first.add(planes[0], 64, 37, 0, 0)
    assert_stats_equal(first.finish(), stats_reference([planes[0]]))
    second = StatsAccumulator(64, 37)
    assert second.local is local and (local[1] == -1).all()
    local[0][:] = np.resize(np.unique(planes[1]), len(local[0]))  # ids the tiles hold
    for arr in local[2:]:
        arr[:] = 7
    second.add(planes[1], 64, 37, 0, 0)
    assert_stats_equal(second.finish(), stats_reference([planes[1]]))


def test_kernels_are_compiled_without_the_gil():
    assert label_kernels.block_stats.targetoptions.get("nogil")
    assert label_kernels.block_test.targetoptions.get("nogil")
    assert label_kernels.block_count.targetoptions.get("nogil")


def test_heap_trimming_finds_malloc_trim_without_a_library_search():
    """glibc's malloc_trim is taken from the symbols the process has: ``ctypes.util`` (which
    imports subprocess and runs ldconfig: 10–15 ms in a fresh process) is never imported."""
    import platform
    import subprocess
    import sys

    script = ("import sys\n"
              "from pytest_segmask.checks import label_pass\n"
              "label_pass.return_freed_memory()\n"
              "print('ctypes.util' in sys.modules, callable(label_pass._TRIM))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    imported, found = out.stdout.split()
    assert imported == "False"
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert found == ("True" if glibc else "False")


def test_heap_trimming_is_off_where_there_is_no_malloc_trim(monkeypatch):
    """macOS and Windows (not Linux), musl (no such symbol) and a process whose own symbols
    cannot be opened: no trimming (False, never a non-callable to call)."""
    import ctypes

    from pytest_segmask.checks import label_pass

    class NoTrim:
        pass

    def unopenable(name):
        raise OSError("cannot open the process's symbols")

    monkeypatch.setattr(label_pass.sys, "platform", "darwin")
    assert label_pass._malloc_trim() is False
    monkeypatch.setattr(label_pass.sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: NoTrim())
    assert label_pass._malloc_trim() is False
    monkeypatch.setattr(ctypes, "CDLL", unopenable)
    assert label_pass._malloc_trim() is False


def test_decode_error_message_in_words(tmp_path, decode_mode):
    import tifffile

    mask = MaskSpec()
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[0].dataoffsets[0], tif.pages[0].databytecounts[0]
    raw = bytearray(path.read_bytes())
    raw[offset:offset + count] = b"\x00" * count
    path.write_bytes(bytes(raw))
    info = open_mask(path)
    reader = MaskReader(info)
    with pytest.raises(MaskDecodeError) as excinfo:
        reader.channel_pass(0)
    reader.close()
    message = str(excinfo.value)
    assert "tile 0 (pixels y 0…, x 0…) of channel 'cells', level 0 cannot be decoded" in message
    assert "Error" not in message and "error:" not in message
    [finding] = check_labels(excinfo.value, info, "cells").findings
    assert finding.code == "LABELS" and finding.authority.value == "ingest"


def test_repeated_rows_across_local_flushes():
    """Rows equal to the row above reuse its runs; a flush of the tile-local table in between
    must not let them reuse stale slots."""
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 60_000, (40, 1000)).astype(np.uint32)
    rows[::3, :500] = 0
    plane = np.repeat(rows, 3, axis=0)  # every row three times, > LOCAL_MAX objects per call
    h, w = plane.shape
    acc = StatsAccumulator(h, w)
    acc.add(np.ascontiguousarray(plane), h, w, 0, 0)
    assert_stats_equal(acc.finish(), stats_reference([plane]))
    signed = np.repeat(rng.integers(-2, 5, (30, 40)).astype(np.int16), 2, axis=0)
    acc = StatsAccumulator(*signed.shape)
    acc.add(np.ascontiguousarray(signed), *signed.shape, 0, 0)
    assert_stats_equal(acc.finish(), stats_reference([signed]))


def test_generated_source_images_match_or_not(tmp_path):
    from fixtures_generator.writer import write_source_image

    mask = MaskSpec(size_z=2)
    write_mask(mask, tmp_path / mask.file_name)
    info = open_mask(tmp_path / mask.file_name)
    assert check_source_image(info, open_mask(write_source_image(mask, tmp_path / "a.ome.tiff"))).findings == []
    for changes in (dict(width=301), dict(size_z=3), dict(physical_size=0.25), dict(physical_size=None)):
        source = open_mask(write_source_image(mask, tmp_path / "b.ome.tiff", **changes))
        assert [f.code for f in check_source_image(info, source).findings] == ["SOURCE-IMAGE"], changes


def test_channels_in_parallel_equal_serial(tmp_path):
    mask = MaskSpec(width=200, height=150, tile=32, size_z=2,
                    channels=tuple(ChannelSpec(f"c{i}", 10 + i, sparse_ids=bool(i % 2)) for i in range(4)))
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    info = open_mask(path)
    reader = MaskReader(info)
    try:
        parallel = reader.channel_passes([0, 1, 2, 3], workers=2)
        for index in range(4):
            serial = reader.channel_pass(index)
            assert_stats_equal(parallel[index].stats, serial.stats)
            assert [(lv.tested, lv.bad) for lv in parallel[index].pyramid.levels] == \
                [(lv.tested, lv.bad) for lv in serial.pyramid.levels]
        middle = reader.planes(1, middle=True)
        assert middle[0].z == 1 and len(middle) == mask.pyramid_levels
    finally:
        reader.close()


@pytest.mark.parametrize("rest", ["start_rest", "join", "never"])
def test_a_pass_started_on_one_thread_takes_every_part_until_the_rest_start(tmp_path, rest):
    """``start(1)``: one thread runs (it takes the other thread's parts while that one is not
    started); ``start_rest`` or ``join`` starts the others. The result is the same."""
    mask = MaskSpec(width=160, height=160, tile=16, channels=(ChannelSpec("c0", 40),))
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)
    reader = MaskReader(open_mask(path))
    try:
        run = reader.prepare_channel_pass(0, workers=2).start(1)
        assert [th.started for th in run._threads] == [True, False]
        if rest == "start_rest":
            run.start_rest()
            assert all(th.started for th in run._threads)
        elif rest == "never":  # the started thread alone finishes every part
            run._threads[0].join(60)
            assert not run._threads[0].is_alive() and not run._threads[1].started
        got = run.result()
        assert all(th.started for th in run._threads)  # join started the rest
    finally:
        reader.close()
    assert_stats_equal(got.stats, stats_reference([labels[0]]))
    assert got.pyramid.bad_pixels == 0


def test_tiffdata_maps_channels_out_of_order(tmp_path):
    """TiffData FirstC/IFD decide which IFD holds which channel (here stored in reverse)."""
    import tifffile

    path = tmp_path / "rev.segmentations.ome.tiff"
    planes = np.zeros((3, 16, 16), np.uint16)
    for ifd in range(3):
        planes[ifd, 4:8, 4:8] = 100 + ifd  # IFD k holds id 100 + k
    channels = "".join(f'<Channel ID="Channel:0:{c}" Name="ch{c}" SamplesPerPixel="1"/>' for c in range(3))
    tiffdata = "".join(f'<TiffData FirstC="{c}" IFD="{2 - c}" PlaneCount="1"/>' for c in range(3))
    xml = ('<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
           '<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" SizeX="16" SizeY="16" '
           f'SizeZ="1" SizeC="3" SizeT="1" PhysicalSizeX="1" PhysicalSizeY="1">{channels}{tiffdata}</Pixels></Image></OME>')
    with tifffile.TiffWriter(path, ome=False) as tif:
        for ifd in range(3):
            tif.write(planes[ifd], description=xml.encode() if ifd == 0 else None, photometric="minisblack",
                      metadata=None)
    info = open_mask(path)
    assert info.plane_map == [[2], [1], [0]]
    assert FILE_CHECKS["ome-consistency"][1](info).findings == []
    reader = MaskReader(info)
    try:
        assert [int(reader.channel_pass(c).stats.ids[0]) for c in range(3)] == [102, 101, 100]
    finally:
        reader.close()


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fixtures_generator.strategies import mask_specs  # noqa: E402


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(mask=mask_specs(max_side=120), tile=st.sampled_from([None, 16, 32, 48, 64]))
def test_pass_equals_reference_on_drawn_masks(tmp_path_factory, mask, tile):
    mask = replace(mask, tile=tile, compression=mask.compression if tile else "zlib")
    path = tmp_path_factory.mktemp("drawn") / mask.file_name
    labels = write_mask(mask, path)
    info = open_mask(path)
    assert info.channels_problem() is None
    reader = MaskReader(info)
    try:
        for index in range(len(mask.channels)):
            result = reader.channel_pass(index)
            planes = list(labels[index]) if mask.size_z > 1 else [labels[index]]
            assert_stats_equal(result.stats, stats_reference(planes))
            if result.pyramid is not None:
                assert result.pyramid.bad_pixels == 0
                assert not check_pyramid_labels(info, result.pyramid, "c").findings
    finally:
        reader.close()


def test_iter_channel_passes_in_order(tmp_path):
    mask = MaskSpec(channels=tuple(ChannelSpec(f"c{i}", 3 + i) for i in range(5)))
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    reader = MaskReader(open_mask(path))
    try:
        got = [(index, result.stats.n_objects) for index, result in reader.iter_channel_passes([4, 0, 2, 1, 3])]
    finally:
        reader.close()
    assert got == [(4, 7), (0, 3), (2, 5), (1, 4), (3, 6)]


# --- a channel's pass split into parts (threads over disjoint subtrees of tiles) ------------

PART_LAYOUTS = [
    dict(tile=16, width=150, height=110),  # split at a pyramid level: the top levels are shared
    dict(tile=16, width=150, height=110, pyramid_method="mean"),  # bad pixels in every part
    dict(tile=32, width=77, height=45, pyramid_factor=3),
    dict(tile=None, rows_per_strip=7, pyramid_levels=3),  # strips: subtrees are row bands
    dict(tile=16, size_z=3, pyramid_factor=3, dtype="int32"),  # roots over planes
    dict(tile=16, width=64, height=64, pyramid_levels=1),  # no pyramid: halves of level 0
]


def _pass_summary(result):
    levels = [(lv.level, lv.factor, lv.tested, lv.bad, lv.first, lv.errors) for lv in result.pyramid.levels] \
        if result.pyramid else None
    return result.stats, levels


@pytest.mark.parametrize("changes", PART_LAYOUTS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_parts_equal_one_thread(tmp_path, changes, decode_mode):
    from pytest_segmask.checks.label_pass import _plan_parts, _PlanePyramid, run_pass

    mask = replace(MaskSpec(width=120, height=100, channels=(ChannelSpec("c", 60, sparse_ids=True),)), **changes)
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)[0]
    info = open_mask(path)
    reader = MaskReader(info)
    try:
        levels = [reader.plane_levels(0, z) for z in range(info.size_z)]
        geoms = [_PlanePyramid(lv, z) for z, lv in enumerate(levels)]
        plan = _plan_parts(geoms, 3)
        assert len(plan.parts) > 1  # the geometry splits
        events = sorted(plan.upper + [ev for part in plan.parts for ev in part])
        assert [ev[0] for ev in events] == list(range(len(events)))  # every event exactly once
        assert sum(plan.pixels) == info.width * info.height * info.size_z
        one = _pass_summary(run_pass(levels, info.height, info.width, workers=1, lock=reader._lock))
        for workers in (2, 3):
            stats, pyramid = _pass_summary(run_pass(levels, info.height, info.width, workers=workers,
                                                    lock=reader._lock))
            assert_stats_equal(stats, one[0])
            assert pyramid == one[1]
        planes = list(labels) if labels.ndim == 3 else [labels]
        assert_stats_equal(one[0], stats_reference(planes))
        if mask.pyramid_method == "mean":
            assert one[1][0][3] > 0 and len(one[1][0][4]) == 5
    finally:
        reader.close()


@pytest.mark.parametrize("tile1", [(48, 48), (32, 48)])
def test_misaligned_tiles_stay_in_one_part(tmp_path, tile1, monkeypatch):
    """Level tiles of different sizes (32, 48, 32 px): a level-1 tile then feeds two (or, with
    48-px rows, four) level-2 tiles. Split at level 2 (one part per thread), that is state two
    parts would share, so the pass stays in one thread; split lower (a few parts per thread),
    the level-2 tiles are shared above the split. Right either way."""
    import tifffile

    from pytest_segmask.checks import label_pass
    from pytest_segmask.checks.label_pass import _plan_parts, _PlanePyramid

    labels = (np.arange(256 * 256, dtype=np.uint32).reshape(256, 256) // 7) % 500 + 1
    path = tmp_path / "odd.segmentations.ome.tiff"
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(labels, tile=(32, 32), subifds=2, metadata={"axes": "YX"})
        tif.write(labels[::2, ::2], tile=tile1, subfiletype=1)
        tif.write(labels[::4, ::4], tile=(32, 32), subfiletype=1)
    info = open_mask(path)
    reader = MaskReader(info)
    try:
        levels = reader.plane_levels(0, 0)
        assert [(p.page.tilelength, p.page.tilewidth) for p in levels] == [(32, 32), tile1, (32, 32)]
        plan = _plan_parts([_PlanePyramid(levels, 0)], 2)
        # a few parts per thread: split below level 2, which is shared above the split
        assert 2 in {ev[2] for ev in plan.upper} and len(plan.parts) == 2 * label_pass.PARTS_PER_THREAD
        assert plan.threads == 2
        for parts_per_thread in (label_pass.PARTS_PER_THREAD, 1):
            monkeypatch.setattr(label_pass, "PARTS_PER_THREAD", parts_per_thread)
            result = reader.channel_pass(0)
            assert_stats_equal(result.stats, stats_reference([labels]))
            assert result.pyramid.bad_pixels == 0
        assert len(_plan_parts([_PlanePyramid(levels, 0)], 2).parts) == 1  # one part per thread: level 2
    finally:
        reader.close()


def test_level0_failure_in_a_later_part_is_reported_like_one_thread(tmp_path, decode_mode):
    mask = MaskSpec(width=128, height=128, tile=16, pyramid_levels=1, channels=(ChannelSpec("c", 9),))
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    damage_segments(path, [40, 60])  # two damaged tiles, in the second half
    info = open_mask(path)
    reader = MaskReader(info)
    try:
        messages = set()
        for workers in (1, 2, 3):
            with pytest.raises(MaskDecodeError) as err:
                reader.channel_pass(0, workers=workers)
            messages.add(str(err.value))
        [message] = messages
        assert "tile 40 " in message
    finally:
        reader.close()


def test_a_thread_held_up_leaves_the_other_parts_to_the_other_thread(tmp_path, monkeypatch):
    """The parts are taken, in order, by whichever thread is free: while one thread is held up
    on the first tile of part 0, the other takes every later part (a fixed split would leave it
    half of them, and the held thread would never be let go). Results as one thread."""
    import threading

    from pytest_segmask.checks import label_pass

    mask = MaskSpec(width=128, height=128, tile=16, pyramid_levels=1, channels=(ChannelSpec("c", 9),))
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)[0]
    reader = MaskReader(open_mask(path))
    geoms = [label_pass._PlanePyramid(reader.plane_levels(0, 0), 0)]
    plan = label_pass._plan_parts(geoms, 2)
    assert plan.threads == 2 and len(plan.parts) == 16 and [ev[3] for ev in plan.parts[0]] == [0, 1, 2, 3]
    real = label_pass.decode_segment
    seen: list[tuple[str, int]] = []
    guard = threading.Lock()
    holding = threading.Event()
    others_done = threading.Event()

    def held(plane, layout, index, lock, buffers=None):
        if index == 0:
            holding.set()
            assert others_done.wait(20), "the other thread did not take the later parts"
        out = real(plane, layout, index, lock, buffers)
        with guard:
            seen.append((threading.current_thread().name, index))
            if sum(1 for _, i in seen if i >= 4) == 60:
                others_done.set()
        return out

    monkeypatch.setattr(label_pass, "decode_segment", held)
    try:
        # thread 0 first, until it is held on part 0's first tile (kept threads start in any
        # order: thread 1 could otherwise take part 0 before thread 0 runs), then thread 1
        run = reader.prepare_channel_pass(0, workers=2).start(1)
        assert holding.wait(20)
        run.start_rest()
        result = run.result()
    finally:
        reader.close()
    assert_stats_equal(result.stats, stats_reference([labels]))
    by_thread: dict[str, set[int]] = {}
    for name, index in seen:
        by_thread.setdefault(name, set()).add(index)
    assert by_thread == {"segmask-pass-0": set(range(4)), "segmask-pass-1": set(range(4, 64))}


def test_waiting_for_an_idle_thread_starts_a_pass_none_of_whose_threads_runs(tmp_path):
    """``wait_idle`` on a pass started with no thread (``start(0)``) starts them rather than
    wait for ever; it returns the rows the tables hold."""
    import threading

    mask = MaskSpec(width=160, height=160, tile=16, pyramid_levels=1, channels=(ChannelSpec("c0", 40),))
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)
    reader = MaskReader(open_mask(path))
    got = []
    try:
        run = reader.prepare_channel_pass(0, workers=2).start(0)
        assert not any(th.started for th in run._threads)
        waiter = threading.Thread(target=lambda: got.append(run.wait_idle()), daemon=True)
        waiter.start()
        waiter.join(20)
        assert got and got[0] > 0, "wait_idle waited for threads never started"
        result = run.result()
    finally:
        reader.close()
    assert_stats_equal(result.stats, stats_reference([labels[0]]))


def test_the_next_pass_starts_when_a_thread_of_this_one_has_no_part_left(tmp_path, monkeypatch):
    """Channel 0's first tile is held until channel 1's pass decodes a full-resolution tile: the
    other thread takes every other part of channel 0, finds none left, and channel 1's first
    thread starts then, before channel 0's last part is done (waiting for the whole pass would
    never let the held tile go). Results as one thread."""
    import threading

    from pytest_segmask.checks import label_pass, mask_image

    monkeypatch.setattr(mask_image, "SPLIT_MIN_PIXELS", 0)
    mask = MaskSpec(width=128, height=128, tile=16, pyramid_levels=1,
                    channels=(ChannelSpec("c0", 9), ChannelSpec("c1", 7)))
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)
    real = label_pass.decode_segment
    next_started = threading.Event()

    def held(plane, layout, index, lock, buffers=None):
        if plane.channel == "c0" and plane.level == 0 and index == 0:
            assert next_started.wait(20), "channel 1's pass did not start while channel 0's last part ran"
        if plane.channel == "c1" and plane.level == 0:
            next_started.set()
        return real(plane, layout, index, lock, buffers)

    monkeypatch.setattr(label_pass, "decode_segment", held)
    reader = MaskReader(open_mask(path))
    try:
        results = dict(reader.iter_channel_passes([0, 1]))
    finally:
        reader.close()
    assert next_started.is_set()
    for index in (0, 1):
        assert_stats_equal(results[index].stats, stats_reference([labels[index]]))


def test_the_overlap_budget_counts_the_rows_still_to_come(tmp_path, monkeypatch):
    """When a thread of channel 0's pass runs out of parts, the other has not begun its half:
    the rows so far are half the pixels' worth. Set the budget to exactly those rows: the
    predicted rows (scaled by the pixels still to come) exceed it, so channel 1 waits until it
    is asked for, as it would for a channel over the budget."""
    import threading

    from pytest_segmask.checks import label_pass, mask_image

    monkeypatch.setattr(mask_image, "SPLIT_MIN_PIXELS", 0)
    monkeypatch.setattr(label_pass, "PARTS_PER_THREAD", 1)  # two parts: a half each
    mask = MaskSpec(width=128, height=128, tile=16, pyramid_levels=1,
                    channels=(ChannelSpec("c0", 40), ChannelSpec("c1", 7)))
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)
    real_decode, real_wait = label_pass.decode_segment, label_pass.PassRun.wait_idle
    predicted_done = threading.Event()
    seen: list[tuple] = []

    def held(plane, layout, index, lock, buffers=None):
        if plane.channel == "c0" and plane.level == 0 and index == 0:
            assert predicted_done.wait(20), "the pass was not asked for its prediction"
        if plane.channel == "c1" and plane.level == 0 and not seen[-1:] == [("c1",)]:
            seen.append(("c1",))
        return real_decode(plane, layout, index, lock, buffers)

    def waiting(self):
        predicted = real_wait(self)
        so_far = self._rows()
        seen.append(("predicted", so_far, predicted))
        monkeypatch.setattr(mask_image, "OVERLAP_MAX_ROWS", so_far)
        predicted_done.set()
        return predicted

    monkeypatch.setattr(label_pass, "decode_segment", held)
    monkeypatch.setattr(label_pass.PassRun, "wait_idle", waiting)
    reader = MaskReader(open_mask(path))
    try:
        for index, result in reader.iter_channel_passes([0, 1]):
            seen.append(("returned", index))
            assert_stats_equal(result.stats, stats_reference([labels[index]]))
    finally:
        reader.close()
    (_, so_far, predicted), *order = seen
    assert 0 < so_far and predicted == 2 * so_far
    assert order == [("returned", 0), ("c1",), ("returned", 1)]  # channel 1 not started early


def test_small_masks_pass_channels_in_parallel_large_ones_one_at_a_time(tmp_path, monkeypatch):
    from pytest_segmask.checks import mask_image

    mask = MaskSpec(width=64, height=64, tile=16, channels=(ChannelSpec("a", 4), ChannelSpec("b", 5)))
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    reader = MaskReader(open_mask(path))
    try:
        assert not reader._splits(0, 2)  # 64² px: below SPLIT_MIN_PIXELS
        monkeypatch.setattr(mask_image, "SPLIT_MIN_PIXELS", 64 * 64)
        assert reader._splits(0, 2) and not reader._splits(0, 1)
        monkeypatch.setattr(mask_image, "SPLIT_MIN_PIXELS", 64 * 64 + 1)
        assert not reader._splits(0, 2)
    finally:
        reader.close()


def test_a_large_mask_with_few_segments_is_not_split(tmp_path, monkeypatch):
    from pytest_segmask.checks import mask_image

    monkeypatch.setattr(mask_image, "SPLIT_MIN_PIXELS", 0)
    mask = MaskSpec(width=64, height=64, tile=32, pyramid_levels=1, channels=(ChannelSpec("a", 4),))
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    reader = MaskReader(open_mask(path))
    try:
        assert reader._splits(0, 2)  # 4 tiles = 2 × 2 workers
        assert not reader._splits(0, 3)  # fewer than 2 × 3
    finally:
        reader.close()


def test_a_planes_ifds_are_parsed_once_per_reader(tmp_path, monkeypatch):
    """The pass-size decision and the pass itself ask for a channel's planes; their IFDs and
    SubIFDs are parsed once per reader (closing it lets them go); results unchanged."""
    import tifffile

    mask = MaskSpec(width=128, height=128, tile=16, pyramid_levels=3, channels=(ChannelSpec("a", 9),))
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)
    parsed = []
    real = tifffile.TiffPage.__init__
    monkeypatch.setattr(tifffile.TiffPage, "__init__", lambda self, *a, **k: (parsed.append(1), real(self, *a, **k))[1])
    reader = MaskReader(open_mask(path))
    try:
        first = reader.plane_levels(0, 0)
        assert len(first) == 3 and reader.plane_levels(0, 0) is first and reader.planes(0) is first
        count = len(parsed)
        result = reader.channel_pass(0)
        assert len(parsed) == count  # the pass parsed no IFD again
        assert_stats_equal(result.stats, stats_reference([labels[0]]))
    finally:
        reader.close()
    assert reader._levels == {}


def test_a_masks_channels_share_one_plan(tmp_path):
    """The pass's plan is worked out once per geometry: a mask's second channel takes the
    first's (the same lists of events), a mask of other tiles gets its own; results unchanged."""
    from pytest_segmask.checks import label_pass

    plans = []
    for tile in (16, 32):
        mask = MaskSpec(width=128, height=128, tile=tile, pyramid_levels=2,
                        channels=(ChannelSpec("a", 9), ChannelSpec("b", 7)))
        path = tmp_path / f"{tile}-{mask.file_name}"
        labels = write_mask(mask, path)
        reader = MaskReader(open_mask(path))
        try:
            per_channel = [label_pass._plan_parts([label_pass._PlanePyramid(reader.plane_levels(c, 0), 0)], 2)
                           for c in (0, 1)]
            assert per_channel[0] is per_channel[1] and len(per_channel[0].parts) > 1
            plans.append(per_channel[0])
            got = dict(reader.iter_channel_passes([0, 1]))
        finally:
            reader.close()
        for c in (0, 1):
            assert_stats_equal(got[c].stats, stats_reference([labels[c]]))
    assert plans[0] is not plans[1]


def test_many_tiny_tiles_are_streamed_in_one_part(tmp_path, monkeypatch):
    """Past SPLIT_MAX_EVENTS tiles the pass is not split and its events are not listed."""
    from pytest_segmask.checks import label_pass

    mask = MaskSpec(width=64, height=64, tile=16, pyramid_levels=1, channels=(ChannelSpec("a", 4),))
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)[0]
    reader = MaskReader(open_mask(path))
    try:
        geoms = [label_pass._PlanePyramid(reader.plane_levels(0, 0), 0)]
        assert len(label_pass._plan_parts(geoms, 2).parts) == 16  # 16 tiles: 8 parts per thread
        monkeypatch.setattr(label_pass, "SPLIT_MAX_EVENTS", 15)
        [part] = label_pass._plan_parts(geoms, 2).parts
        assert not isinstance(part, list)
        assert_stats_equal(reader.channel_pass(0).stats, stats_reference([labels]))
    finally:
        reader.close()


def test_split_passes_without_positional_reads_finish(tmp_path, monkeypatch):
    """Where a file cannot be read positionally (Windows), every read takes the file's lock,
    which the next channel's preparation holds while it decodes the tiles above the split
    level: the passes still finish (no thread waits on a lock its caller holds), right."""
    import threading

    from pytest_segmask.checks import mask_image
    from pytest_segmask.checks import tiff_stream as ts

    monkeypatch.setattr(mask_image, "SPLIT_MIN_PIXELS", 0)
    monkeypatch.setattr(ts, "_PREAD", False)
    monkeypatch.setattr(ts, "_PREADV", False)
    mask = MaskSpec(width=256, height=256, tile=16, pyramid_levels=4,
                    channels=tuple(ChannelSpec(f"c{i}", 40 + i) for i in range(3)))
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)
    reader = MaskReader(open_mask(path))
    got = {}

    def run():
        for index, result in reader.iter_channel_passes([0, 1, 2]):
            got[index] = result

    try:
        from pytest_segmask.checks.label_pass import _plan_parts, _PlanePyramid

        assert len(_plan_parts([_PlanePyramid(reader.plane_levels(0, 0), 0)], 2).upper) > 1
        th = threading.Thread(target=run, daemon=True)
        th.start()
        th.join(60)
        assert not th.is_alive(), "the passes did not finish"
    finally:
        reader.close()
    for index in range(3):
        assert_stats_equal(got[index].stats, stats_reference([labels[index]]))
        assert got[index].pyramid.bad_pixels == 0


@pytest.mark.parametrize("max_rows", [1 << 21, 4])
def test_large_mask_overlaps_the_next_pass_only_below_the_row_budget(tmp_path, monkeypatch, max_rows):
    """Split passes, one channel at a time: the next channel's pass starts before a channel is
    returned only if the channel's tables hold at most OVERLAP_MAX_ROWS rows, otherwise when it
    is asked for; while the channel is merged it runs one thread (the merge has the other
    core), the rest once the merge is done. The next channel is planned when a thread of the
    channel's pass has no part left (planned as the channel started, it was a third thread
    against the pass's two). The results, a damaged channel included, are the same either
    way."""
    from pytest_segmask.checks import label_pass, mask_image

    monkeypatch.setattr(mask_image, "SPLIT_MIN_PIXELS", 0)
    monkeypatch.setattr(mask_image, "OVERLAP_MAX_ROWS", max_rows)
    mask = MaskSpec(width=64, height=64, tile=16, channels=tuple(ChannelSpec(f"c{i}", 5 + i) for i in range(3)))
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)
    reader = MaskReader(open_mask(path))
    events: list[tuple] = []
    prepared: list[int] = []
    real_start = label_pass.PreparedPass.start
    real_rest = label_pass.PassRun.start_rest
    real_finish = label_pass.finish_parts
    real_prepare = MaskReader.prepare_channel_pass
    real_wait_idle = label_pass.PassRun.wait_idle

    def recording(self, threads=None):
        run = real_start(self, threads)
        running = sum(th.started for th in run._threads)
        events.append(("start", int(self.geoms[0].planes[0].channel[1:]), running))  # channel "c<index>"
        return run

    def rest(self):
        if not all(th.started for th in self._threads):
            events.append(("rest",))
        return real_rest(self)

    def merging(accs, *args, **kwargs):
        events.append(("merge",))
        return real_finish(accs, *args, **kwargs)

    def preparing(self, index, workers=2):
        prepared.append(index)
        events.append(("prepare", index))
        return real_prepare(self, index, workers)

    def waiting(self):
        rows = real_wait_idle(self)
        events.append(("idle",))
        return rows

    monkeypatch.setattr(label_pass.PreparedPass, "start", recording)
    monkeypatch.setattr(label_pass.PassRun, "start_rest", rest)
    monkeypatch.setattr(label_pass, "finish_parts", merging)
    monkeypatch.setattr(MaskReader, "prepare_channel_pass", preparing)
    monkeypatch.setattr(label_pass.PassRun, "wait_idle", waiting)
    try:
        assert reader._splits(0, 2)
        for index, result in reader.iter_channel_passes([0, 1, 2]):
            events.append(("returned", index))
            assert_stats_equal(result.stats, stats_reference([labels[index]]))
            # the next channel is always planned before this one is returned
            assert prepared == list(range(min(index + 2, 3)))
    finally:
        reader.close()
    if max_rows == 4:  # channel c holds 5 + c objects: more rows than 4: never overlapped
        assert events == [("prepare", 0), ("start", 0, 2), ("idle",), ("prepare", 1), ("merge",), ("returned", 0),
                          ("start", 1, 2), ("idle",), ("prepare", 2), ("merge",), ("returned", 1),
                          ("start", 2, 2), ("merge",), ("returned", 2)]
    else:  # always one ahead: one thread during the merge, both after it
        assert events == [("prepare", 0), ("start", 0, 2), ("idle",), ("prepare", 1), ("start", 1, 1), ("merge",),
                          ("rest",), ("returned", 0),
                          ("idle",), ("prepare", 2), ("start", 2, 1), ("merge",), ("rest",), ("returned", 1),
                          ("merge",), ("returned", 2)]


def test_overlapped_passes_report_a_damaged_channel_in_its_place(tmp_path, monkeypatch):
    from pytest_segmask.checks import mask_image

    monkeypatch.setattr(mask_image, "SPLIT_MIN_PIXELS", 0)
    mask = MaskSpec(width=64, height=64, tile=16, pyramid_levels=1,
                    channels=tuple(ChannelSpec(f"c{i}", 4) for i in range(3)))
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    damage_segments(path, [5], page=1)  # a level-0 tile of the second channel
    reader = MaskReader(open_mask(path))
    try:
        got = [(i, type(r).__name__) for i, r in reader.iter_channel_passes([0, 1, 2])]
        with pytest.raises(MaskDecodeError) as err:
            reader.channel_pass(1)
    finally:
        reader.close()
    assert got == [(0, "ChannelPass"), (1, "MaskDecodeError"), (2, "ChannelPass")]
    assert "tile 5 " in str(err.value)


def test_a_pass_in_one_part_decodes_ahead_only_segments_worth_a_hand_over(tmp_path, monkeypatch):
    """One part: small segments are decoded inline (a hand-over between threads costs more than
    decoding them), segments of AHEAD_MIN_PIXELS or more on a pool ahead of the reducing
    thread. The statistics are the same either way."""
    from pytest_segmask.checks import label_pass

    pools = []
    real_pool = label_pass.ThreadPoolExecutor
    monkeypatch.setattr(label_pass, "ThreadPoolExecutor", lambda n: (pools.append(n), real_pool(n))[1])
    mask = MaskSpec(width=128, height=96, tile=32, channels=(ChannelSpec("c", 12),))
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)[0]
    reader = MaskReader(open_mask(path))
    try:
        for threshold, expected in ((32 * 32 + 1, []), (32 * 32, [1])):
            monkeypatch.setattr(label_pass, "AHEAD_MIN_PIXELS", threshold)
            pools.clear()
            result = reader.channel_pass(0, workers=1)
            assert pools == expected
            assert_stats_equal(result.stats, stats_reference([labels]))
    finally:
        reader.close()


def test_the_decode_ahead_threshold_lies_between_small_tiles_and_strips_of_32k_pixels():
    from pytest_segmask.checks import label_pass

    assert 128 * 128 < label_pass.AHEAD_MIN_PIXELS <= 16 * 2048
