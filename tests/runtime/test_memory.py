"""runtime.memory: buffers of a MiB or more freed by a worker thread leave the process (glibc)."""

import subprocess
import sys

import pytest
from helpers import REPO_ROOT

# A worker thread allocates sixty 4 MiB buffers between small ones that stay, frees the big ones, twice: with
# glibc's dynamic mmap threshold the freed buffers stay in the thread's heap arena.
SCRIPT = """
import sys, threading
from pathlib import Path
from runtime.memory import return_large_buffers_to_the_system

def rss_mib():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS:"))
    return int(line.split()[1]) >> 10

if sys.argv[1] == "fixed":
    assert return_large_buffers_to_the_system()
kept = []

def work():
    buffers = []
    for _ in range(60):
        buffers.append(bytearray(4 << 20))
        kept.append(bytearray(256))

before = rss_mib()
for _ in range(2):
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
print(rss_mib() - before)
"""


def retained_mib(mode: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return int(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")
def test_freed_large_buffers_leave_the_process() -> None:
    assert retained_mib("default") >= 60, "glibc's default keeps them (what the setting is for)"
    assert retained_mib("fixed") <= 16
