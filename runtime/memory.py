"""Memory freed after large images goes back to the system, which glibc's malloc does not do by itself.

Decoding, scaling and drawing a 40 Mpx image allocate buffers of several MB to hundreds of MB in worker
threads. glibc raises its mmap threshold each time it frees such a buffer (up to 32 MiB), after which
buffers of that size come from the thread's heap arena, and when they are freed the arena keeps them: after
a burst of 8 such requests the service held 1.4 to 2.6 times its former RSS (benchmarks/memory_burst.py,
service/README.md). A fixed threshold keeps every allocation of MMAP_THRESHOLD_BYTES or more in a mapping of
its own, unmapped when freed; smaller ones (a person's crops at 128 px, 0.4 MiB) stay in the heaps. Setting
it also turns glibc's dynamic adjustment off.
"""

import ctypes
import logging

logger = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MMAP_THRESHOLD_BYTES = 1 << 20


def return_large_buffers_to_the_system() -> bool:
    """Fix glibc's mmap threshold at MMAP_THRESHOLD_BYTES for this process; False (and nothing changed)
    where the C library is not glibc."""
    libc = ctypes.CDLL(None)  # the symbols of the running process, its C library's included
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        logger.info("not glibc: freed image buffers are left to the C library's own policy")
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
