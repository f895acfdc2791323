import io
import os
import tempfile
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from video_clips import CLIP_FORMATS, SUFFIXES, Clip, bytes_flipped, encode_clip, truncated

from runtime.video import encode
from runtime.video.decode import VideoFrame, VideoLimits, VideoReader, VideoSource, probe_video
from runtime.video.encode import VideoWriter, encode_video, preferred_codec
from runtime.video.errors import CorruptVideoError, UnsupportedVideoError, VideoLimitError

DECODED_CODEC = {"libx264": "h264", "mpeg4": "mpeg4", "libvpx-vp9": "vp9", "libvpx": "vp8"}
DEMUXER = {"mp4": "mov", "mov": "mov", "matroska": "matroska", "webm": "matroska"}
WAIT_S = 10.0
FORMAT_IDS = [f"{container}-{codec or 'preferred'}" for container, codec in CLIP_FORMATS]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(error, 1e-12)))


def _decode_all(source: VideoSource, limits: VideoLimits | None = None) -> list[VideoFrame]:
    with VideoReader(source, limits) as reader:
        return list(reader.frames())


def _open_descriptors(path: Path) -> int:
    return sum(
        1 for fd in os.listdir("/proc/self/fd") if os.path.realpath(f"/proc/self/fd/{fd}") == str(path)
    )


class _Unseekable(io.RawIOBase):
    """An output that cannot go back: a muxer writing to it leaves the header's duration out."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk: bytes) -> int:  # type: ignore[override]
        self.data += chunk
        return len(chunk)


@pytest.mark.parametrize(("container", "codec"), CLIP_FORMATS, ids=FORMAT_IDS)
def test_every_format_gives_every_frame_at_its_time(
    mpii_clip: Clip, encoded_mpii: dict[tuple[str, str | None], bytes], container: str, codec: str | None
) -> None:
    data = encoded_mpii[(container, codec)]
    with VideoReader(data) as reader:
        info = reader.info
        frames = list(reader.frames())
    count = len(mpii_clip.frames)
    assert [frame.frame_index for frame in frames] == list(range(count))
    assert np.allclose([frame.time_s for frame in frames], mpii_clip.times, atol=1e-3)
    for frame in frames:
        assert frame.image.shape == mpii_clip.frames.shape[1:] and frame.image.dtype == np.uint8
        assert _psnr(frame.image, mpii_clip.frames[frame.frame_index]) > 28
    assert info.codec == DECODED_CODEC[codec or preferred_codec(container)]
    assert DEMUXER[container] in info.container.split(",")
    assert (info.width, info.height) == (256, 192)
    assert info.frame_rate == pytest.approx(mpii_clip.fps)
    assert info.duration_s == pytest.approx(count / mpii_clip.fps, abs=1e-3)
    assert info.frame_count == count
    assert info.frame_count_exact == (DEMUXER[container] == "mov")  # Matroska declares no frame count
    assert info.size_bytes == len(data)


def test_a_path_reads_as_its_bytes_do_and_closing_the_generator_closes_the_file(
    tmp_path: Path, encoded_mpii: dict[tuple[str, str | None], bytes]
) -> None:
    data = encoded_mpii[("matroska", None)]
    path = tmp_path / "clip.mkv"
    path.write_bytes(data)
    from_path = _decode_all(path)
    from_bytes = _decode_all(data)
    assert len(from_path) == len(from_bytes)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(from_path, from_bytes, strict=True))

    reader = VideoReader(path)
    frames = reader.frames()
    next(frames), next(frames)
    assert _open_descriptors(path) == 1
    frames.close()
    assert _open_descriptors(path) == 0
    with pytest.raises(RuntimeError, match="once"):
        reader.frames()
    with VideoReader(path) as unread:
        assert unread.info.frame_count == 24
    assert _open_descriptors(path) == 0


def test_an_upload_spooled_to_disk_reads_as_its_bytes_do_and_stays_open_for_its_owner(
    encoded_mpii: dict[tuple[str, str | None], bytes],
) -> None:
    data = encoded_mpii[("mp4", None)]
    with tempfile.SpooledTemporaryFile(max_size=1024) as upload:
        upload.write(data)  # past max_size: on disk, as a web framework spools a large upload
        assert upload._rolled  # type: ignore[attr-defined]
        frames = _decode_all(upload)
        assert not upload.closed
    from_bytes = _decode_all(data)
    assert len(frames) == len(from_bytes)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(frames, from_bytes, strict=True))
    with pytest.raises(VideoLimitError, match="file size"), io.BytesIO(data) as file:
        VideoReader(file, VideoLimits(max_bytes=len(data) - 1))


def test_closing_the_reader_from_another_thread_while_frames_decode_ends_them_quietly(
    encoded_mpii: dict[tuple[str, str | None], bytes],
) -> None:
    """As an edge does when its client hangs up: the close waits for the frame being decoded (freeing the
    demuxer under it would crash the process) and the frames end without an error."""
    data = encoded_mpii[("mp4", None)]
    for attempt in range(20):
        reader = VideoReader(data)
        decoded: list[int] = []
        errors: list[BaseException] = []

        def read(
            reader: VideoReader = reader, decoded: list[int] = decoded, errors: list[BaseException] = errors
        ) -> None:
            try:
                decoded.extend(frame.frame_index for frame in reader.frames())
            except BaseException as error:
                errors.append(error)

        thread = threading.Thread(target=read)
        thread.start()
        time.sleep(0.001 * attempt)
        reader.close()
        thread.join(WAIT_S)
        assert not thread.is_alive() and not errors
        assert decoded == list(range(len(decoded))) and len(decoded) <= 24


def test_probe_reports_without_decoding_further(encoded_mpii: dict[tuple[str, str | None], bytes]) -> None:
    info = probe_video(encoded_mpii[("mp4", None)])
    assert (info.codec, info.frame_count, info.rotation_deg) == ("h264", 24, 0)


def test_a_rotated_video_comes_out_as_displayed(mpii_clip: Clip) -> None:
    data = encode_video(mpii_clip.frames[:5], mpii_clip.fps, "mp4", display_rotation_deg=90)
    with VideoReader(data) as reader:
        assert (reader.info.rotation_deg, reader.info.width, reader.info.height) == (90, 192, 256)
        first = next(reader.frames())
    # Tagged to be turned a quarter counter-clockwise for display: numpy's rot90 turns that way.
    assert first.image.shape == (256, 192, 3)
    assert _psnr(first.image, np.rot90(mpii_clip.frames[0])) > 28


def test_odd_sizes_are_padded_at_the_right_and_bottom(mpii_clip: Clip) -> None:
    odd = mpii_clip.frames[:3, :191, :255]
    frames = _decode_all(encode_video(odd, 25.0))
    assert frames[0].image.shape == (192, 256, 3)
    assert _psnr(frames[0].image[:191, :255], odd[0]) > 28


def test_without_libx264_mp4_falls_back_to_mpeg4(monkeypatch: pytest.MonkeyPatch, mpii_clip: Clip) -> None:
    monkeypatch.setattr(encode, "can_encode", lambda codec: codec != "libx264")
    assert preferred_codec("mp4") == "mpeg4"
    assert probe_video(encode_video(mpii_clip.frames[:3], 25.0, "mp4")).codec == "mpeg4"
    with pytest.raises(ValueError, match="unknown container"):
        preferred_codec("avi")


@pytest.mark.parametrize(
    ("limits", "what"),
    [
        (VideoLimits(max_bytes=1000), "file size"),
        (VideoLimits(max_duration_s=0.5), "duration"),
        (VideoLimits(max_frames=10), "frame count"),
        (VideoLimits(max_side=200), "width"),
        (VideoLimits(max_pixels=256 * 192 - 1), "frame size"),
    ],
    ids=["bytes", "duration", "frames", "side", "pixels"],
)
def test_declared_limits_are_checked_before_decoding(
    encoded_mpii: dict[tuple[str, str | None], bytes], limits: VideoLimits, what: str
) -> None:
    with pytest.raises(VideoLimitError) as raised:
        VideoReader(encoded_mpii[("mp4", None)], limits)
    assert raised.value.what == what
    assert raised.value.value > raised.value.limit
    assert what in str(raised.value) and "over the limit" in str(raised.value)


def test_limits_a_file_does_not_declare_are_checked_while_decoding(mpii_clip: Clip) -> None:
    output = _Unseekable()
    with VideoWriter(output, mpii_clip.fps, "webm") as writer:  # type: ignore[arg-type]
        for image in mpii_clip.frames:
            writer.write(image)
    data = bytes(output.data)
    info = probe_video(data)
    assert info.duration_s is None and info.frame_count is None

    decoded: list[VideoFrame] = []
    with (
        pytest.raises(VideoLimitError) as raised,
        VideoReader(data, VideoLimits(max_duration_s=0.5)) as reader,
    ):
        decoded.extend(reader.frames())
    assert raised.value.what == "duration"
    assert [frame.frame_index for frame in decoded] == list(range(13))  # 12 / 25 s <= 0.5 s < 13 / 25 s

    decoded.clear()
    with pytest.raises(VideoLimitError) as raised, VideoReader(data, VideoLimits(max_frames=10)) as reader:
        decoded.extend(reader.frames())
    assert (raised.value.what, len(decoded)) == ("frame count", 10)


def test_a_truncated_mp4_is_reported_corrupt_on_opening(
    encoded_mpii: dict[tuple[str, str | None], bytes],
) -> None:
    with pytest.raises(CorruptVideoError, match="cannot be opened"):
        VideoReader(truncated(encoded_mpii[("mp4", None)]))


@pytest.mark.parametrize("container", ["matroska", "webm"])
def test_a_truncated_matroska_file_is_reported_cut_short(mpii_clip: Clip, container: str) -> None:
    data = truncated(encode_clip(mpii_clip, container), keep=0.5)
    decoded: list[VideoFrame] = []
    with pytest.raises(CorruptVideoError, match="cut short"), VideoReader(data) as reader:
        decoded.extend(reader.frames())
    assert 0 < len(decoded) < len(mpii_clip.frames)


@pytest.mark.parametrize(("container", "codec"), CLIP_FORMATS, ids=FORMAT_IDS)
def test_flipped_bytes_are_reported_as_video_errors_only(
    encoded_mpii: dict[tuple[str, str | None], bytes], container: str, codec: str | None
) -> None:
    """Damage that the demuxer or decoder notices (a broken index, an error, a patched-up frame, a stream
    that stops early) is reported; damage inside a compressed frame that still parses cannot be told
    from a picture, so some damaged copies decode. Nothing but a VideoError may come out either way."""
    reported = 0
    for seed in range(10):
        try:
            frames = _decode_all(bytes_flipped(encoded_mpii[(container, codec)], seed=seed))
        except (CorruptVideoError, UnsupportedVideoError):
            reported += 1
        else:
            assert len(frames) > 0
    assert reported >= 6


def _avi(frames: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="avi") as output:
        stream = output.add_stream("mpeg4", rate=25)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        for image in frames:
            output.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        output.mux(stream.encode(None))
    return buffer.getvalue()


def _audio_only() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as output:
        stream = output.add_stream("aac", rate=16000)
        samples = np.zeros((1, 1024), np.float32)
        for _ in range(10):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 16000
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return buffer.getvalue()


def test_what_is_not_a_supported_video_is_refused_as_such(mpii_clip: Clip) -> None:
    png = cv2.imencode(".png", mpii_clip.frames[0])[1].tobytes()
    for data in (b"", b"not a video at all" * 50, png, _avi(mpii_clip.frames[:3])):
        with pytest.raises(UnsupportedVideoError, match="MP4, MOV, MKV or WebM"):
            VideoReader(data)
    with pytest.raises(UnsupportedVideoError, match="no video stream"):
        VideoReader(_audio_only())


def test_suffixes_name_the_container(tmp_path: Path, mpii_clip: Clip) -> None:
    for container, suffix in SUFFIXES.items():
        path = tmp_path / f"clip{suffix}"
        with VideoWriter(path, mpii_clip.fps) as writer:
            for image in mpii_clip.frames[:3]:
                writer.write(image)
        assert DEMUXER[container] in probe_video(path).container.split(",")
    with pytest.raises(ValueError, match="which container"):
        VideoWriter(tmp_path / "clip.bin", 25.0)
