"""Short test videos whose ground truth is known exactly, made at test time (no video is committed).

- `mpii_camera_clip(entry)`: one of the five real MPII persons of core/data/mpii_sample, filmed by a
  virtual camera that pans and zooms across the photograph. Each frame is one affine warp of the image,
  so the annotated joints' position in every frame is that warp of the annotation.
- `synthetic_people_clip(walkers)`: clothed figures of training.synth walking along straight lines over a
  still background, each animated back and forth between two sampled poses; a walker may enter late or
  walk out of the picture. Their joints are where the generator put them.
- `encode_clip` writes a clip as MP4, MOV, MKV or WebM; `truncated` and `bytes_flipped` damage a file;
  `write_y4m` writes the raw YUV file a browser's fake camera plays.

Joints are 0-based pixels (the service's convention; MPII's annotation is 1-based). To look at them:

    python tests/video_clips.py OUT_DIR
"""

import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from core.geometry import MPII_SCALE_UNIT
from core.joints import NUM_JOINTS
from core.mpii import MPII_SAMPLE_DIR, MPII_SAMPLE_PERSONS, read_annotations
from runtime.video.encode import encode_video
from training.synth.body import build_figure
from training.synth.drawing import Canvas, part_owner
from training.synth.pose import SIDES, Limb, Pose, Proportions, frame_skeleton, pose_skeleton, sample_pose
from training.synth.textures import colored_noise
from training.synth.wardrobe import Look, Outfit

FRAME_SIZE = (192, 256)  # height, width
FPS = 25.0
# (container, codec) pairs the tests write; codec None is the container's preferred one.
CLIP_FORMATS: tuple[tuple[str, str | None], ...] = (
    ("mp4", None),
    ("mp4", "mpeg4"),
    ("mov", None),
    ("matroska", None),
    ("webm", "libvpx-vp9"),
    ("webm", "libvpx"),
)
SUFFIXES = {"mp4": ".mp4", "mov": ".mov", "matroska": ".mkv", "webm": ".webm"}


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray  # (F, H, W, 3) uint8 RGB
    joints: np.ndarray  # (F, P, 16, 2) 0-based pixels; NaN while a person is not in the clip
    visible: np.ndarray  # (F, P, 16) bool: annotated, in the clip and inside the frame
    fps: float

    @property
    def times(self) -> np.ndarray:
        return np.arange(len(self.frames)) / self.fps


def mean_error(path: np.ndarray, truth: np.ndarray, visible: np.ndarray | None = None) -> float:
    """Mean distance in pixels of joints (T, ..., 2) from the truth, over the visible ones when given."""
    distances = np.linalg.norm(path - truth, axis=-1)
    return float(distances.mean() if visible is None else distances[visible].mean())


def mean_acceleration(path: np.ndarray) -> float:
    """Mean size of the frame-to-frame second difference of joints (T, ..., 2), pixels per frame²."""
    return float(np.linalg.norm(np.diff(path, 2, axis=0), axis=-1).mean())


def _inside(joints: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    x, y = joints[..., 0], joints[..., 1]
    with np.errstate(invalid="ignore"):
        return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def mpii_camera_clip(
    entry: int = 0,
    frame_count: int = 24,
    size: tuple[int, int] = FRAME_SIZE,
    fps: float = FPS,
    pan: float = 0.3,
    zoom: float = 0.25,
) -> Clip:
    """MPII validation person `entry` (0-4): the camera pans by `pan` of the person's crop side from left
    to right (a little downwards too) and zooms in by `zoom` over the clip; at the start the person's crop
    (MPII's 200 x scale pixels) fills the frame's height."""
    if not 0 <= entry < MPII_SAMPLE_PERSONS:
        raise ValueError(f"entry is one of the {MPII_SAMPLE_PERSONS} shipped persons, not {entry}")
    annotations = read_annotations(MPII_SAMPLE_DIR / "annot" / "valid.h5").subset(MPII_SAMPLE_PERSONS)
    photo = cv2.imread(str(MPII_SAMPLE_DIR / "images" / annotations.imgname[entry]), cv2.IMREAD_COLOR)
    photo = cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)
    height, width = size
    side = MPII_SCALE_UNIT * float(annotations.scale[entry])
    base = height / side  # frame pixels per photo pixel at the start
    photo = cv2.GaussianBlur(photo, (0, 0), sigmaX=0.5 / base)  # against aliasing when shrinking
    part = annotations.part[entry] - 1.0  # MPII's 1-based pixels to 0-based
    annotated = annotations.part[entry, :, 0] != 0
    frames, joints = [], []
    for progress in np.linspace(0.0, 1.0, frame_count):
        scale = base * (1.0 + zoom * progress)
        center = annotations.center[entry] + pan * side * (progress - 0.5) * np.array([1.0, 0.3])
        warp = np.array(
            [[scale, 0.0, width / 2 - scale * center[0]], [0.0, scale, height / 2 - scale * center[1]]]
        )
        frames.append(
            cv2.warpAffine(
                photo, warp, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
        )
        joints.append(part @ warp[:, :2].T + warp[:, 2])
    joints_array = np.stack(joints)[:, None]
    visible = _inside(joints_array, size) & annotated[None, None, :]
    return Clip(np.stack(frames), joints_array, visible, fps)


@dataclass(frozen=True)
class Walker:
    """A synthetic person whose joints' box is centred on a point moving from `start` to `end` (pixels)
    between frames `first` and `last` (inclusive; None: the clip's last), `height` pixels tall standing."""

    start: tuple[float, float]
    end: tuple[float, float]
    height: float
    first: int = 0
    last: int | None = None
    pose_period_s: float = 1.2  # from one pose to the other and back


def _blend_limb(a: Limb, b: Limb, weight: float) -> Limb:
    return Limb(
        a.flexion + weight * (b.flexion - a.flexion),
        a.abduction + weight * (b.abduction - a.abduction),
        a.bend + weight * (b.bend - a.bend),
    )


def _blend(a: Pose, b: Pose, weight: float) -> Pose:
    """The pose `weight` of the way from a to b, angle by angle (within both poses' joint limits)."""
    return replace(
        a,
        arms={side: _blend_limb(a.arms[side], b.arms[side], weight) for side in SIDES},
        legs={side: _blend_limb(a.legs[side], b.legs[side], weight) for side in SIDES},
        **{name: getattr(a, name) + weight * (getattr(b, name) - getattr(a, name))
           for name in ("lean", "side_lean", "twist", "neck_tilt", "neck_turn")},
    )  # fmt: skip


@dataclass(frozen=True)
class _Appearance:
    """What stays the same about a walker from frame to frame."""

    poses: tuple[Pose, Pose]
    proportions: Proportions
    yaw_deg: float
    outfit: Outfit
    look: Look

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "_Appearance":
        poses = (sample_pose(rng), sample_pose(rng))
        return cls(
            poses, Proportions.sample(rng), float(rng.uniform(-30, 30)), Outfit.sample(rng), Look.shaded(rng)
        )


def synthetic_people_clip(
    walkers: tuple[Walker, ...], frame_count: int, fps: float = FPS, seed: int = 0
) -> Clip:
    """The walkers over one background in FRAME_SIZE frames; a later walker is drawn in front."""
    rng = np.random.default_rng(seed)
    background = colored_noise(rng, *FRAME_SIZE)
    appearances = [_Appearance.sample(rng) for _ in walkers]
    joints = np.full((frame_count, len(walkers), NUM_JOINTS, 2), np.nan)
    frames = []
    for frame_index in range(frame_count):
        canvas = Canvas(background, light_deg=45.0)
        for number, (walker, person) in enumerate(zip(walkers, appearances, strict=True)):
            last = frame_count - 1 if walker.last is None else walker.last
            if not walker.first <= frame_index <= last:
                continue
            progress = (frame_index - walker.first) / max(last - walker.first, 1)
            middle = np.add(walker.start, progress * np.subtract(walker.end, walker.start))
            time_s = (frame_index - walker.first) / fps
            weight = 0.5 - 0.5 * math.cos(2 * math.pi * time_s / walker.pose_period_s)
            skeleton = pose_skeleton(_blend(*person.poses, weight), person.proportions, person.yaw_deg, 0.0)
            projection = frame_skeleton(skeleton, middle, walker.height, 0.0)
            figure = build_figure(skeleton, projection, person.outfit, person.look)
            for part_index, part in enumerate(figure.parts):
                canvas.paint(part, part_owner(number, part_index))
            joints[frame_index, number] = figure.joints
        frames.append(np.clip(canvas.image, 0, 255).astype(np.uint8))
    return Clip(np.stack(frames), joints, _inside(joints, FRAME_SIZE), fps)


def two_walkers_and_a_newcomer(frame_count: int = 60) -> tuple[Clip, tuple[Walker, ...]]:
    """Walker 0 crosses the picture left to right; walker 1, beside and a little behind, walks right and
    out of the picture halfway; walker 2 comes in from the left in the last third."""
    walkers = (
        Walker(start=(50, 100), end=(200, 110), height=120),
        Walker(start=(150, 85), end=(400, 80), height=105),
        Walker(start=(-20, 120), end=(70, 115), height=115, first=2 * frame_count // 3),
    )
    return synthetic_people_clip(walkers, frame_count, seed=7), walkers


def steady_pair(frame_count: int = 26) -> Clip:
    """Two walkers who stay well inside the picture (for 26 frames at least)."""
    walkers = (Walker((60, 100), (110, 100), height=110), Walker((190, 95), (160, 95), height=100))
    return synthetic_people_clip(walkers, frame_count, seed=3)


def encode_clip(clip: Clip, container: str = "mp4", codec: str | None = None) -> bytes:
    return encode_video(clip.frames, clip.fps, container, codec)


def write_y4m(clip: Clip, path: Path) -> Path:
    """The clip as an uncompressed YUV4MPEG2 (4:2:0) file, the input of Chromium's fake camera
    (--use-file-for-fake-video-capture); it loops the frames."""
    height, width = clip.frames.shape[1:3]
    rate = f"{round(clip.fps * 1000)}:1000"
    with path.open("wb") as file:
        file.write(f"YUV4MPEG2 W{width} H{height} F{rate} Ip A1:1 C420jpeg\n".encode())
        for image in clip.frames:
            file.write(b"FRAME\n")
            file.write(cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    """The first `keep` of a file, as an interrupted upload leaves it."""
    return data[: int(len(data) * keep)]


def bytes_flipped(data: bytes, count: int = 64, seed: int = 0, skip: float = 0.25) -> bytes:
    """`count` bytes inverted at random after the first `skip` of the file (past the headers)."""
    damaged = bytearray(data)
    rng = np.random.default_rng(seed)
    for position in rng.integers(int(len(data) * skip), len(data), size=count):
        damaged[position] ^= 0xFF
    return bytes(damaged)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    clips = {f"mpii{entry}": mpii_camera_clip(entry) for entry in range(MPII_SAMPLE_PERSONS)}
    clips["walkers"] = two_walkers_and_a_newcomer()[0]
    for name, clip in clips.items():
        for container, codec in CLIP_FORMATS:
            path = out / f"{name}_{codec or 'default'}{SUFFIXES[container]}"
            path.write_bytes(encode_clip(clip, container, codec))
            print(path)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
