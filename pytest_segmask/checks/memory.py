"""Large arrays in anonymous mappings of their own, backed by 2 MB pages where the OS offers them.

Why: freeing such an array returns its memory to the OS at once (glibc would keep arrays of a
few MB in its heap after large frees, and the process's RSS grew channel after channel); and a
2 MB page is one page fault where 4 KB pages are 512 — on a virtual machine whose host hands
memory back lazily each fault is dear (measured: a fresh mask pass spent a tenth of its CPU in
faults).
"""

from __future__ import annotations

import mmap

HUGE_PAGE = 2 << 20  # mutation: equivalent — mapping length only (rounded up to whole huge pages)


def anonymous(nbytes: int, huge: bool = True) -> mmap.mmap:  # mutation: equivalent[constant] — page size only
    """A private anonymous mapping of at least ``nbytes`` (zeros). ``huge``: rounded up to whole
    2 MB pages and backed by them where the kernel offers them (the memory will be written
    nearly whole); otherwise 4 KB pages, touched only where written."""
    if huge:  # mutation: equivalent — page size only
        # a whole number of 2 MB pages: Linux places (and backs with huge pages) only anonymous
        # mappings whose length is a multiple of 2 MB; any other length gets 4 KB pages, mostly
        nbytes = -(-nbytes // HUGE_PAGE) * HUGE_PAGE
    if hasattr(mmap, "MAP_PRIVATE"):  # mutation: equivalent — the kind of mapping only (POSIX: private, else the default)
        # private: mmap's default is a shared mapping, which Linux backs with shmem pages (4 KB,
        # no transparent huge pages): every first touch would fault per 4 KB
        mapping = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    else:
        mapping = mmap.mmap(-1, nbytes)  # mutation: equivalent — the non-POSIX branch (no test machine runs it)
    if huge and hasattr(mmap, "MADV_HUGEPAGE"):  # mutation: equivalent — page size only
        # 2 MB pages where the kernel offers them: first touch of fresh memory costs a fifth
        mapping.madvise(mmap.MADV_HUGEPAGE)
    return mapping
