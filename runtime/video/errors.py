"""What can be wrong with a video, as plain exceptions the API edge turns into 4xx answers.

Nothing from PyAV leaves this package: its errors become one of these, with a message a client can act on.
"""


class VideoError(Exception):
    """Any problem with the video a client sent."""


class VideoLimitError(VideoError):
    """The video is larger, longer or has more frames than the limits allow."""

    def __init__(self, what: str, value: float, limit: float, unit: str = "") -> None:
        self.what, self.value, self.limit, self.unit = what, value, limit, unit
        suffix = f" {unit}" if unit else ""
        super().__init__(f"the video's {what} is {value:g}{suffix}, over the limit of {limit:g}{suffix}")


class UnsupportedVideoError(VideoError):
    """Not a video this service reads: an unknown container, no video stream, a codec without a decoder."""


class CorruptVideoError(VideoError):
    """A supported video whose data is damaged or cut short."""
