"""Imported ahead of MindSpore by every training module that uses it: caps oneDNN at AVX2 on AVX-512 CPUs.

mindspore 2.10's CPU convolutions run ~25x slower on AVX-512 kernels (docs/reference.md#avx-512-trap), and
the cap only takes effect before MindSpore's first import. ruff's isort settings (pyproject.toml) sort this
import ahead of the third-party ones, so the order cannot slip.
"""

from runtime.backends.cpu_isa import limit_onednn_isa

limit_onednn_isa()
