"""runtime.memory (glibc): buffers at the mmap threshold or above leave the process when freed, an ordinary
request's smaller buffers are reused without page faults, and release_free_memory returns what the heaps
keep."""

import subprocess
import sys

import pytest
from helpers import REPO_ROOT

from runtime.memory import MMAP_THRESHOLD_BYTES

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")

PRELUDE = """
import resource, sys, threading
from pathlib import Path
from runtime.memory import return_large_buffers_to_the_system, release_free_memory

def rss_mib():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS:"))
    return int(line.split()[1]) >> 10

def in_a_worker(work):
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()

if sys.argv[1] != "default":
    assert return_large_buffers_to_the_system()
size = int(sys.argv[2])
"""

# A worker thread allocates sixty buffers of `size` between small ones that stay, and frees the big ones,
# twice: with glibc's dynamic mmap threshold the freed buffers stay in the thread's heap arena.
RETAINED = (
    PRELUDE
    + """
kept = []

def work():
    buffers = []
    for _ in range(60):
        buffers.append(bytearray(size))
        kept.append(bytearray(256))

before = rss_mib()
in_a_worker(work)
in_a_worker(work)
if sys.argv[1] == "released":
    release_free_memory()
print(rss_mib() - before)
"""
)

# A worker thread fills and frees a buffer of `size` a hundred times, as requests do with their images.
PAGE_FAULTS = (
    PRELUDE
    + """
def work():
    for _ in range(100):
        buffer = bytearray(size)
        del buffer

in_a_worker(work)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
in_a_worker(work)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
)

LARGE = 2 * MMAP_THRESHOLD_BYTES
ORDINARY = 4 << 20  # a 1280x720 photograph is 2.6 MiB of RGB


def run(script: str, mode: str, size: int) -> int:
    result = subprocess.run(
        [sys.executable, "-c", script, mode, str(size)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout)


def test_freed_buffers_over_the_threshold_leave_the_process() -> None:
    assert run(RETAINED, "default", LARGE) >= 60, "glibc's default keeps them (what it is for)"
    assert run(RETAINED, "fixed", LARGE) <= 16


def test_smaller_buffers_the_heaps_keep_are_released_after_a_large_image() -> None:
    assert run(RETAINED, "fixed", ORDINARY) >= 60, "below the threshold the heap keeps them"
    assert run(RETAINED, "released", ORDINARY) <= 16


def test_an_ordinary_request_s_buffers_are_reused_without_page_faults() -> None:
    pages = ORDINARY >> 12
    assert run(PAGE_FAULTS, "fixed", ORDINARY) < pages, "at most one buffer's first touch"
    assert run(PAGE_FAULTS, "fixed", LARGE) >= 100 * (LARGE >> 12), "a mapping of its own faults every time"
