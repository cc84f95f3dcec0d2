"""Bad input is the normal case: corrupt bytes anywhere in a dataset's files must end as
findings (failed items whose report is a finding), never a traceback or an INTERNALERROR."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures_generator import ChannelSpec, DatasetSpec, MaskSpec, write_dataset

SPEC = DatasetSpec(
    masks=(MaskSpec(width=70, height=50, channels=(ChannelSpec("cells", 6), ChannelSpec("nuclei", 4))),),
    meshes=("cells",), adjacency=(("nuclei", "centroid", "matrix"),),
)
FILES = ["sample.segmentations.ome.tiff", "cells-objects.xlsx", "nuclei-objects.xlsx",
         "segmentation-masks.csv", "cells-mesh.glb", "nuclei-centroid-adjacency.csv"]
_counter = itertools.count()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    target=st.sampled_from(FILES),
    where=st.floats(min_value=0, max_value=1),
    junk=st.binary(min_size=1, max_size=64),
    truncate=st.booleans(),
)
def test_corrupt_bytes_become_findings(pytester, target, where, junk, truncate):
    name = f"ds{next(_counter)}"
    root = write_dataset(SPEC, pytester.path / name)
    path = root / "derived" / "segmentation_masks" / target
    data = bytearray(path.read_bytes())
    at = int(where * (len(data) - 1))
    if truncate:
        data = data[:at]
    else:
        data[at:at + len(junk)] = junk
    path.write_bytes(bytes(data))
    reprec = pytester.inline_run(f"--segmask-dataset={name}", "-p", "no:cacheprovider")
    reports = reprec.getreports("pytest_runtest_logreport")
    assert reports, "no items ran"
    for report in reports:
        if report.failed:
            text = str(report.longrepr)
            assert "Traceback" not in text and "Error:" not in text.splitlines()[0][:6], text[:500]
            assert text.split(":")[0].split(" ")[0].isupper() or text.startswith("warning promoted"), text[:300]
