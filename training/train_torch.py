"""Train the 2-stack hourglass in PyTorch on a GPU, on our data pipeline and metric, for import_torch.

    python -m training.train_torch --data DIR --out DIR [--features 256] [--seconds 390] [--lr-drop-at 0.8]

Why: MindSpore 2.10's GPU plugin needs CUDA 11 and the GPU machines we train on have CUDA 13, so GPU training
goes through PyTorch. Everything but the framework is ours: samples come from `training.dataset.PoseDataset`
with the seed's augmentation, the loss and the Adam schedule are the MindSpore trainer's (MSE over both
stacks, lr x 0.985 every 500 steps, optionally x 0.1 for the last part of the run), and every `--eval-every`
samples it scores the first `--val-persons` validation persons with the seed metric (flip test, core.codec,
core.metrics). The network is the reference's PoseNet (training.torch_network, its state-dict names; the
tests check it against the reference's golden forward pass), and what it saves is a reference checkpoint:
`python -m training.import_torch OUT/model.pt --out X.ckpt` makes it ours, to evaluate, fine-tune
(`run_train.sh --init-from`) and export. `--seconds` bounds the run by wall clock (for a time-limited GPU
lease); the lr drop then comes at that fraction of the time. Writes OUT/curve.json and OUT/model.pt.
"""

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import cv2
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

from core.codec import HeatmapCodec
from core.metrics import score_predictions
from core.mpii import MpiiAnnotations
from training.config import TrainConfig
from training.dataset import PoseDataset, Sample, crop_batch
from training.synth.annotation import read_annotations_without
from training.torch_network import PoseNet

# The seed's decay factor (training.config), applied every LR_DECAY_STEPS steps instead of every epoch.
LR_DECAY_STEPS = 500
LR_DROP_FACTOR = 0.1


@dataclass(frozen=True)
class CurvePoint:
    samples: int
    pck: float  # seed metric, total, on the validation persons
    loss: float  # mean training loss since the previous point
    seconds: float


class HeldOut:
    """The first validation persons' crops, cropped once, scored with flip test like the service."""

    def __init__(self, annotations: MpiiAnnotations, image_dir: Path, input_size: int) -> None:
        self.annotations = annotations
        self.codec = HeatmapCodec.for_input_size(input_size)
        self.crops = crop_batch(annotations, range(len(annotations)), image_dir, input_size)

    @torch.no_grad()
    def pck(self, net: nn.Module, device: torch.device, batch: int = 256) -> float:
        net.eval()
        images = torch.from_numpy(self.crops).to(device)
        own = torch.cat([net(images[i : i + batch])[:, -1] for i in range(0, len(images), batch)])
        mirrored = torch.cat(
            [net(images[i : i + batch].flip(2))[:, -1] for i in range(0, len(images), batch)]
        )
        net.train()
        ann = self.annotations
        decoded = self.codec.decode(own.cpu().numpy(), ann.center, ann.scale, mirrored.cpu().numpy())
        return score_predictions(ann, decoded.image_xy, pred_origin=0).seed.ratio("all", "total")


@dataclass(frozen=True)
class Schedule:
    """The MindSpore trainer's lr decay, plus an optional x 0.1 drop once the run is `drop_at` through."""

    base_lr: float
    total_samples: int
    seconds: float | None = None  # wall-clock budget; progress is whichever of samples and time is further
    drop_at: float | None = None

    def progress(self, samples: int, elapsed: float) -> float:
        by_time = elapsed / self.seconds if self.seconds else 0.0
        return max(samples / self.total_samples, by_time)

    def lr(self, step: int, progress: float) -> float:
        lr = self.base_lr * TrainConfig.lr_decay ** (step // LR_DECAY_STEPS)
        dropped = self.drop_at is not None and progress >= self.drop_at
        return lr * LR_DROP_FACTOR if dropped else lr


def train(args: argparse.Namespace, held_out: HeldOut, device: torch.device) -> list[CurvePoint]:
    torch.manual_seed(args.seed)
    torch.backends.cudnn.benchmark = True
    data = PoseDataset(
        read_annotations_without(args.data / "annot" / "train.h5", tuple(args.exclude_family)),
        args.data / "images",
        input_size=args.input_size,
        seed=args.seed,
    )
    # DataLoader takes any map-style dataset; PoseDataset is one without importing torch.
    loader: DataLoader[Sample] = DataLoader(
        cast("Dataset[Sample]", data),
        batch_size=args.batch_size,
        sampler=RandomSampler(data, replacement=True, num_samples=args.samples),
        num_workers=args.workers,
        drop_last=True,
        pin_memory=device.type == "cuda",
    )
    # torch's stubs leave out Module.to's memory_format, which it accepts and documents.
    net = PoseNet(2, args.features).to(device, memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    schedule = Schedule(args.lr, args.samples, args.seconds, args.lr_drop_at)
    curve: list[CurvePoint] = []
    losses: list[torch.Tensor] = []
    started, seen, step = time.perf_counter(), 0, 0

    def record() -> None:
        point = CurvePoint(
            seen, held_out.pck(net, device), float(torch.stack(losses).mean()), time.perf_counter() - started
        )
        losses.clear()
        curve.append(point)
        print(json.dumps(asdict(point)), flush=True)
        write_outputs(args, net, curve)

    for images, targets in loader:
        progress = schedule.progress(seen, time.perf_counter() - started)
        if progress >= 1:
            break
        for group in optimizer.param_groups:
            group["lr"] = schedule.lr(step, progress)
        images, targets = images.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
            heatmaps = net(images)
        loss = ((heatmaps.float() - targets[:, None]) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
        step, seen = step + 1, seen + len(images)
        if seen % args.eval_every < len(images):
            record()
    if losses:
        record()
    return curve


def write_outputs(args: argparse.Namespace, net: nn.Module, curve: list[CurvePoint]) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    settings = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
    (args.out / "curve.json").write_text(
        json.dumps({"settings": settings, "curve": [asdict(point) for point in curve]}, indent=1) + "\n"
    )
    torch.save(
        {"state_dict": {f"model.module.{k}": v.cpu() for k, v in net.state_dict().items()}},
        args.out / "model.pt",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.train_torch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="MPII-layout folder with annot/train.h5, annot/valid.h5"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/torch"))
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--samples", type=int, default=160_000, help="training samples at most")
    parser.add_argument("--seconds", type=float, default=None, help="wall-clock budget of the training loop")
    parser.add_argument(
        "--lr-drop-at", type=float, default=None, help="fraction of the run after which lr is x 0.1"
    )
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward pass")
    parser.add_argument("--eval-every", type=int, default=16_000)
    parser.add_argument("--val-persons", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4, help="data loading processes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--exclude-family",
        action="append",
        default=[],
        metavar="FAMILY",
        help="leave out the persons of a training.synth style family (repeatable), to measure generalisation",
    )
    args = parser.parse_args(argv)
    # One OpenCV thread per process, set here before OpenCV first runs: the loader processes fork from this
    # one and inherit it. Setting it in each worker instead hung every worker once this process had a pool.
    cv2.setNumThreads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    annotations = read_annotations_without(args.data / "annot" / "valid.h5", tuple(args.exclude_family))
    held_out = HeldOut(annotations.subset(args.val_persons), args.data / "images", args.input_size)
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}")
    train(args, held_out, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
