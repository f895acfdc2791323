"""MindSpore training subproject: the 2-stack hourglass network, checkpoint import, training and export.

Every module here imports MindSpore, and the oneDNN ISA cap (docs/reference.md#avx-512-trap) only works if it
is set before MindSpore's first import, so importing the package sets it.
"""

from core.cpu_isa import limit_onednn_isa

limit_onednn_isa()
