"""The device targets MindSpore runs on, named once for the trainer, the evaluator and the service."""

from typing import Literal, get_args

MindSporeTarget = Literal["CPU", "GPU", "Ascend"]
MINDSPORE_TARGETS: tuple[str, ...] = get_args(MindSporeTarget)
