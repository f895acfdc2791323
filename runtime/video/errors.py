"""What can be wrong with a video a caller sent, as runtime errors (runtime/errors.py).

Each is also the image error of the same kind, so an edge's table of runtime errors answers it as it
answers that one (too large, unsupported, unreadable) until it lists the video errors themselves. Nothing
from PyAV leaves this package: its errors become one of these, with a message a caller can act on.
"""

from runtime.errors import ImageTooLargeError, PoseRuntimeError, UnreadableImageError, UnsupportedImageError


class VideoError(PoseRuntimeError):
    """Any problem with the video a caller sent."""


class VideoLimitError(VideoError, ImageTooLargeError):
    """The video is larger, longer or has more frames than the limits allow."""

    def __init__(self, what: str, value: float, limit: float, unit: str = "") -> None:
        self.what, self.value, self.limit, self.unit = what, value, limit, unit
        suffix = f" {unit}" if unit else ""
        super().__init__(f"the video's {what} is {value:g}{suffix}, over the limit of {limit:g}{suffix}")


class UnsupportedVideoError(VideoError, UnsupportedImageError):
    """Not a video this runtime reads: an unknown container, no video stream, a codec without a decoder."""


class CorruptVideoError(VideoError, UnreadableImageError):
    """A supported video whose data is damaged or cut short."""
