"""Training subproject: the 2-stack hourglass network in MindSpore (and PyTorch for GPUs), data sets and the
synthetic generator, training, evaluation, import of other checkpoints, export and int8 quantisation.

Importing the package does nothing; the modules that use MindSpore import `training.isa_cap` first.
"""
