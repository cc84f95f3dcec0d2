"""The streaming label pass against the numpy reference at its edges, through the public entry
points only (``run_pass``, ``stats_of_planes``, ``check_labels``) on small crafted TIFFs: images
past 65,536 px in one direction (uint32 coordinates, objects over the uint32-sum promotion
threshold), ids near 2^32, ids that defeat identity hashing, more than 16,384 objects in one
tile, repeated rows, negative pixels in several tiles, 3D; the pyramid block test with odd
sizes, factors 3 and 4, edge tiles, undecodable tiles, examples capped at 5 and counts
asserted; and check_labels' findings and notes whole."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tifffile

from pytest_segmask.checks.channel_stats import ChannelStats, check_labels, stats_reference
from pytest_segmask.checks.label_pass import run_pass, stats_of_planes
from pytest_segmask.checks.mask_image import ChannelNotInFile, MaskInfo
from pytest_segmask.checks.tiff_stream import MaskDecodeError, Plane
from pytest_segmask.findings import Authority, Severity
from conftest import assert_stats_equal, damage_segments


def write(path, planes, **layout):
    layout = {"compression": "zlib", **layout}
    with tifffile.TiffWriter(path) as tif:
        for plane in planes:
            tif.write(plane, photometric="minisblack", metadata=None, **layout)
    return path


def streamed(path, workers):
    with tifffile.TiffFile(path) as tif:
        planes = [Plane(page, path.name, "c", 0, z) for z, page in enumerate(tif.pages)]
        return stats_of_planes(planes, workers=workers)


def check(path, planes, workers=(1, 2)):
    ref = stats_reference(planes)
    for w in workers:
        assert_stats_equal(streamed(path, w), ref)
    return ref


# --- statistics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, layout", [
    ((8, 70_000), dict(tile=(16, 4096))),
    ((8, 70_000), dict(rowsperstrip=3)),
    ((70_000, 8), dict(tile=(4096, 16))),
])
def test_past_65536_px_and_over_the_promotion_threshold(tmp_path, shape, layout):
    """2^32 // 70,000 = 61,356 px: object 1 (280,000 px) is promoted to 64-bit sums, whose
    x (or y) sum exceeds 2^32; boxes past 65,535 need 32-bit coordinates."""
    plane = np.zeros(shape, np.uint32)
    long_axis = int(np.argmax(shape))
    if long_axis == 1:
        plane[:4, :] = 1
        plane[4:6, 65_530:65_545] = 2
        plane[6:, 69_990:] = 0xFFFF_FFFF
        plane[5, 100:61_500] = 3  # 61,400 px: just past the threshold
        plane[7, 100:61_300] = 4  # 61,200 px: just below it
    else:
        plane[:, :4] = 1
        plane[65_530:65_545, 4:6] = 2
        plane[69_990:, 6:] = 0xFFFF_FFFF
        plane[100:61_500, 5] = 3
        plane[100:61_300, 7] = 4
    path = write(tmp_path / "wide.tiff", [plane], **layout)
    ref = check(path, [plane])
    assert list(ref.ids) == [1, 2, 3, 4, 0xFFFF_FFFF]
    assert int(ref.bbox[1].max()) > 65_535


def test_more_than_16384_objects_in_one_tile_and_sparse_ids(tmp_path):
    rng = np.random.default_rng(5)
    dense = rng.integers(0, 30_000, (256, 256)).astype(np.uint32)  # ~26,000 ids in one 256² tile
    sparse = (rng.integers(0, 40_000, (256, 256)).astype(np.uint32) * 100_003) % 0xFFFF_FFFF
    for name, plane in (("dense", dense), ("sparse", sparse)):
        path = write(tmp_path / f"{name}.tiff", [plane], tile=(256, 256))
        assert check(path, [plane]).n_objects > 16_384
        path = write(tmp_path / f"{name}-tiles.tiff", [plane], tile=(64, 64))
        check(path, [plane])


def test_ids_that_defeat_identity_hashing(tmp_path):
    ids = ((np.arange(1, 4001, dtype=np.uint64) << np.uint64(20)) | np.uint64(1)).astype(np.uint32)
    plane = np.repeat(ids, 4).reshape(80, 200)
    check(write(tmp_path / "pattern.tiff", [plane], tile=(32, 64)), [plane])


def test_repeated_rows_and_runs(tmp_path):
    rng = np.random.default_rng(6)
    rows = rng.integers(0, 5, (20, 96)).astype(np.uint16)
    plane = np.repeat(np.repeat(rows, 4, axis=0), 2, axis=1)  # every row 4×, runs of 2
    plane[40:44] = 0
    plane[60:64] = 7  # whole rows of one id, equal to the row above
    check(write(tmp_path / "rows.tiff", [plane], rowsperstrip=5), [plane])
    check(write(tmp_path / "rows-t.tiff", [plane], tile=(16, 64)), [plane])


def test_negative_pixels_first_in_reading_order(tmp_path):
    plane = np.zeros((64, 64), np.int16)
    plane[2:10, 2:10] = 3
    plane[40, 5] = -1  # tile (1, 0)
    plane[3, 60] = -7  # tile (0, 1): earlier in (y, x) order
    plane[50, 50] = -2
    ref = check(write(tmp_path / "neg.tiff", [plane], tile=(32, 32)), [plane])
    assert ref.first_negative == (0, 3, 60) and ref.negative_pixels == 3
    planes = [np.zeros((40, 48), np.int32) for _ in range(3)]
    planes[0][5:20, 5:20] = 9
    planes[1][5:25, 10:30] = 9
    planes[2][30, 40] = 4
    planes[2][1, 1] = -5
    planes[1][39, 47] = -1
    ref = check(write(tmp_path / "neg3d.tiff", planes, tile=(16, 16)), planes)
    assert ref.first_negative == (1, 39, 47) and list(ref.ids) == [4, 9] and list(ref.z_range[1]) == [0, 1]


def test_3d_objects_across_planes(tmp_path):
    rng = np.random.default_rng(7)
    planes = [rng.integers(0, 50, (50, 70)).astype(np.uint16) for _ in range(4)]
    check(write(tmp_path / "vol.tiff", planes, tile=(16, 32)), planes)


def test_empty_and_single_pixel_channels(tmp_path):
    empty = np.zeros((20, 30), np.uint8)
    ref = check(write(tmp_path / "empty.tiff", [empty]), [empty])
    assert ref.n_objects == 0 and ref.max_id == 0 and ref.background_fraction == 1.0
    one = empty.copy()
    one[19, 29] = 255
    ref = check(write(tmp_path / "one.tiff", [one], tile=(16, 16)), [one])
    assert list(ref.bbox[0]) == [19, 29, 19, 29]


# --- the pyramid block test ---------------------------------------------------------------------


def block_reference(child, parent, f):
    """(tested, bad, first five bad (y, x)) of level k = parent against level k − 1 = child."""
    h, w = child.shape
    bad = []
    tested = 0
    for y in range(parent.shape[0]):
        for x in range(parent.shape[1]):
            block = child[y * f:min(h, (y + 1) * f), x * f:min(w, (x + 1) * f)]
            if block.size == 0:
                continue
            tested += 1
            if parent[y, x] not in block:
                bad.append((y, x))
    return tested, len(bad), bad[:5]


def write_pyramid(path, levels, tile):
    with tifffile.TiffWriter(path) as tif:
        layout = dict(photometric="minisblack", metadata=None, compression="zlib")
        layout.update(dict(tile=tile) if tile else dict(rowsperstrip=7))
        tif.write(levels[0], subifds=len(levels) - 1, **layout)
        for level in levels[1:]:
            tif.write(level, subfiletype=1, **layout)
    return path


def pyramid_pass(path, workers):
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        levels = [Plane(page, path.name, "c", 0)] + [Plane(p, path.name, "c", k)
                                                     for k, p in enumerate(page.pages, start=1)]
        h, w = levels[0].shape
        result = run_pass([levels], h, w, workers=workers)
    assert result.held_to_end == 0  # every pyramid tile was released by the last tile under it
    return result


def averaged(labels, f):
    """A level averaged over f × f blocks (invents ids), ceil-sized."""
    h, w = labels.shape
    out = np.zeros((-(-h // f), -(-w // f)), labels.dtype)
    for y in range(out.shape[0]):
        for x in range(out.shape[1]):
            out[y, x] = labels[y * f:(y + 1) * f, x * f:(x + 1) * f].astype(np.float64).mean()
    return out


@pytest.mark.parametrize("f, shape, tile", [
    (2, (77, 45), (16, 16)), (3, (100, 71), (16, 32)), (4, (67, 90), None), (3, (48, 48), (16, 16)),
])
def test_block_test_counts_match_numpy(tmp_path, f, shape, tile):
    rng = np.random.default_rng(f)
    labels = np.repeat(np.repeat(rng.integers(1, 60, (shape[0] // 5 + 1, shape[1] // 5 + 1)), 5, 0), 5, 1)
    labels = labels[:shape[0], :shape[1]].astype(np.uint16)
    level1 = averaged(labels, f)  # mostly bad
    level2 = level1[::f, ::f].copy()  # nearest: every pixel good
    level2[0, 0] = 60_000  # one bad pixel
    path = write_pyramid(tmp_path / "p.tiff", [labels, level1, level2], tile)
    for workers in (1, 2):
        result = pyramid_pass(path, workers)
        assert_stats_equal(result.stats, stats_reference([labels]))
        lv1, lv2 = result.pyramid.levels
        assert (lv1.level, lv1.factor, lv2.level, lv2.factor) == (1, f, 2, f)
        tested, bad, first = block_reference(labels, level1, f)
        assert (lv1.tested, lv1.bad, lv1.first) == (tested, bad, [(0, y, x) for y, x in first])
        assert bad > 5 and len(lv1.first) == 5 and lv1.errors == []
        tested, bad, first = block_reference(level1, level2, f)
        assert (lv2.tested, lv2.bad, lv2.first) == (tested, 1, [(0, 0, 0)])


@pytest.mark.parametrize("f, shape, tile, workers, inside, call_rows", [
    (3, (300, 250), (96, 96), 1, "all", None),  # one thread: every level-0 tile under one parent
    (2, (600, 600), (64, 64), 2, "all", None),  # split at level 1: each thread owns its parents
    (3, (300, 250), (96, 96), 2, "none", None),  # split at level 0: level-1 parents shared by threads
    # level-1 tiles of 32 px: a level-0 tile (64 px → 21⅓ parent px) lies under one or two
    (3, (300, 250), [(64, 64), (32, 32), (32, 32)], 1, "some", None),
    # kernel calls of 7 rows: a counting test's calls are cut on whole blocks of 3 rows
    (3, (300, 250), (96, 96), 1, "all", 7),
])
def test_block_test_inside_the_statistics_matches_numpy(tmp_path, monkeypatch, f, shape, tile, workers, inside,
                                                        call_rows):
    """A level-0 tile under one parent that no other thread uses is block-tested inside its
    statistics (``StatsAccumulator.add(test=…)``, TEST_STRIP rows at a time, the equal-row scan
    running past strips); the others apart. Counts and examples equal the numpy reference
    either way, and each way is taken where expected."""
    from pytest_segmask.checks import channel_stats, label_kernels

    if call_rows:
        monkeypatch.setattr(channel_stats, "CHUNK_PIXELS", call_rows * tile[1])

    tiles = tile if isinstance(tile, list) else [tile] * 3
    assert label_kernels.TEST_STRIP < tiles[0][0]  # several strips per tile
    rng = np.random.default_rng(sum(shape))
    # objects 6 rows tall: runs of equal rows cross the strip boundaries
    labels = np.repeat(np.repeat(rng.integers(1, 4000, (shape[0] // 6 + 1, shape[1] // 5 + 1)), 6, 0), 5, 1)
    labels = labels[:shape[0], :shape[1]].astype(np.uint32)
    labels[20:64] = 0  # equal rows to the end of a 64-row tile: the scan leaves the last strip untested
    level1 = labels[::f, ::f].copy()
    bad1 = [(y, x) for y in range(3, level1.shape[0], 17) for x in range(level1.shape[1] - 1, 0, -29)]
    for y, x in bad1:
        level1[y, x] = 4001 + y  # matches no pixel of its block
    level2 = level1[::f, ::f].copy()
    level2[-1, 0] = 9
    path = tmp_path / "p.tiff"
    with tifffile.TiffWriter(path) as tif:
        for k, (level, t) in enumerate(zip([labels, level1, level2], tiles)):
            tif.write(level, photometric="minisblack", metadata=None, compression="zlib", tile=t,
                      **({"subifds": 2} if k == 0 else {"subfiletype": 1}))
    ways = []
    original = channel_stats.StatsAccumulator.add

    def add(self, *args, **kwargs):
        ways.append((args[6:] or [kwargs.get("test")])[0] is not None)  # tested inside, or not
        return original(self, *args, **kwargs)

    monkeypatch.setattr(channel_stats.StatsAccumulator, "add", add)
    result = pyramid_pass(path, workers)
    assert_stats_equal(result.stats, stats_reference([labels]))
    lv1, lv2 = result.pyramid.levels
    for lv, child, parent in ((lv1, labels, level1), (lv2, level1, level2)):
        tested, bad, first = block_reference(child, parent, f)
        assert (lv.tested, lv.bad, lv.first) == (tested, bad, [(0, y, x) for y, x in first])
    assert lv1.bad == len(bad1) > 5
    assert {"all": all(ways), "none": not any(ways), "some": any(ways) and not all(ways)}[inside]


@pytest.mark.parametrize("f, tiles, counting", [
    (2, [(16, 16), (16, 16)], [True]),  # tiles of 16 px: a 2 × 2 block never spans two
    (3, [(48, 48), (16, 16)], [True]),
    (3, [(16, 16), (16, 16)], [False]),  # 16 = 5 × 3 + 1: blocks span two tiles
    (3, [(48, 64), (16, 16)], [False]),  # rows whole blocks, two columns of tiles 64 px wide: not
    (3, [(64, 48), (16, 16)], [False]),  # and the other way round
    (2, [(32, 32), (16, 16), (16, 16)], [True, True]),
    (3, [(48, 48), (32, 32), (16, 16)], [True, False]),
])
def test_block_test_counts_where_no_block_spans_two_tiles(tmp_path, monkeypatch, f, tiles, counting):
    """Where no f × f block spans two child tiles (tile sides multiples of f) each parent pixel
    is judged by one child tile alone: its tiles' tests add counts and keep no per-pixel marks;
    elsewhere the marks are kept and tallied. Either way as numpy's reference."""
    from pytest_segmask.checks import label_kernels

    levels = [np.repeat(np.repeat(np.arange(1, 26 * 29 + 1, dtype=np.uint32).reshape(26, 29), 4, 0), 3, 1)]  # 104 × 87
    for _ in tiles[1:]:
        level = levels[-1][::f, ::f].copy()
        level[1::5, 2::3] = 60_000 + len(levels)  # bad pixels (an id of no block) in every tile
        levels.append(level)
    path = tmp_path / "p.tiff"
    with tifffile.TiffWriter(path) as tif:
        for k, (level, t) in enumerate(zip(levels, tiles)):
            tif.write(level, photometric="minisblack", metadata=None, compression="zlib", tile=t,
                      **({"subifds": len(levels) - 1} if k == 0 else {"subfiletype": 1}))
    tallied = []
    real = label_kernels.tally_matched
    monkeypatch.setattr(label_kernels, "tally_matched", lambda m, *a: (tallied.append(m.shape), real(m, *a))[1])
    for workers in (1, 2):
        tallied.clear()
        result = pyramid_pass(path, workers)
        for k, lv in enumerate(result.pyramid.levels):
            tested, bad, first = block_reference(levels[k], levels[k + 1], f)
            assert (lv.tested, lv.bad, lv.first) == (tested, bad, [(0, y, x) for y, x in first])
            assert bad > 5
        # a tally per parent tile of the levels that keep marks
        assert len(tallied) == sum(0 if c else math.prod(-(-s // t) for s, t in zip(levels[k + 1].shape, tiles[k + 1]))
                                   for k, c in enumerate(counting))


@pytest.mark.parametrize("tile0", [16, 48])  # level-0 tiles: 16 % 3 ≠ 0, marks kept; 48: counting
def test_parent_pixels_past_the_child_levels_extent_are_not_judged(tmp_path, tile0):
    """A level 1 of 17 × 17 px over 48 × 48 (factor round(48 / 17) = 3): its row and column
    16 have no source pixel (48 / 3 = 16), and a parent tile may hold nothing else. Those
    pixels are neither judged nor bad, whether the test keeps marks or counts."""
    labels = np.repeat(np.repeat(np.arange(1, 65, dtype=np.uint16).reshape(8, 8), 6, 0), 6, 1)  # 48 × 48
    level1 = np.full((17, 17), 999, np.uint16)  # 999: no source pixel has it
    level1[:16, :16] = labels[::3, ::3]
    path = tmp_path / "past.tiff"
    with tifffile.TiffWriter(path) as tif:  # level 1 in 16-px tiles: its second row and column of tiles hold only pixel 16
        tif.write(labels, photometric="minisblack", metadata=None, compression="zlib", tile=(tile0, tile0), subifds=1)
        tif.write(level1, photometric="minisblack", metadata=None, compression="zlib", tile=(16, 16), subfiletype=1)
    for workers in (1, 2):
        lv = pyramid_pass(path, workers).pyramid.levels[0]
        assert (lv.factor, lv.tested, lv.bad, lv.first) == (3, 16 * 16, 0, [])


def test_block_test_edge_blocks_are_partial(tmp_path):
    """Level 1 of a 5 × 5 image with factor 2 is 3 × 3: its last row and column come from
    1-pixel-wide blocks; a value from outside the block is bad, one from inside is good."""
    labels = np.arange(1, 26, dtype=np.uint16).reshape(5, 5)
    level1 = labels[::2, ::2].copy()
    level1[2, 2] = labels[4, 4]  # the only pixel of its block
    level1[2, 1] = labels[4, 3]  # inside its 1 × 2 block
    level1[1, 2] = labels[3, 3]  # outside its 2 × 1 block (columns 4 only)
    path = write_pyramid(tmp_path / "edge.tiff", [labels, level1], None)
    lv = pyramid_pass(path, 1).pyramid.levels[0]
    assert (lv.tested, lv.bad, lv.first) == (9, 1, [(0, 1, 2)])


def test_undecodable_level_tile_is_excluded_and_named(tmp_path, decode_mode):
    labels = np.repeat(np.repeat(np.arange(1, 65, dtype=np.uint16).reshape(8, 8), 8, 0), 8, 1)  # 64 × 64
    level1 = labels[::2, ::2].copy()  # 32 × 32: 4 tiles of 16
    level2 = level1[::2, ::2].copy()  # 16 × 16: 1 tile
    path = write_pyramid(tmp_path / "bad.tiff", [labels, level1, level2], (16, 16))
    damage_segments(path, [3], level=1)
    for workers in (1, 2):
        result = pyramid_pass(path, workers)
        lv1, lv2 = result.pyramid.levels
        assert lv1.errors == [f"{path.name}: tile 3 (pixels y 16…, x 16…) of channel 'c', level 1 cannot be "
                              "decoded: its compressed bytes are not valid for the declared compression"]
        assert (lv1.tested, lv1.bad) == (32 * 32 - 16 * 16, 0)
        assert (lv2.tested, lv2.bad, lv2.errors) == (16 * 16 - 8 * 8, 0, [])
        assert_stats_equal(result.stats, stats_reference([labels]))


def test_undecodable_level_tile_excludes_exactly_the_parent_pixels_it_feeds(tmp_path, decode_mode):
    """Level 1 is 45 × 45 in 16-px tiles (3 × 3, the last row and column 13 px): a broken first
    tile (y, x 0–15) feeds level-2 pixels 0–7 and nothing of column or row 8, which lie in the
    same level-2 tile; a broken corner tile (y, x 32–44, odd) feeds 16–22, row and column 22
    by a one-pixel block of its own."""
    labels = (np.arange(90 * 90, dtype=np.uint32).reshape(90, 90) // 3) % 97 + 1
    level1 = labels[::2, ::2].copy()  # 45 × 45
    level2 = level1[::2, ::2].copy()  # 23 × 23: every pixel good
    path = write_pyramid(tmp_path / "odd.tiff", [labels, level1, level2], (16, 16))
    damage_segments(path, [0, 8], level=1)
    for workers in (1, 2):
        lv1, lv2 = pyramid_pass(path, workers).pyramid.levels
        assert len(lv1.errors) == 2 and (lv1.tested, lv1.bad) == (45 * 45 - 16 * 16 - 13 * 13, 0)
        assert (lv2.tested, lv2.bad, lv2.errors) == (23 * 23 - 8 * 8 - 7 * 7, 0, [])


@pytest.mark.parametrize("rows, cols", [(56, 64), (64, 56)])
def test_level_smaller_than_level_0_over_f_leaves_the_last_level_0_tiles_unpaired(tmp_path, rows, cols):
    """Level 1 of a 128² image cut to 56 rows (or columns), factor 2: the level-0 tiles at 112–127
    feed no level-1 pixel, and the level-1 tiles above them are fed by the tiles at 96–111 only."""
    labels = (np.arange(128 * 128, dtype=np.uint32).reshape(128, 128) // 3) % 89 + 1
    level1 = labels[::2, ::2][:rows, :cols].copy()
    path = write_pyramid(tmp_path / "short.tiff", [labels, level1], (16, 16))
    for workers in (1, 2):
        result = pyramid_pass(path, workers)
        [lv] = result.pyramid.levels
        assert (lv.factor, lv.tested, lv.bad, lv.errors) == (2, rows * cols, 0, [])
        assert_stats_equal(result.stats, stats_reference([labels]))


@pytest.mark.parametrize("workers", [1, 2])
def test_one_pixel_wide_last_tiles_are_counted_as_children(tmp_path, workers):
    """129 × 129 in 16-px tiles: the last tile row and column are 1 px; level 1 (65²) and level 2
    (33²) end the same way, so the tile over them has exactly one child per direction."""
    labels = (np.arange(129 * 129, dtype=np.uint32).reshape(129, 129) // 7) % 101 + 1
    level1 = labels[::2, ::2].copy()
    level2 = level1[::2, ::2].copy()
    level2[32, 32] = 5_000  # the one bad pixel, in the corner tile
    path = write_pyramid(tmp_path / "one.tiff", [labels, level1, level2], (16, 16))
    lv1, lv2 = pyramid_pass(path, workers).pyramid.levels
    assert (lv1.tested, lv1.bad) == (65 * 65, 0)
    assert (lv2.tested, lv2.bad, lv2.first) == (33 * 33, 1, [(0, 32, 32)])


def test_each_level_keeps_its_own_factor_and_a_damaged_level_layout_is_named(tmp_path):
    """Levels of factors 2 then 3; then the same file with level 2's first tile offset pointing
    past the end of the file: level 2 is not compared and its layout error is named."""
    labels = (np.arange(96 * 96, dtype=np.uint32).reshape(96, 96) // 5) % 61 + 1
    level1 = labels[::2, ::2].copy()  # 48²
    level2 = level1[::3, ::3].copy()  # 16²
    path = write_pyramid(tmp_path / "f23.tiff", [labels, level1, level2], (16, 16))
    lv1, lv2 = pyramid_pass(path, 2).pyramid.levels
    assert (lv1.level, lv1.factor, lv1.tested, lv2.level, lv2.factor, lv2.tested) == (1, 2, 48 * 48, 2, 3, 16 * 16)
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].pages[1].tags["ImageWidth"]
        where, size = tag.valueoffset, {3: 2, 4: 4}[int(tag.dtype)]  # SHORT or LONG
    raw = bytearray(path.read_bytes())
    raw[where:where + size] = (40).to_bytes(size, "little")  # 3 tiles wide, 1 offset listed
    path.write_bytes(bytes(raw))
    result = pyramid_pass(path, 2).pyramid
    lv1, lv2 = result.levels
    assert (lv1.level, lv1.factor, lv1.tested, lv1.errors) == (1, 2, 48 * 48, [])
    assert (lv2.level, lv2.tested, lv2.errors) == (2, 0, [
        f"{path.name}: channel 'c' level 2: it declares 3 segments but lists 1 offsets"])


def test_level_not_compared_notes(tmp_path):
    labels = np.ones((32, 32), np.uint16)
    path = write_pyramid(tmp_path / "same.tiff", [labels, labels.copy()], (16, 16))
    result = pyramid_pass(path, 1)
    assert result.pyramid.notes == ["level 1 not compared: it is not smaller than level 0 (see the pyramid item)"]
    assert result.pyramid.levels == []
    with tifffile.TiffWriter(tmp_path / "dtype.tiff") as tif:
        tif.write(labels, subifds=1, tile=(16, 16), photometric="minisblack", metadata=None)
        tif.write(labels[::2, ::2].astype(np.uint8), subfiletype=1, tile=(16, 16), photometric="minisblack")
    result = pyramid_pass(tmp_path / "dtype.tiff", 1)
    assert result.pyramid.notes == [
        "level 1 not compared: its pixel type uint8 differs from level 0 (see the pyramid item)"]


def test_undecodable_full_resolution_stops_the_pass(tmp_path, decode_mode):
    labels = np.ones((32, 32), np.uint16)
    path = write_pyramid(tmp_path / "l0.tiff", [labels, labels[::2, ::2].copy()], (16, 16))
    damage_segments(path, [2])
    for workers in (1, 2):
        with pytest.raises(MaskDecodeError) as exc:
            pyramid_pass(path, workers)
        assert str(exc.value) == (f"{path.name}: tile 2 (pixels y 16…, x 0…) of channel 'c', level 0 cannot be "
                                  "decoded: its compressed bytes are not valid for the declared compression")


# --- check_labels: findings and notes whole -----------------------------------------------------


INFO = MaskInfo(path=__import__("pathlib").Path("m.tiff"), display="m.tiff", readable=True)


def labels_result(planes):
    return check_labels(stats_reference(planes), INFO, "c")


def test_check_labels_notes_and_sparse_boundary():
    plane = np.zeros((4, 10), np.uint16)
    plane[0, :3] = [1, 2, 30]  # max id 30 = 10 × 3 objects: not sparse
    result = labels_result([plane])
    assert result.findings == [] and result.data == {"objects": 3}
    assert result.notes == ["channel 'c': 3 object(s), max id 30, background 92.5% of 40 px"]
    plane[0, 0] = 31  # ids 2, 30, 31
    [finding] = labels_result([plane]).findings
    assert (finding.code, finding.severity, finding.authority, finding.message) == (
        "LABELS-SPARSE", Severity.WARNING, Authority.PRACTICE,
        "m.tiff: channel 'c' has max id 31 for only 3 object(s); ids need not be contiguous, but this looks "
        "like unrelabelled or wrongly typed labels")
    assert labels_result([plane, plane]).notes == [
        "channel 'c': 3 object(s), max id 31, background 92.5% of 80 px over 2 planes"]


def test_check_labels_empty_and_negative():
    result = labels_result([np.zeros((2, 3), np.int8)])
    assert [(f.code, f.severity, f.authority, f.message) for f in result.findings] == [
        ("LABELS-EMPTY", Severity.WARNING, Authority.PRACTICE, "m.tiff: channel 'c' holds no objects (every pixel is 0)")]
    assert result.notes == ["channel 'c': 0 object(s), max id 0, background 100.0% of 6 px"]
    plane = np.array([[0, 2, -1], [-3, 0, 2]], np.int8)
    result = labels_result([np.zeros((2, 3), np.int8), plane])
    assert [(f.code, f.severity, f.authority, f.message, f.location.pixel) for f in result.findings] == [
        ("LABELS-NEGATIVE", Severity.ERROR, Authority.SCHEMA,
         "m.tiff: channel 'c' holds 2 negative pixel(s); the first is at plane 1, y 0, x 2 — object ids start at 1 "
         "and 0 is background", (0, 2))]


def test_check_labels_on_errors():
    [finding] = check_labels(MaskDecodeError("tile 3 is broken"), INFO, "c").findings
    assert (finding.code, finding.severity, finding.authority, finding.message, finding.location.channel) == (
        "LABELS", Severity.ERROR, Authority.INGEST, "tile 3 is broken", "c")
    [finding] = check_labels(ChannelNotInFile("channel 'c' has no plane in m.tiff"), INFO, "c").findings
    assert (finding.code, finding.severity, finding.authority, finding.message) == (
        "LABELS", Severity.ERROR, Authority.SCHEMA, "m.tiff: channel 'c' has no plane in m.tiff")


def test_channel_stats_accessors():
    plane = np.array([[0, 5, 5], [9, 0, 0]], np.uint16)
    stats = stats_reference([plane])
    np.testing.assert_array_equal(stats.index_of(np.array([9, 1, 5, 10])), [1, -1, 0, -1])
    assert stats.max_id == 9 and stats.n_objects == 2 and stats.background_fraction == 0.5
    assert stats.bbox.dtype == np.int64 and stats.z_range is None
    empty = ChannelStats(ids=np.zeros(0, np.uint32), counts=np.zeros(0, np.uint32), centroid_x=np.zeros(0, np.float32),
                         centroid_y=np.zeros(0, np.float32), bbox_compact=np.zeros((0, 4), np.uint16), n_pixels=0,
                         background_pixels=0)
    np.testing.assert_array_equal(empty.index_of(np.array([1, 2])), [-1, -1])
    assert empty.max_id == 0 and empty.background_fraction == 1.0 and empty.nbytes == 0
    # the defaults of a 2D channel without negative pixels
    assert (empty.planes, empty.negative_pixels, empty.first_negative) == (1, 0, None)
    assert empty.centroid_z is None and empty.z_range_compact is None
    assert stats.nbytes == sum(a.nbytes for a in (stats.ids, stats.counts, stats.centroid_x, stats.centroid_y,
                                                  stats.bbox_compact))


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_objects_split_between_parts_at_the_image_edges(tmp_path, workers):
    """Objects whose tiles go to different threads are merged; the merged box and z range start
    from nothing (an object in column 0, row 0 or plane 0 keeps a maximum of 0)."""
    planes = [np.zeros((64, 64), np.uint16) for _ in range(3)]
    planes[0][:, 0] = 5  # column 0 of plane 0, every tile row
    planes[0][0, :] = 6  # row 0 of plane 0
    planes[0][63, 63] = 6
    planes[1][:, 0] = 7
    planes[2][10:50, 20:40] = 8
    ref = check(write(tmp_path / "edges.tiff", planes, tile=(16, 16)), planes, workers=(1, workers))
    assert list(ref.bbox[0]) == [1, 0, 63, 0] and list(ref.z_range[0]) == [0, 0]
    single = [planes[0]]
    check(write(tmp_path / "edges2d.tiff", single, tile=(16, 16)), single, workers=(workers,))


def test_a_million_objects_use_mapped_tables(tmp_path):
    """Over 4 MiB of per-object state: the accumulator's tables live in their own mappings."""
    rng = np.random.default_rng(9)
    plane = (rng.permutation(1 << 20).astype(np.uint32) + 1).reshape(1024, 1024)
    plane[:8, :8] = 77  # one object of 64 px among a million of one
    path = write(tmp_path / "million.tiff", [plane], tile=(256, 256), compression=None)
    check(path, [plane], workers=(1,))


@pytest.mark.parametrize("scramble", [False, True])
@pytest.mark.parametrize("clear", [True, False])
def test_rehash_keeps_every_row_reachable_by_linear_probing(scramble, clear):
    """After ``rehash`` each id is found by the lookup's probe (slot, slot+1, …) before an empty
    slot (0; a slot holds row + 1): colliding ids sit in consecutive slots, none is lost or
    skipped. ``clear`` empties a used table first; without it the table is taken as empty (a
    fresh one) and only the slots rows land in are written."""
    from pytest_segmask.checks import label_kernels as K

    hbits = 6
    size = 1 << hbits
    # ids colliding on a few home slots (identity: id mod 64), with wrap-around at the end
    gid = np.array([3, 67, 131, 195, 62, 126, 190, 254, 318, 5, 9, 73, 137], np.uint32)
    n = len(gid)
    hidx = np.full(size, 7, np.int32) if clear else np.zeros(size, np.int32)  # garbage, or fresh
    K.rehash(gid, n, hidx, hbits, scramble, clear)
    assert sorted(hidx[hidx > 0].tolist()) == list(range(1, n + 1))  # every row once, nothing else
    assert (hidx == 0).sum() == size - n
    for s in range(n):
        h = int(K._ghash(gid[s], hbits, scramble))  # the lookup's home slot
        steps = 0
        while hidx[h] != s + 1:
            assert hidx[h] > 0, f"id {gid[s]}: an empty slot before its row"
            h = (h + 1) & (size - 1)
            steps += 1
        assert steps < n


def test_rehash_into_a_fresh_table_writes_only_where_rows_land():
    """Without ``clear`` nothing but the rows' slots is written: a fresh table (a zeroed
    mapping) is touched only where its ids hash to, not page after page at its creation."""
    from pytest_segmask.checks import label_kernels as K

    hbits = 16
    hidx = np.zeros(1 << hbits, np.int32)
    hidx[40000:] = -5  # not an id's slot: left alone
    gid = np.arange(100, 200, dtype=np.uint32)
    K.rehash(gid, len(gid), hidx, hbits, False, False)
    assert (hidx[40000:] == -5).all() and hidx[100:200].tolist() == list(range(1, 101))


def test_merge_row_numbers_widen_at_2_to_the_31():
    from pytest_segmask.checks.channel_stats import index_type

    assert [index_type(n) for n in (0, (1 << 31) - 1, 1 << 31)] == [np.int32, np.int32, np.int64]


@pytest.mark.parametrize("scramble", [False, True])
def test_global_hash_slots_stay_inside_the_table(scramble):
    from pytest_segmask.checks import label_kernels as K

    for hbits in (4, 12):
        slots = {int(K._ghash(np.uint32(key), hbits, scramble)) for key in range(0, 1 << 20, 7)}
        assert min(slots) >= 0 and max(slots) == (1 << hbits) - 1  # the whole table, nothing past it


def test_switch_to_scrambled_hashing_keeps_one_row_per_id():
    """Ids that defeat identity hashing (k·2^20 + 1): the accumulator switches to Fibonacci
    hashing and goes on finding each id's row — no id gets a second row."""
    from pytest_segmask.checks.channel_stats import StatsAccumulator

    ids = (np.arange(1, 4001, dtype=np.uint64) << np.uint64(20)).astype(np.uint32) | np.uint32(1)
    plane = np.repeat(ids, 4).reshape(80, 200)
    acc = StatsAccumulator(80, 200)
    acc.add(np.ascontiguousarray(plane[:16]), 16, 200, 0, 0)
    assert acc.scramble  # switched after the first call
    acc.add(np.ascontiguousarray(plane[:1]), 1, 200, 0, 0)  # its ids again at once (no growth, no rehash between)
    assert int(acc.meta[0]) == len(np.unique(plane[:16]))
    for y0 in range(16, 80, 16):
        acc.add(np.ascontiguousarray(plane[y0:y0 + 16]), 16, 200, y0, 0)
    acc.add(np.ascontiguousarray(plane[:16]), 16, 200, 0, 0)  # the first rows' ids again, after growth
    assert int(acc.meta[0]) == len(np.unique(plane))


def test_raster_numbered_ids_past_the_table_widen_it_and_keep_identity_hashing(monkeypatch):
    """Labels numbered in raster order (ids jump a row of bricks at a time) met in depth-first
    tile order: the first tiles' ids are small, the third tile's pass the hash table's size and
    collide. The table is widened to span them (identity hashing kept: neighbouring ids in
    neighbouring slots); only ids spread far thinner switch to Fibonacci hashing."""
    from pytest_segmask.checks import channel_stats
    from pytest_segmask.checks.channel_stats import StatsAccumulator

    monkeypatch.setattr(channel_stats, "CHUNK_PIXELS", 1 << 10)  # small tables for a small image
    y, x = np.mgrid[0:256, 0:256]
    plane = ((y // 2) * 200 + x // 2 + 1).astype(np.uint32)  # 16,384 bricks, ids up to 25,528
    acc = StatsAccumulator(256, 256)
    calls = []
    monkeypatch.setattr(acc, "_long_probes", lambda: calls.append(acc.hbits) or StatsAccumulator._long_probes(acc))
    for ty, tx in [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 0), (2, 1), (3, 0),
                   (3, 1), (2, 2), (2, 3), (3, 2), (3, 3)]:  # 64-px tiles, depth-first (Z) order
        acc.add(np.ascontiguousarray(plane[ty * 64:(ty + 1) * 64, tx * 64:(tx + 1) * 64]), 64, 64, ty * 64, tx * 64)
    assert calls and (1 << calls[0]) < 25_528  # the table was smaller than the ids' span
    assert not acc.scramble and (1 << acc.hbits) >= 25_528  # spans ids 1 … 25,528
    assert_stats_equal(acc.finish(), stats_reference([plane]))


def test_hash_keeps_room_for_a_call_of_new_objects_after_a_sparse_start():
    """The hash is sized for the rows likely to come (the density so far), yet a call whose every
    pixel is a new object, after background only, must still find empty slots (a full table
    would never end a probe): the table stays under 90 % full whatever the call brings."""
    from pytest_segmask.checks.channel_stats import StatsAccumulator

    background = np.zeros((16, 256), np.uint32)
    unique = np.arange(1, 256 * 256 + 1, dtype=np.uint32).reshape(256, 256)[::-1].copy()
    acc = StatsAccumulator(272, 256)
    acc.add(background, 16, 256, 0, 0)
    assert 10 * 256 * 256 > 9 * (1 << acc.hbits)  # sized for background: too small for the next call
    acc._ensure(256 * 256)  # before the next call (65,536 px)
    assert 10 * 256 * 256 <= 9 * (1 << acc.hbits)
    acc.add(unique, 256, 256, 16, 0)
    assert int(acc.meta[0]) == 256 * 256
    assert_stats_equal(acc.finish(), stats_reference([np.vstack([background, unique])]))


def test_undecodable_level_tile_that_no_level_0_tile_feeds_is_still_reported(tmp_path, decode_mode):
    """Level 1 wider than level 0 / 2 (128 → 80 px, factor 2): its tiles past x = 64 get no
    level-0 pixels, yet every tile of every level is decoded once, so a broken one is named."""
    labels = (np.arange(128 * 128, dtype=np.uint32).reshape(128, 128) // 5) % 50 + 1
    path = tmp_path / "wide.ome.tiff"
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(labels, tile=(16, 16), subifds=1, compression="zlib", metadata={"axes": "YX"})
        tif.write(np.ones((80, 80), np.uint32), tile=(16, 16), subfiletype=1, compression="zlib")
    damage_segments(path, [4], level=1)  # row 0, x 64–79: fed by no level-0 tile
    with tifffile.TiffFile(path) as tif:
        levels = [Plane(tif.pages[0], path.name, "c", 0), Plane(tif.pages[0].pages[0], path.name, "c", 1)]
        result = run_pass([levels], 128, 128, workers=1)
    [level] = result.pyramid.levels
    assert level.factor == 2 and len(level.errors) == 1 and "tile 4" in level.errors[0], level.errors
    # level-1 pixels past 64 have no block: not tested, not bad (tile 4 is not judged at all)
    tested, bad, _ = block_reference(labels, np.ones((64, 64), np.uint32), 2)
    assert (level.tested, level.bad, result.held_to_end) == (tested, bad, 0) and bad > 0


@pytest.mark.parametrize("height, width, wide", [(65536, 65536, True), (65536, 65535, False)])
def test_pixel_counts_widen_exactly_at_2_to_the_32_pixels(height, width, wide):
    """A channel of 2^32 pixels or more could hold one object that large: counts become int64."""
    from pytest_segmask.checks.channel_stats import StatsAccumulator

    stats = StatsAccumulator(height, width).finish()  # no pixel added: only the dtype is decided
    assert stats.counts.dtype == (np.int64 if wide else np.uint32)


@pytest.mark.parametrize("height, width, planes, coord, zdt", [
    (65536, 1, 1, np.uint16, np.uint16), (1, 65537, 1, np.uint32, np.uint16),
    (1, 1, 65536, np.uint16, np.uint16), (1, 1, 65537, np.uint16, np.uint32),
])
def test_bounding_boxes_and_z_ranges_widen_past_65536(height, width, planes, coord, zdt):
    """Coordinates 0…65535 fit uint16: a side of 65,536 px (or planes) keeps it, one more widens."""
    from pytest_segmask.checks.channel_stats import StatsAccumulator

    acc = StatsAccumulator(height, width, planes)
    assert (acc.coord, acc.zdt) == (coord, zdt)
    stats = acc.finish()
    assert stats.bbox_compact.dtype == coord
    assert stats.z_range_compact is None if planes == 1 else stats.z_range_compact.dtype == zdt
