"""Guard against MindSpore's AVX-512 slow path on CPU (docs/reference.md#avx-512-trap).

With mindspore 2.10 on an AVX-512 CPU, oneDNN picks 3x3 convolution kernels that run ~25x slower than
its AVX2 ones. Capping oneDNN at AVX2 before mindspore is imported avoids that. The cap only takes effect
if set before the first `import mindspore`, so every entry point that may load MindSpore calls
`limit_onednn_isa()` first.
"""

import logging
import os
import sys
from pathlib import Path

ONEDNN_ISA_VARIABLE = "ONEDNN_MAX_CPU_ISA"
SAFE_ISA = "AVX2"

logger = logging.getLogger(__name__)


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo does not exist)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def has_avx512(flags: frozenset[str] | None = None) -> bool:
    return any(flag.startswith("avx512") for flag in (cpu_flags() if flags is None else flags))


def limit_onednn_isa(flags: frozenset[str] | None = None) -> str | None:
    """Set ONEDNN_MAX_CPU_ISA=AVX2 on AVX-512 CPUs unless the user chose a value; return what is in force.

    Logs a warning when mindspore is already imported, since the setting then comes too late.
    """
    if has_avx512(flags) and ONEDNN_ISA_VARIABLE not in os.environ:
        if "mindspore" in sys.modules:
            logger.warning(
                "mindspore was imported before %s could be set: CPU convolutions may run ~25x slower",
                ONEDNN_ISA_VARIABLE,
            )
        os.environ[ONEDNN_ISA_VARIABLE] = SAFE_ISA
    return os.environ.get(ONEDNN_ISA_VARIABLE)
