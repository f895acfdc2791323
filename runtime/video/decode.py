"""Reading a video with PyAV: probe it and check the limits before decoding, then its frames as RGB arrays.

Only FFmpeg's `mov` (MP4, MOV, M4V, 3GP) and `matroska` (MKV, WebM) demuxers may open a file: FFmpeg
would otherwise probe a few hundred formats, playlists that open further files among them. Opening decodes
the first frame, so a file that cannot give a single frame is refused before any result is streamed.

Damage is reported when FFmpeg notices it: a broken index, a decoding error, a frame the decoder had to
patch up, a stream that stops well before its declared end. Damage inside a compressed frame that still
parses (VP9 and H.264 carry no checksums) decodes as a wrong picture and cannot be told from a right one.

Decoding blocks: run `VideoReader.frames()` in a worker thread, one `next()` at a time
(runtime.video.threaded.iterate_in_thread does). Closing the generator, or the reader, closes the file;
the reader may be closed from any thread, even while a frame is being decoded in another (the close
waits for that frame, and the frames end there).
"""

import io
import math
import os
import re
import threading
from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, NamedTuple

import av
import av.container
import av.video
import numpy as np

from runtime.video.errors import CorruptVideoError, UnsupportedVideoError, VideoError, VideoLimitError

ALLOWED_DEMUXERS = ("mov", "matroska")
SUPPORTED_FORMATS = "MP4, MOV, MKV or WebM"
# The first bytes of an ISO media file (MP4, MOV: the type of its first box at offset 4) and of Matroska.
_ISO_BOX_TYPES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_MAGIC_BYTES = 12
# A stream that stops short of its declared end by more than this many frame intervals (or this share of
# its duration, whichever is more) is reported as cut short.
_TRUNCATION_FRAMES = 3
_TRUNCATION_SHARE = 0.02

# The file's bytes, its path, or a seekable binary file (an upload spooled to disk), read from its start.
VideoSource = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO


@dataclass(frozen=True)
class VideoLimits:
    """What a video may be at most; each is checked before decoding where the file declares it, and on
    every frame as it is decoded (a file may declare nothing, or lie)."""

    max_bytes: int = 256 * 2**20
    max_duration_s: float = 600.0
    max_frames: int = 18_000  # 10 minutes at 30 fps
    max_side: int = 4096  # pixels, width or height
    max_pixels: int = 3840 * 2160  # per frame


@dataclass(frozen=True)
class VideoInfo:
    """What probing found. Width and height are as displayed: a rotated (phone) video's are swapped."""

    container: str  # FFmpeg's demuxer, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm"
    codec: str  # e.g. "h264", "vp9"
    width: int
    height: int
    rotation_deg: int  # counter-clockwise turn applied to the decoded frames for display
    duration_s: float | None
    frame_rate: float | None
    frame_count: int | None
    frame_count_exact: bool  # False: estimated as duration x frame rate
    size_bytes: int


class VideoFrame(NamedTuple):
    frame_index: int
    time_s: float  # presentation time from the stream's start (pts x time_base)
    image: np.ndarray  # (height, width, 3) uint8 RGB, as displayed


def _source_size_and_magic(source: VideoSource) -> tuple[int, bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = memoryview(source)
        return data.nbytes, bytes(data[:_MAGIC_BYTES])
    if not isinstance(source, str | os.PathLike):
        size = source.seek(0, io.SEEK_END)
        source.seek(0)
        magic = source.read(_MAGIC_BYTES)
        source.seek(0)
        return size, magic
    path = Path(source)
    with path.open("rb") as file:
        return path.stat().st_size, file.read(_MAGIC_BYTES)


def _openable(source: VideoSource) -> BinaryIO | str:
    """What av.open reads: a path as text, bytes as an in-memory file, a file as it is."""
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(source)
    if isinstance(source, str | os.PathLike):
        return str(source)
    return source


def _looks_supported(magic: bytes) -> bool:
    return magic.startswith(_EBML_MAGIC) or magic[4:8] in _ISO_BOX_TYPES


# What PyAV raises on bad input: FFmpeg's errors, and Python's for what it reads out of the file (a
# metadata string that is not UTF-8, a value out of range).
_INPUT_ERRORS = (av.FFmpegError, UnicodeError, ValueError, OverflowError)


def _reason(error: Exception) -> str:
    """FFmpeg's own words without PyAV's errno and file name decoration."""
    return str(getattr(error, "strerror", None) or error).rstrip(".").lower()


def _parse_duration_tag(tag: str | None) -> float | None:
    """Matroska's per-track DURATION tag, 'HH:MM:SS.fffffffff'."""
    match = re.fullmatch(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", tag or "")
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _video_stream(container: av.container.InputContainer) -> av.video.VideoStream:
    """The first video stream that is not a cover picture."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            if stream.codec_context is None:
                raise UnsupportedVideoError("no decoder for the codec of the video stream")
            return stream
    raise UnsupportedVideoError("the file holds no video stream")


def _time_s(value: int | None, time_base: Fraction | None) -> float | None:
    return None if value is None or time_base is None else float(value * time_base)


def _frame_size_checks(limits: VideoLimits, width: int, height: int) -> None:
    for what, value in (("width", width), ("height", height)):
        if value > limits.max_side:
            raise VideoLimitError(what, value, limits.max_side, "pixels")
    if width * height > limits.max_pixels:
        raise VideoLimitError("frame size", width * height, limits.max_pixels, "pixels")


def _displayed(image: np.ndarray, rotation_deg: int) -> np.ndarray:
    quarter_turns = round(rotation_deg / 90) % 4
    return image if quarter_turns == 0 else np.ascontiguousarray(np.rot90(image, quarter_turns))


class _ReaderClosed(Exception):
    """The reader was closed while its frames were being read."""


class VideoReader(AbstractContextManager["VideoReader"]):
    """An open video: `info` from probing (limits already checked), `frames()` to decode it once."""

    def __init__(
        self, source: VideoSource, limits: VideoLimits | None = None, threads: int = 0, strict: bool = True
    ) -> None:
        """Open and probe `source` (the file's bytes, its path, or a seekable binary file); `threads`
        decoder threads (0: FFmpeg's choice, one per core). `strict`: a frame the decoder had to patch up
        (it conceals damaged data) raises CorruptVideoError rather than being passed on. Raises
        VideoLimitError, UnsupportedVideoError or CorruptVideoError."""
        self.limits = limits or VideoLimits()
        self.strict = strict
        # Decoding and closing exclude each other: FFmpeg's demuxer must not be freed under a decode.
        self._lock = threading.Lock()
        self._closed = False
        size, magic = _source_size_and_magic(source)
        if size > self.limits.max_bytes:
            raise VideoLimitError("file size", size, self.limits.max_bytes, "bytes")
        looks_supported = _looks_supported(magic)
        try:
            self._container = av.open(
                _openable(source), "r", options={"format_whitelist": ",".join(ALLOWED_DEMUXERS)}
            )
        except _INPUT_ERRORS as error:
            if looks_supported:
                raise CorruptVideoError(f"the video cannot be opened: {_reason(error)}") from error
            raise UnsupportedVideoError(
                f"not a video in a supported container ({SUPPORTED_FORMATS})"
            ) from error
        self._started = False
        try:
            self._stream = _video_stream(self._container)
            # Slice threads only: with frame threads FFmpeg's VP8 decoder hands out damaged frames silently.
            self._stream.thread_type = "SLICE"
            self._stream.codec_context.thread_count = threads
            self._decoded: Iterator[av.VideoFrame] = self._container.decode(self._stream)
            self._first = self._first_frame()
            self.info = self._probe(size)
            self._check_declared()
        except _INPUT_ERRORS as error:
            self.close()
            raise CorruptVideoError(f"the video cannot be read: {_reason(error)}") from error
        except BaseException:
            self.close()
            raise

    def _first_frame(self) -> av.VideoFrame:
        try:
            first = next(self._decoded, None)
        except _INPUT_ERRORS as error:
            raise CorruptVideoError(f"the video's first frame cannot be decoded: {_reason(error)}") from error
        if first is None:
            raise CorruptVideoError("the video holds no frame that can be decoded")
        return first

    def _probe(self, size_bytes: int) -> VideoInfo:
        stream, container = self._stream, self._container
        duration = self._stream_duration_s()
        if duration is None and container.duration is not None:
            duration = container.duration / av.time_base
        rate = stream.average_rate or stream.guessed_rate
        frame_rate = float(rate) if rate else None
        exact = stream.frames > 0
        frame_count = stream.frames if exact else None
        if frame_count is None and duration is not None and frame_rate is not None:
            frame_count = round(duration * frame_rate)
        rotation = int(self._first.rotation)
        width, height = self._first.width, self._first.height
        if round(rotation / 90) % 2:
            width, height = height, width
        return VideoInfo(
            container=container.format.name,
            codec=stream.codec_context.name,
            width=width,
            height=height,
            rotation_deg=rotation,
            duration_s=duration,
            frame_rate=frame_rate,
            frame_count=frame_count,
            frame_count_exact=exact,
            size_bytes=size_bytes,
        )

    def _stream_duration_s(self) -> float | None:
        """The video stream's own declared duration (not the container's, which may be an audio track's)."""
        stream = self._stream
        return _time_s(stream.duration, stream.time_base) or _parse_duration_tag(
            stream.metadata.get("DURATION")
        )

    def _check_declared(self) -> None:
        info, limits = self.info, self.limits
        if info.duration_s is not None and info.duration_s > limits.max_duration_s:
            raise VideoLimitError("duration", round(info.duration_s, 3), limits.max_duration_s, "s")
        if info.frame_count is not None and info.frame_count > limits.max_frames:
            raise VideoLimitError("frame count", info.frame_count, limits.max_frames)
        _frame_size_checks(limits, info.width, info.height)

    def frames(self) -> Generator[VideoFrame, None, None]:
        """The frames in presentation order; once. Raises CorruptVideoError for damaged or cut-short data,
        VideoLimitError when a limit the file did not declare is passed."""
        if self._started:
            raise RuntimeError("a VideoReader's frames can be iterated once")
        self._started = True
        return self._frames()

    def _frames(self) -> Generator[VideoFrame, None, None]:
        index, previous_time, frame_interval = 0, -math.inf, 0.0
        start = self._stream.start_time or 0
        try:
            frame: av.VideoFrame | None = self._first
            while frame is not None:
                if index >= self.limits.max_frames:
                    raise VideoLimitError("frame count", index + 1, self.limits.max_frames)
                time_s = _time_s(None if frame.pts is None else frame.pts - start, frame.time_base)
                if time_s is None:  # no timestamp: the next one at the frame rate
                    time_s = previous_time + (1 / self.info.frame_rate if self.info.frame_rate else 0.0)
                if time_s < previous_time:
                    raise CorruptVideoError(f"the video's timestamps go backwards at frame {index}")
                if time_s > self.limits.max_duration_s:
                    raise VideoLimitError("duration", round(time_s, 3), self.limits.max_duration_s, "s")
                _frame_size_checks(self.limits, frame.width, frame.height)
                if self.strict and frame.is_corrupt:
                    raise CorruptVideoError(f"the video's data is damaged at frame {index}")
                image = _displayed(frame.to_ndarray(format="rgb24"), int(frame.rotation))
                frame_interval = _time_s(frame.duration, frame.time_base) or frame_interval
                yield VideoFrame(index, time_s, image)
                index, previous_time = index + 1, time_s
                frame = self._next_decoded()
            self._check_complete(previous_time + (frame_interval or self._nominal_interval()))
        except _ReaderClosed:
            return
        except VideoError:
            raise
        except _INPUT_ERRORS as error:
            raise CorruptVideoError(
                f"the video's data is damaged at frame {index}: {_reason(error)}"
            ) from error
        finally:
            self.close()

    def _next_decoded(self) -> av.VideoFrame | None:
        with self._lock:
            if self._closed:
                raise _ReaderClosed
            return next(self._decoded, None)

    def _nominal_interval(self) -> float:
        return 1 / self.info.frame_rate if self.info.frame_rate else 0.0

    def _check_complete(self, end_s: float) -> None:
        """A stream that stops well before the duration it declares was cut short (a truncated upload).

        The container's duration stands in for the stream's only when the video is its sole stream.
        """
        declared = self._stream_duration_s()
        if declared is None and len(self._container.streams) == 1:
            declared = self.info.duration_s
        if declared is None:
            return
        tolerance = max(_TRUNCATION_FRAMES * self._nominal_interval(), _TRUNCATION_SHARE * declared)
        if end_s < declared - tolerance:
            raise CorruptVideoError(
                f"the video stops at {end_s:.2f} s of the {declared:.2f} s it declares: the file is cut short"
            )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._container.close()

    def __exit__(self, *error: object) -> None:
        self.close()


def probe_video(source: VideoSource, limits: VideoLimits | None = None) -> VideoInfo:
    """Open, check and close: what a client may be told before decoding starts."""
    with VideoReader(source, limits) as reader:
        return reader.info
