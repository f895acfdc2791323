"""Train the stacked hourglass on an MPII-layout data set, standalone or data parallel under `msrun`.

    python -m training.train --data DIR [--config FILE.yaml] [--input-size 128 --features 128 ...]

Defaults are the seed's (batch 32, 100 epochs, Adam 1e-3 x 0.985^epoch, seed 1, AMP O2 on Ascend). Loss
lines go to OUT/train.log in the seed's format; checkpoints (with optimizer state) to OUT/checkpoints every
--save-every epochs, keeping --keep; --resume continues from one; --init-from starts a new run (epoch 1,
fresh optimizer) from a checkpoint's weights, e.g. to fine-tune on other data. After training,
OUT/final.ckpt holds the network and, when validation annotations exist, OUT/eval/result.txt the
held-out report. Under msrun (--distribute) each rank writes to OUT/rank_<r>/. The oneDNN ISA cap
(docs/reference.md#avx-512-trap) is set by importing `training.isa_cap`, before MindSpore loads.
"""

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Never, TextIO

import training.isa_cap  # noqa: F401  (before MindSpore's first import)

import mindspore as ms
import numpy as np
from mindspore import nn, ops
from mindspore.train import Callback, CheckpointConfig, Model, ModelCheckpoint, RunContext
from tqdm import tqdm

from core.mpii import read_annotations
from training.checkpoints import load_strict, network_entries, read_checkpoint
from training.config import TrainConfig, parse_config
from training.dataset import Augmentation, PoseDataset, create_dataset
from training.eval import evaluate, write_results
from training.network import StackedHourglass
from training.runtime import use_device

LOG_FILE = "train.log"
FINAL_CHECKPOINT = "final.ckpt"
CHECKPOINT_PREFIX = "hourglass"
EPOCH_KEY = "epoch_num"


class HeatmapMSE(nn.Cell):
    """Mean squared error over (B, nstack, J, H, W): every stack against the same target.

    The seed's loss (docs/reference.md#training-configuration).

    Computed in float32 even when AMP runs the network in float16, where squared errors of ~1e-6 underflow.
    """

    def construct(self, predictions: ms.Tensor, targets: ms.Tensor) -> ms.Tensor:
        difference = predictions.astype(ms.float32) - ops.expand_dims(targets.astype(ms.float32), 1)
        return ops.mean(difference * difference)


def learning_rate(config: TrainConfig, steps_per_epoch: int) -> nn.ExponentialDecayLR:
    """lr x decay^epoch, stepped per epoch (the seed's schedule); driven by the optimizer's global step, so a
    resumed run continues where the checkpoint left off whatever --epochs now says."""
    return nn.ExponentialDecayLR(config.lr, config.lr_decay, steps_per_epoch, is_stair=True)


class ResumableCheckpoint(ModelCheckpoint):
    """`hourglass-E_S.ckpt` also when a run resumes into its own folder, so that --keep counts them all.

    MindSpore's ModelCheckpoint switches to the prefix `hourglass_1` when the folder already holds checkpoints
    with its prefix; epochs continue on resume, so the plain names cannot collide.
    """

    def __init__(self, directory: Path, config: CheckpointConfig) -> None:
        super().__init__(prefix=CHECKPOINT_PREFIX, directory=str(directory), config=config)
        self._prefix = CHECKPOINT_PREFIX


class SeedLog(Callback):
    """Loss and time lines in the seed's format (`epoch: 1 step: 695, loss is ...`) and a TTY progress bar."""

    def __init__(self, stream: TextIO, steps_per_epoch: int, log_every: int, progress: bool) -> None:
        super().__init__()
        self.stream = stream
        self.steps_per_epoch = steps_per_epoch
        self.log_every = log_every
        self.progress = progress
        self.bar: tqdm[Never] | None = None
        self.epoch_started = 0.0
        self.losses: list[np.float32] = []

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
        if self.bar is None:
            print(text, flush=True)

    def on_train_epoch_begin(self, run_context: RunContext) -> None:
        epoch = run_context.original_args().cur_epoch_num
        self.epoch_started = time.perf_counter()
        if self.progress:
            self.bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch}", unit="step", leave=False)

    def on_train_step_end(self, run_context: RunContext) -> None:
        params = run_context.original_args()
        loss = np.float32(np.mean(params.net_outputs.asnumpy()))
        self.losses.append(loss)
        step = (params.cur_step_num - 1) % self.steps_per_epoch + 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.6g}")
        if self.log_every and step % self.log_every == 0 and step != self.steps_per_epoch:
            self._line(f"epoch: {params.cur_epoch_num} step: {step}, loss is {loss!s}")

    def on_train_epoch_end(self, run_context: RunContext) -> None:
        params = run_context.original_args()
        elapsed_ms = (time.perf_counter() - self.epoch_started) * 1000
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self._line(f"epoch: {params.cur_epoch_num} step: {self.steps_per_epoch}, loss is {self.losses[-1]!s}")
        self._line(
            f"epoch time: {elapsed_ms:.3f} ms, per step time: {elapsed_ms / self.steps_per_epoch:.3f} ms"
        )


def setup_context(config: TrainConfig) -> tuple[int, int]:
    """Device, execution mode, seed and (under msrun) the data-parallel group; returns (rank, group size)."""
    use_device(config.device_target)
    ms.set_seed(config.seed)
    if not config.distribute:
        return 0, 1
    from mindspore.communication import get_group_size, get_rank, init

    init()
    ms.set_auto_parallel_context(
        parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True, device_num=get_group_size()
    )
    return get_rank(), get_group_size()


def resume_from(path: Path, net: nn.Cell, optimizer: nn.Optimizer) -> int:
    """Load network and optimizer state from a training checkpoint; returns the epochs already done."""
    params = ms.load_checkpoint(str(path))
    if EPOCH_KEY not in params:
        raise ValueError(f"{path} has no {EPOCH_KEY!r}: not a checkpoint written by training.train")
    load_strict(net, network_entries(params))
    ms.load_param_into_net(optimizer, params)
    return int(params[EPOCH_KEY].asnumpy())


def run_directory(config: TrainConfig, rank: int, group_size: int) -> Path:
    out = Path(config.out) / f"rank_{rank}" if group_size > 1 else Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def train(config: TrainConfig) -> Path:
    """Run the training the config describes; returns the run folder (final.ckpt, train.log, eval/)."""
    rank, group_size = setup_context(config)
    out = run_directory(config, rank, group_size)
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2, default=str) + "\n")
    # Built first, right after the seed is set, so that every rank starts from the same weights.
    net = StackedHourglass(config.nstack, config.features)
    annotations = read_annotations(config.train_annotation_file)
    if config.limit is not None:
        annotations = annotations.subset(config.limit)
    samples = PoseDataset(annotations, config.images, config.input_size, Augmentation(), config.seed + rank)
    dataset = create_dataset(
        samples,
        config.batch_size,
        config.samples_per_epoch,
        num_workers=config.workers,
        num_shards=group_size if group_size > 1 else None,
        shard_id=rank if group_size > 1 else None,
        shuffle_seed=config.seed,
    )
    steps = dataset.get_dataset_size()

    optimizer = nn.Adam(net.trainable_params(), learning_rate=learning_rate(config, steps))
    done = resume_from(config.resume, net, optimizer) if config.resume else 0
    if config.init_from:
        load_strict(net, read_checkpoint(config.init_from))
    extra = {"keep_batchnorm_fp32": False} if config.device_target == "Ascend" else {}
    model = Model(net, HeatmapMSE(), optimizer, amp_level=config.resolved_amp_level, **extra)
    checkpoints = ResumableCheckpoint(
        directory=out / "checkpoints",
        config=CheckpointConfig(
            save_checkpoint_steps=steps * config.save_every,
            keep_checkpoint_max=config.keep,
            append_info=[EPOCH_KEY, "step_num"],
        ),
    )
    progress = config.progress and sys.stdout.isatty()
    with open(out / LOG_FILE, "a") as log:
        log.write(
            f"# {len(samples)} persons, {steps} steps/epoch x {config.batch_size} on {group_size} device(s), "
            f"input {config.input_size}, features {config.features}, nstack {config.nstack}, "
            f"mindspore {ms.__version__}, lr {config.lr:g} x {config.lr_decay:g}^epoch, "
            f"resumed at epoch {done}"
            + (f", initialised from {config.init_from}" if config.init_from else "")
            + "\n"
        )
        callbacks = [SeedLog(log, steps, config.log_every, progress), checkpoints]
        model.train(config.epochs, dataset, callbacks=callbacks, dataset_sink_mode=False, initial_epoch=done)
    ms.save_checkpoint(net, str(out / FINAL_CHECKPOINT))
    if config.eval_limit and config.val_annotation_file is not None and rank == 0:
        held_out = read_annotations(config.val_annotation_file).subset(config.eval_limit)
        evaluation = evaluate(net, held_out, config.images, config.input_size)
        header = f"held-out evaluation of {out / FINAL_CHECKPOINT} on {len(held_out)} persons\n\n"
        print(write_results(out / "eval", evaluation, header).read_text(), end="")
    return out


def main(argv: list[str] | None = None) -> None:
    train(parse_config(argv))


if __name__ == "__main__":
    main()
