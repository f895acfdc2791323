"""How the Open Inference Protocol answers errors: REST with `{"error": "..."}` and the HTTP status of
service.errors (the same as /v1's), gRPC with a status code from the table here and the same message.

A tensor that does not fit its model (service.oip.tensors.TensorError) is a 400 / INVALID_ARGUMENT.
"""

import grpc

from runtime.errors import (
    AmbiguousModelError,
    BatcherClosedError,
    DeadlineExceededError,
    GroupTooLargeError,
    ImageTooLargeError,
    InferenceError,
    InvalidInputError,
    ModelNotReadyError,
    PoseRuntimeError,
    QueueFullError,
    RepositoryUnavailableError,
    UnknownModelError,
    UnreadableImageError,
    UnsupportedImageError,
)

TENSOR_ERROR_STATUS = 400

RUNTIME_ERROR_CODES: dict[type[PoseRuntimeError], grpc.StatusCode] = {
    UnreadableImageError: grpc.StatusCode.INVALID_ARGUMENT,
    AmbiguousModelError: grpc.StatusCode.INVALID_ARGUMENT,
    UnknownModelError: grpc.StatusCode.NOT_FOUND,
    ImageTooLargeError: grpc.StatusCode.INVALID_ARGUMENT,
    UnsupportedImageError: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidInputError: grpc.StatusCode.INVALID_ARGUMENT,
    GroupTooLargeError: grpc.StatusCode.INVALID_ARGUMENT,
    InferenceError: grpc.StatusCode.INTERNAL,
    ModelNotReadyError: grpc.StatusCode.UNAVAILABLE,
    RepositoryUnavailableError: grpc.StatusCode.UNAVAILABLE,
    QueueFullError: grpc.StatusCode.UNAVAILABLE,
    BatcherClosedError: grpc.StatusCode.UNAVAILABLE,
    DeadlineExceededError: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def runtime_code(error: PoseRuntimeError) -> grpc.StatusCode:
    """The gRPC code of a runtime error: its class's, else its nearest base's in the table, else INTERNAL."""
    for cls in type(error).__mro__:
        if cls in RUNTIME_ERROR_CODES:
            return RUNTIME_ERROR_CODES[cls]
    return grpc.StatusCode.INTERNAL
