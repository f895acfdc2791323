"""MindSpore device and execution mode, set once per process by every training entry point."""

import training.isa_cap  # noqa: F401  (before MindSpore's first import)

import mindspore as ms


def use_device(target: str) -> None:
    """Select the device and graph mode; a process that already runs on `target` keeps going.

    MindSpore refuses `set_device` once its runtime has started (e.g. a second training or evaluation in
    the same process); that is harmless when the target is the same one.
    """
    try:
        ms.set_device(target)
    except RuntimeError as error:
        current = ms.get_context("device_target")
        if current != target:
            raise RuntimeError(f"MindSpore already runs on {current}, cannot switch to {target}") from error
    # Graph mode: MindSpore 2.10's PyNative kernels fail here against NumPy 2.
    ms.set_context(mode=ms.GRAPH_MODE)
