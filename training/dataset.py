"""Training samples from an MPII-layout folder (annot h5 + images), per docs/reference.md#training-samples.

A sample is the person's crop (input_size² NHWC float32 RGB in [0, 1]) and its target heatmaps (J, H/4, W/4).
Crop, rotation and scale are one warpAffine (core.geometry.crop_image); targets come from
core.codec.HeatmapCodec. How each reference quirk is treated is written down in training/README.md.
MindSpore is imported only by `create_dataset`, so the sample code runs anywhere.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import training.isa_cap  # noqa: F401  (before MindSpore's first import)

import cv2
import numpy as np

from core.codec import HeatmapCodec
from core.geometry import crop_image, crop_transform, transform_points
from core.joints import FLIP_PERMUTATION
from core.model_repo import PIXEL_MAX
from core.mpii import MpiiAnnotations

if TYPE_CHECKING:
    import mindspore.dataset as msds

NOT_ANNOTATED_X = -1.0
COLUMNS = ("image", "heatmaps")
Sample = tuple[np.ndarray, np.ndarray]  # the crop and its target heatmaps, as COLUMNS names them


@dataclass(frozen=True)
class Augmentation:
    """The seed's augmentation ranges; `flip_probability`/`jitter_probability` are drawn independently."""

    max_rotation_deg: float = 30.0
    scale_range: tuple[float, float] = (0.75, 1.25)
    flip_probability: float = 0.5
    jitter_probability: float = 0.5
    hue_deg: float = 0.2 * 360.0
    saturation_range: tuple[float, float] = (0.5, 1.5)
    brightness: float = 0.3
    contrast_range: tuple[float, float] = (0.5, 1.5)


@dataclass(frozen=True)
class Transform:
    """The random choices for one sample (all neutral = the plain evaluation crop)."""

    rotation_deg: float = 0.0
    scale_factor: float = 1.0
    flip: bool = False
    hue_deg: float = 0.0
    saturation: float = 1.0
    brightness: float = 0.0
    contrast: float = 1.0

    @property
    def jitters(self) -> bool:
        return (self.hue_deg, self.saturation, self.brightness, self.contrast) != (0.0, 1.0, 0.0, 1.0)

    @classmethod
    def draw(cls, rng: np.random.Generator, aug: Augmentation) -> "Transform":
        jitter = rng.random() < aug.jitter_probability
        return cls(
            rotation_deg=rng.uniform(-aug.max_rotation_deg, aug.max_rotation_deg),
            scale_factor=rng.uniform(*aug.scale_range),
            flip=bool(rng.random() < aug.flip_probability),
            hue_deg=rng.uniform(-aug.hue_deg, aug.hue_deg) if jitter else 0.0,
            saturation=rng.uniform(*aug.saturation_range) if jitter else 1.0,
            brightness=rng.uniform(-aug.brightness, aug.brightness) if jitter else 0.0,
            contrast=rng.uniform(*aug.contrast_range) if jitter else 1.0,
        )


def jitter_colors(image: np.ndarray, transform: Transform) -> np.ndarray:
    """Hue shift, saturation and contrast factors and a brightness offset on a float RGB image in [0, 1]."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = np.mod(hsv[..., 0] + transform.hue_deg, 360.0)
    hsv[..., 1] = np.clip(hsv[..., 1] * transform.saturation, 0.0, 1.0)
    image = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    mean = image.mean()
    image = (image - mean) * transform.contrast + mean + transform.brightness
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def read_rgb(path: Path) -> np.ndarray:
    """An image file as RGB uint8; raises FileNotFoundError naming the file."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def crop_batch(annotations: MpiiAnnotations, indices: range, image_dir: Path, input_size: int) -> np.ndarray:
    """(B, S, S, 3) float32 RGB crops in [0, 1] at the annotated centre and scale, no augmentation."""
    crops = []
    for i in indices:
        rgb = read_rgb(Path(image_dir) / annotations.imgname[i]).astype(np.float32)
        crops.append(crop_image(rgb, annotations.center[i], annotations.scale[i], input_size))
    return np.stack(crops) / np.float32(PIXEL_MAX)


class PoseDataset:
    """Random-access training samples over MPII annotations and an image folder.

    `__getitem__` draws a fresh augmentation from a generator seeded by (seed, index, draws so far in this
    process), so a single-process pipeline is reproducible; with parallel workers the draws depend on how
    indices are spread over the workers.
    """

    def __init__(
        self,
        annotations: MpiiAnnotations,
        image_dir: Path,
        input_size: int = 256,
        augmentation: Augmentation | None = Augmentation(),
        seed: int = 1,
    ) -> None:
        self.codec = HeatmapCodec.for_input_size(input_size)
        self.annotations = annotations
        self.image_dir = Path(image_dir)
        self.input_size = input_size
        self.augmentation = augmentation
        self.seed = seed
        self._draws = 0

    def __len__(self) -> int:
        return len(self.annotations)

    def load_image(self, index: int) -> np.ndarray:
        return read_rgb(self.image_dir / self.annotations.imgname[index])

    def heatmap_keypoints(self, index: int, transform: Transform) -> np.ndarray:
        """The entry's joints (J, 2) at heatmap resolution after `transform`; not annotated: x = -1.

        MPII's 1-based coordinates become 0-based first. A flip mirrors about the crop's centre line and
        permutes the joints, so the not-annotated mask moves with its joint.
        """
        ann = self.annotations
        matrix = crop_transform(
            ann.center[index],
            ann.scale[index] * transform.scale_factor,
            self.codec.heatmap_size,
            transform.rotation_deg,
        )
        keypoints = transform_points(ann.part[index] - 1.0, matrix)
        annotated = ann.annotated[index]
        if transform.flip:
            keypoints[:, 0] = (self.input_size - 1) / self.codec.stride - keypoints[:, 0]
            keypoints, annotated = keypoints[FLIP_PERMUTATION], annotated[FLIP_PERMUTATION]
        keypoints[~annotated, 0] = NOT_ANNOTATED_X
        return keypoints

    def sample(self, index: int, transform: Transform) -> Sample:
        """(image (S, S, 3) float32 in [0, 1], heatmaps (J, S/4, S/4) float32) for one entry."""
        ann = self.annotations
        crop = crop_image(
            self.load_image(index),
            ann.center[index],
            ann.scale[index] * transform.scale_factor,
            self.input_size,
            transform.rotation_deg,
        )
        image = crop.astype(np.float32) / np.float32(PIXEL_MAX)
        if transform.flip:
            image = np.ascontiguousarray(image[:, ::-1])
        if transform.jitters:
            image = jitter_colors(image, transform)
        return image, self.codec.encode(self.heatmap_keypoints(index, transform))

    def __getitem__(self, index: int) -> Sample:
        if self.augmentation is None:
            return self.sample(index, Transform())
        rng = np.random.default_rng([self.seed, int(index), self._draws])
        self._draws += 1
        return self.sample(index, Transform.draw(rng, self.augmentation))


class EpochView:
    """A data set repeated to `length` entries, wrapping around, for epochs longer than the data set."""

    def __init__(self, dataset: PoseDataset, length: int) -> None:
        self.dataset = dataset
        self.length = int(length)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        return self.dataset[int(index) % len(self.dataset)]


def create_dataset(
    dataset: PoseDataset,
    batch_size: int,
    samples_per_epoch: int | None = None,
    shuffle: bool = True,
    num_workers: int = 1,
    num_shards: int | None = None,
    shard_id: int | None = None,
    shuffle_seed: int = 1,
) -> "msds.Dataset":
    """A batched MindSpore GeneratorDataset (drop remainder), sharded for data parallel training.

    Every rank must pass the same `shuffle_seed` so that the shards of one epoch stay disjoint.
    """
    import mindspore.dataset as msds

    length = len(dataset) if samples_per_epoch is None else int(samples_per_epoch)
    source = dataset if length <= len(dataset) else EpochView(dataset, length)
    per_shard = length // (num_shards or 1)
    if per_shard < batch_size:
        raise ValueError(
            f"{per_shard} samples per shard per epoch give no full batch of {batch_size}: "
            "lower --batch-size or raise --samples-per-epoch"
        )
    msds.config.set_seed(shuffle_seed)
    # The samplers draw a new permutation every epoch, so an epoch shorter than the data set is a fresh
    # random subset each time rather than always its first `length` entries.
    if num_shards:
        sampler = msds.DistributedSampler(num_shards, shard_id, shuffle=shuffle, num_samples=per_shard)
    elif shuffle:
        sampler = msds.RandomSampler(num_samples=length)
    else:
        sampler = msds.SequentialSampler(num_samples=length)
    generator = msds.GeneratorDataset(
        source,
        column_names=list(COLUMNS),
        sampler=sampler,
        num_parallel_workers=num_workers,
        python_multiprocessing=num_workers > 1,
    )
    return generator.batch(batch_size, drop_remainder=True)
