"""Writing RGB frames as a video with PyAV: MP4 (H.264), MOV, MKV and WebM (VP9 or VP8).

Each container takes the first codec of its preference list that this PyAV's FFmpeg can encode: PyAV's
wheels ship libx264, where a build without it falls back to MPEG-4 part 2. Frames of an odd width or
height are padded by one edge pixel at the right or bottom (4:2:0 video needs even sizes), so pixel
coordinates keep their meaning.
"""

import io
from collections.abc import Iterable
from contextlib import AbstractContextManager
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import av.container
import av.video
import numpy as np

CONTAINER_CODECS: dict[str, tuple[str, ...]] = {
    "mp4": ("libx264", "mpeg4"),
    "mov": ("libx264", "mpeg4"),
    "matroska": ("libx264", "mpeg4"),
    "webm": ("libvpx-vp9", "libvpx"),
}
CONTAINER_BY_SUFFIX = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
# Quality: x264's constant rate factor; the others get a bit rate of this many bits per pixel and frame.
_X264_OPTIONS = {"crf": "20", "preset": "veryfast"}
_BITS_PER_PIXEL = 0.25


def can_encode(codec: str) -> bool:
    try:
        av.Codec(codec, "w")
    except av.FFmpegError:
        return False
    return True


def preferred_codec(container: str) -> str:
    """The first codec of the container's preference list that this FFmpeg can encode."""
    if container not in CONTAINER_CODECS:
        raise ValueError(f"unknown container {container!r}; known: {', '.join(CONTAINER_CODECS)}")
    for codec in CONTAINER_CODECS[container]:
        if can_encode(codec):
            return codec
    raise RuntimeError(f"this FFmpeg can encode none of {', '.join(CONTAINER_CODECS[container])}")


def _even(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    return np.pad(image, pad, mode="edge") if any(p[1] for p in pad) else image


class VideoWriter(AbstractContextManager["VideoWriter"]):
    """Frames in, a video file out: `write(image)` per (height, width, 3) uint8 RGB frame, then `close()`."""

    def __init__(
        self,
        destination: str | Path | BinaryIO,
        fps: float,
        container: str | None = None,
        codec: str | None = None,
        display_rotation_deg: int = 0,
    ) -> None:
        """`container` defaults from a path's suffix; `display_rotation_deg` tags the stream to be turned
        counter-clockwise for display, as phones tag portrait videos."""
        if container is None:
            if (
                isinstance(destination, str | Path)
                and Path(destination).suffix.lower() in CONTAINER_BY_SUFFIX
            ):
                container = CONTAINER_BY_SUFFIX[Path(destination).suffix.lower()]
            else:
                raise ValueError(f"say which container to write {destination!r} as")
        self.codec = codec or preferred_codec(container)
        if not can_encode(self.codec):
            raise ValueError(f"this FFmpeg has no encoder {self.codec!r}")
        self._output: av.container.OutputContainer = av.open(
            destination if not isinstance(destination, Path) else str(destination), "w", format=container
        )
        stream = self._output.add_stream(self.codec, rate=Fraction(fps).limit_denominator(1001))
        if not isinstance(stream, av.video.VideoStream):
            self._output.close()
            raise ValueError(f"{self.codec} is not a video codec")
        self._stream = stream
        self._fps = fps
        self._rotation = display_rotation_deg
        self._size: tuple[int, int] | None = None

    def _open_stream(self, height: int, width: int) -> None:
        stream = self._stream
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if self.codec == "libx264":
            stream.codec_context.options = dict(_X264_OPTIONS)
        else:
            stream.codec_context.bit_rate = int(_BITS_PER_PIXEL * width * height * self._fps)
        if self._rotation:
            stream.set_display_rotation(self._rotation)
        self._size = (height, width)

    def write(self, image: np.ndarray) -> None:
        image = _even(np.asarray(image, dtype=np.uint8))
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"a frame is (height, width, 3) RGB, not {image.shape}")
        if self._size is None:
            self._open_stream(*image.shape[:2])
        elif image.shape[:2] != self._size:
            raise ValueError(f"a frame of {image.shape[:2]} in a video of {self._size}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        self._output.mux(self._stream.encode(frame))

    def close(self) -> None:
        if self._size is not None:
            self._output.mux(self._stream.encode(None))
        self._output.close()

    def __exit__(self, *error: object) -> None:
        self.close()


def encode_video(
    frames: Iterable[np.ndarray],
    fps: float,
    container: str = "mp4",
    codec: str | None = None,
    display_rotation_deg: int = 0,
) -> bytes:
    """The frames as a video file's bytes."""
    buffer = io.BytesIO()
    with VideoWriter(buffer, fps, container, codec, display_rotation_deg) as writer:
        for image in frames:
            writer.write(image)
    return buffer.getvalue()
