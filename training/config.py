"""Training configuration: the seed's defaults, overridable by a YAML file and then by command-line flags."""

import argparse
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_args

import yaml

from core.hourglass import heatmap_side
from runtime.options import MINDSPORE_TARGETS

NO_DATA_MESSAGE = "give data, or both train_annot and image_dir"


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; the defaults are the seed's.

    The seed's configuration: docs/reference.md#training-configuration.
    """

    data: Path | None = None  # MPII-layout folder with annot/ and images/
    train_annot: Path | None = None  # default: DATA/annot/train.h5
    val_annot: Path | None = None  # default: DATA/annot/valid.h5 when it exists
    image_dir: Path | None = None  # default: DATA/images
    out: Path = Path("runs/train")
    device_target: str = "CPU"
    batch_size: int = 32
    epochs: int = 100
    lr: float = 1e-3
    lr_decay: float = 0.985
    seed: int = 1
    input_size: int = 256
    nstack: int = 2
    features: int = 256
    limit: int | None = None  # use only the first N training annotations
    samples_per_epoch: int | None = None  # default: all (limited) annotations
    save_every: int = 5  # epochs
    keep: int = 20
    resume: Path | None = None  # a training checkpoint: weights, optimizer state and epoch count
    init_from: Path | None = None  # any checkpoint of this network: its weights only (fine-tuning)
    workers: int = 2
    amp_level: str | None = None  # default: O2 on Ascend, O0 elsewhere
    log_every: int = 0  # also log a loss line every N steps (0: at epoch ends only)
    eval_limit: int = 300  # held-out persons scored after training (0: skip)
    distribute: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.device_target not in MINDSPORE_TARGETS:
            problems.append(f"device_target must be one of {MINDSPORE_TARGETS}")
        try:
            heatmap_side(self.input_size)
        except ValueError as error:
            problems.append(str(error))
        for name in ("batch_size", "epochs", "nstack", "features", "save_every", "keep", "workers"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        if self.lr <= 0 or not 0 < self.lr_decay <= 1:
            problems.append("lr must be > 0 and lr_decay in (0, 1]")
        if self.resume is not None and self.init_from is not None:
            problems.append("give resume (continue a run) or init_from (start a run from weights), not both")
        if self.data is None and (self.train_annot is None or self.image_dir is None):
            problems.append(NO_DATA_MESSAGE)
        if problems:
            raise ValueError("invalid training configuration: " + "; ".join(problems))

    @property
    def data_folder(self) -> Path:
        """The MPII-layout folder; only asked for when train_annot or image_dir is not given."""
        if self.data is None:
            raise ValueError(NO_DATA_MESSAGE)
        return Path(self.data)

    @property
    def train_annotation_file(self) -> Path:
        return self.train_annot or self.data_folder / "annot" / "train.h5"

    @property
    def val_annotation_file(self) -> Path | None:
        if self.val_annot is not None:
            return self.val_annot
        default = Path(self.data) / "annot" / "valid.h5" if self.data else None
        return default if default is not None and default.is_file() else None

    @property
    def images(self) -> Path:
        return self.image_dir or self.data_folder / "images"

    @property
    def resolved_amp_level(self) -> str:
        return self.amp_level or ("O2" if self.device_target == "Ascend" else "O0")


_PATH_FIELDS = {"data", "train_annot", "val_annot", "image_dir", "out", "resume", "init_from"}


def _coerce(name: str, value: Any) -> Any:
    return Path(value) if name in _PATH_FIELDS and value is not None else value


def load_yaml(path: Path) -> dict[str, Any]:
    """Keys of a YAML config file (dashes or underscores), checked against TrainConfig's fields."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path} must hold a mapping of option names to values")
    known = {f.name for f in fields(TrainConfig)}
    values = {str(key).replace("-", "_"): value for key, value in raw.items()}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{path}: unknown option(s) {', '.join(unknown)}")
    return {name: _coerce(name, value) for name, value in values.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train the stacked hourglass on an MPII-layout data set (seed defaults).",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--config", type=Path, help="YAML file of options; flags given here win over it")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        value_type = next(t for t in (get_args(f.type) or (f.type,)) if t is not type(None))
        if value_type is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction)
        else:
            parser.add_argument(flag, type=value_type)
    return parser


def parse_config(argv: list[str] | None = None) -> TrainConfig:
    """Defaults < YAML file (--config) < flags."""
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    config_file = args.pop("config", None)
    values = load_yaml(config_file) if config_file else {}
    values.update(args)
    try:
        return TrainConfig(**values)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
        raise
