"""The service's own error: an HTTP status and a message that names the problem."""


class ServiceError(Exception):
    """Raised anywhere in request handling; the app turns it into {"detail": message} with `status_code`."""

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers or {}
