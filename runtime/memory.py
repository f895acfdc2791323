"""Memory freed after large images goes back to the system, while an ordinary request's buffers are reused.

Decoding, scaling and drawing a 40 Mpx image allocate buffers of several MB to hundreds of MB in worker
threads. glibc raises its mmap threshold each time it frees such a buffer (up to 32 MiB), after which
buffers of that size come from the thread's heap arena, and when they are freed the arena keeps them: after
a burst of 8 such requests the service held 1.4 to 2.6 times its former RSS (benchmarks/memory_burst.py,
service/README.md). So both thresholds are fixed (which also turns glibc's dynamic adjustment off):

- buffers of MMAP_THRESHOLD_BYTES or more get a mapping of their own, unmapped when freed;
- smaller ones (a 1920x1080 photograph is 6.2 MB of RGB) stay in the heaps and are reused, and a heap keeps
  up to TRIM_THRESHOLD_BYTES free at its top. Both matter for speed: an ordinary request that maps and
  unmaps its buffers, or whose heap is trimmed after each, takes a page fault for every 4 KiB it touches
  again (about 1,300 faults and a quarter of the service's requests/s with the 128 px int8 model);
- after an image that large, the free memory left inside the heaps is returned (`release_free_memory`).
"""

import ctypes
import functools
import logging

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 8 << 20
TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES
# An image whose RGB pixels alone take a mapping of their own: after one, the heaps are trimmed.
LARGE_IMAGE_PIXELS = MMAP_THRESHOLD_BYTES // 3


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    libc = ctypes.CDLL(None)  # the symbols of the running process, its C library's included
    if not all(hasattr(libc, name) for name in ("gnu_get_libc_version", "mallopt", "malloc_trim")):
        return None
    return libc


def return_large_buffers_to_the_system() -> bool:
    """Fix glibc's mmap and trim thresholds for this process; False (and nothing changed) where the C
    library is not glibc."""
    libc = _glibc()
    if libc is None:
        logger.info("not glibc: freed image buffers are left to the C library's own policy")
        return False
    trim_fixed = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    return bool(trim_fixed and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def release_free_memory() -> None:
    """Give the free pages inside every heap back to the system (glibc's malloc_trim), as after a large
    image; a no-op elsewhere."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
