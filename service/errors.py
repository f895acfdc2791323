"""The HTTP edge's errors: its own (request parsing, API key) and the one table that gives every runtime
error its HTTP status, plus the one JSON body every error answer carries."""

import json

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
from service.oip import OIP_PATH_PREFIX

RUNTIME_ERROR_STATUS: dict[type[PoseRuntimeError], int] = {
    UnreadableImageError: 400,
    AmbiguousModelError: 400,
    UnknownModelError: 404,
    ImageTooLargeError: 413,
    UnsupportedImageError: 415,
    InvalidInputError: 422,
    GroupTooLargeError: 422,
    InferenceError: 500,
    ModelNotReadyError: 503,
    RepositoryUnavailableError: 503,
    QueueFullError: 503,
    BatcherClosedError: 503,
    DeadlineExceededError: 504,
}


class ServiceError(Exception):
    """An error of the HTTP edge itself; the app turns it into the JSON error body with `status_code`."""

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers or {}


def runtime_status(error: PoseRuntimeError) -> int:
    """The HTTP status of a runtime error: its own class's, else its nearest base's in the table, else 500."""
    for cls in type(error).__mro__:
        if cls in RUNTIME_ERROR_STATUS:
            return RUNTIME_ERROR_STATUS[cls]
    return 500


def deadline_message(deadline_ms: float) -> str:
    """What a request past its deadline is told, in every protocol."""
    return f"the request did not finish within its deadline of {deadline_ms:g} ms"


def error_body(detail: str, request_id: str | None, path: str = "") -> bytes:
    """The JSON body of every error answer: {"detail": ..., "request_id": ...}, or under the Open Inference
    Protocol's routes its own {"error": ...} (the request id is in the X-Request-ID header)."""
    if path == OIP_PATH_PREFIX or path.startswith(OIP_PATH_PREFIX + "/"):
        return json.dumps({"error": detail}).encode()
    return json.dumps({"detail": detail, "request_id": request_id}).encode()
