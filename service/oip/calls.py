"""What an infer call asks and what it answers, whichever protocol carried it."""

from dataclasses import dataclass

from service.oip.tensors import Tensor


@dataclass(frozen=True)
class RequestedOutput:
    name: str
    binary: bool


@dataclass(frozen=True)
class InferRequest:
    """What an infer call asks, in either protocol: `outputs` None asks for all, each in `binary_outputs`."""

    id: str
    inputs: list[Tensor]
    outputs: list[RequestedOutput] | None
    binary_outputs: bool = False


@dataclass(frozen=True)
class InferResult:
    model_name: str
    model_version: str
    id: str
    outputs: list[Tensor]
