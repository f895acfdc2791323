"""How the Open Inference Protocol answers errors: REST with `{"error": "..."}` and the HTTP status of
service.errors (/v1's), gRPC with the status code that HTTP status stands for, and the same message.

A tensor that does not fit its model (service.oip.tensors.TensorError) is a 400 / INVALID_ARGUMENT.
"""

import grpc

from runtime.errors import PoseRuntimeError
from service.errors import runtime_status

TENSOR_ERROR_STATUS = 400

# The gRPC code of each HTTP status the runtime's errors get: the caller's input (whatever its size or
# format), unknown names, back-pressure and shutdown, deadlines; anything else is INTERNAL.
GRPC_CODES: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.INVALID_ARGUMENT,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def runtime_code(error: PoseRuntimeError) -> grpc.StatusCode:
    """The gRPC code of a runtime error."""
    return GRPC_CODES.get(runtime_status(error), grpc.StatusCode.INTERNAL)
