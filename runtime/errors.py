"""The runtime's typed errors: what went wrong, never how an edge reports it.

Each edge maps these to its own protocol in one table (service/errors.py for HTTP); nothing in the runtime
knows a status code.
"""

# A value a caller sent is quoted in a message up to this many characters: a 404 for a 15 MB model name
# stays small.
MAX_SHOWN_CHARS = 64


def shown(value: str) -> str:
    """`value` quoted for a message, cut to MAX_SHOWN_CHARS characters (its length said when cut)."""
    if len(value) <= MAX_SHOWN_CHARS:
        return repr(value)
    return f"{value[:MAX_SHOWN_CHARS]!r}... ({len(value)} characters)"


class PoseRuntimeError(Exception):
    """Base of every error the runtime raises on purpose; `message` is safe to show a caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# The caller's input ---------------------------------------------------------------------------------------


class InvalidInputError(PoseRuntimeError):
    """A value the caller sent is malformed or out of range (a box outside the image, too many persons)."""


class NoDetectorError(InvalidInputError):
    """The request gives no persons, and no person detector is ready to find them."""


class UnreadableImageError(PoseRuntimeError):
    """The image bytes are empty, not an image, or truncated or corrupt."""


class ImageTooLargeError(PoseRuntimeError):
    """The image has more pixels than the runtime's limit."""


class UnsupportedImageError(PoseRuntimeError):
    """The bytes are an image of a format the runtime does not take."""


# Which model --------------------------------------------------------------------------------------------


class UnknownModelError(PoseRuntimeError):
    """No model (or version) of that name is in the repository or served."""


class AmbiguousModelError(PoseRuntimeError):
    """The request names no model and several are served."""


class ModelNotReadyError(PoseRuntimeError):
    """The model or version exists but cannot serve now (loading, unavailable, none loaded)."""


class RepositoryUnavailableError(PoseRuntimeError):
    """The model repository folder cannot be read now; nothing was changed."""


# Capacity and inference ---------------------------------------------------------------------------------


class BatcherError(PoseRuntimeError):
    """Why the batcher could not run a request's crops."""


class QueueFullError(BatcherError):
    """The model's queue cannot take the request's crops now: retry later."""


class BatcherClosedError(BatcherError):
    """The service is shutting down (or the version was released) and takes no new work."""


class DeadlineExceededError(BatcherError):
    """The request's deadline passed before its work was done."""


class InferenceError(BatcherError):
    """The backend failed on a batch; every request in it gets this error."""


class GroupTooLargeError(BatcherError):
    """One person's crops exceed the largest batch the backend takes (a group is never split)."""
