"""What fresh memory costs on this machine: CPU to touch a new anonymous mapping of 2 MB pages,
right after the same amount was freed, and after the freed pages sat idle for a while.

    python benchmarks/bench_fresh_pages.py                 # 256 MB, waits of 0, 3 and 6 s
    python benchmarks/bench_fresh_pages.py --mb 128 --waits 0 10

Why: the label pass's tables are fresh mappings (tens of MB a channel for 8192² dense: two
thread tables of 24 bytes per object, their hashes and the merge's arrays), the decode floor's
few buffers are not. In a virtual machine whose balloon device reports free
pages to the host (virtio-balloon's free page reporting), pages freed for a couple of seconds
go back to the host, and touching them again costs the host's page faults too. The script
prints whether such a device is bound (Linux only) and, per wait, the best of ``--repeat``
rounds, so a run shows whether fresh memory is cheap (the zeroing only) or not.
"""

from __future__ import annotations

import argparse
import mmap
import platform
import resource
import time
from pathlib import Path

VIRTIO_ID_BALLOON = 0x0005
VIRTIO_BALLOON_F_REPORTING = 5  # feature bit: free page reporting


def balloon_reporting() -> str:
    """'on' / 'off' for a bound virtio balloon device's free page reporting, or 'no balloon'."""
    for dev in sorted(Path("/sys/bus/virtio/devices").glob("*")):
        try:
            if int((dev / "device").read_text(), 16) != VIRTIO_ID_BALLOON:
                continue
            bits = (dev / "features").read_text().strip()
        except (OSError, ValueError):
            continue
        return "on" if len(bits) > VIRTIO_BALLOON_F_REPORTING and bits[VIRTIO_BALLOON_F_REPORTING] == "1" else "off"
    return "no balloon"


def cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def touch(mb: int) -> float:
    """CPU s to write one byte per 4 KB page of a new mapping of ``mb`` MB in 2 MB pages."""
    m = mmap.mmap(-1, mb << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(m, "madvise") and hasattr(mmap, "MADV_HUGEPAGE"):
        m.madvise(mmap.MADV_HUGEPAGE)
    c0 = cpu()
    for off in range(0, mb << 20, 4096):
        m[off] = 1
    spent = cpu() - c0
    m.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=256)
    parser.add_argument("--waits", type=float, nargs="+", default=[0, 3, 6])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"# bench_fresh_pages.py — {time.strftime('%Y-%m-%d %H:%M')} — {platform.machine()}, "
          f"Python {platform.python_version()}, virtio-balloon free page reporting: {balloon_reporting()}")
    touch(args.mb)  # the process's first mapping: whatever the pages' history, not timed
    for wait in args.waits:
        best = min(_after(wait, args.mb) for _ in range(args.repeat))
        print(f"touch {args.mb} MB of fresh 2 MB pages, {wait:g} s after the last were freed: "
              f"{best * 1000:7.1f} ms CPU (best of {args.repeat}; {best * 1000 / args.mb:.2f} ms per MB)")


def _after(wait: float, mb: int) -> float:
    touch(mb)  # the pages this round reuses, freed just now
    time.sleep(wait)
    return touch(mb)


if __name__ == "__main__":
    main()
