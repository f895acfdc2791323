"""MindSpore training subproject: the 2-stack hourglass network, checkpoint import, training and export.

Entry points that import MindSpore call `core.cpu_isa.limit_onednn_isa()` first (REFERENCE.md §10), so this
package initialiser imports nothing heavy.
"""
