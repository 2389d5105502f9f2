"""What every task's Python predictor shares: images in any form to uint8 RGB, batches of equal size on
the device, mixed precision, and `load`, which builds a task's predictor from a `hrnet-lit fit`
checkpoint (or a config plus weights) without a Trainer.

A task's predictor (`hrnet_lit/<task>/predictor.py`) holds the task's LightningModule in eval mode and
calls the same batch function that the task's `predict_step` calls, so `hrnet-lit predict` and the
predictor give the same results.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import torch
import yaml
from lightning.pytorch import LightningDataModule
from PIL import Image
from torch import Tensor

from hrnet_lit.common.files import read_rgb, to_rgb
from hrnet_lit.common.normalize import normalize_batch
from hrnet_lit.common.task import HRNetTask
from hrnet_lit.errors import InputError, MissingInputError

ImageLike = str | Path | Image.Image | np.ndarray
"""A file path, a PIL image of any mode but F, or an (H, W, 3) uint8 RGB array."""

R = TypeVar("R")

PRECISIONS: dict[str | None, torch.dtype | None] = {
    None: None,
    "32": None,
    "32-true": None,
    "16-mixed": torch.float16,
    "bf16-mixed": torch.bfloat16,
}
"""`precision`: None / 32 (float32), or autocast to float16 / bfloat16 (Lightning's names)."""


def rgb_array(image: ImageLike, name: str = "image") -> np.ndarray:
    """`image` as an (H, W, 3) uint8 RGB array. A path is read as every task's data reads files; a PIL
    image goes through the same conversion (`to_rgb`: 16-bit greyscale scaled, not clipped); a mode
    with no 8-bit scale (F) or one PIL cannot convert is an `InputError` naming `name`."""
    if isinstance(image, str | Path):
        return np.asarray(read_rgb(Path(image)))
    if isinstance(image, Image.Image):
        try:
            return np.asarray(to_rgb(image, Path(name)))
        except ValueError as error:
            if isinstance(error, InputError):
                raise
            raise InputError(f"cannot read image {name}: PIL mode {image.mode}: {error}") from None
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
            raise InputError(
                f"{name} is a {image.dtype} array of shape {image.shape}; expected (H, W, 3) uint8 RGB "
                "(PIL.Image.fromarray reads other layouts)"
            )
        return image
    raise InputError(
        f"{name} is a {type(image).__name__}; expected a path, a PIL image or an (H, W, 3) uint8 array"
    )


def network_input(images: Tensor) -> Tensor:
    """The network's input: uint8 images (N, 3, H, W) normalised on their device; float images are taken
    as normalised already (what a loader that normalises on its core hands)."""
    return normalize_batch(images) if images.dtype == torch.uint8 else images


def same_size_batches(shapes: Sequence[tuple[int, ...]], batch_size: int) -> Iterator[list[int]]:
    """Indices of `shapes` grouped by shape, in order of first appearance, `batch_size` at most each:
    one network call per group, and no image is padded to another's size."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, shape in enumerate(shapes):
        groups.setdefault(tuple(shape), []).append(index)
    for members in groups.values():
        for start in range(0, len(members), batch_size):
            yield members[start : start + batch_size]


def chunks(count: int, batch_size: int) -> Iterator[slice]:
    """Slices of `range(count)`, `batch_size` long at most."""
    for start in range(0, count, batch_size):
        yield slice(start, min(start + batch_size, count))


@dataclass(frozen=True)
class Settings:
    """How a predictor runs: the device, autocast's dtype (None: float32) and the batch size."""

    device: torch.device
    autocast: torch.dtype | None
    batch_size: int


class Predictor(Generic[R]):
    """A task's model in eval mode on `device`, with `predict(images)`: one result per image.

    A subclass sets `task_kind` and writes `predict_batch` (the results of uint8 (N, 3, H, W) images of
    one size on the device), or `predict_arrays` (of a list of (H, W, 3) uint8 arrays) where it batches
    otherwise (crops). `data` is the run's data module, where a subclass needs its settings.
    """

    task_kind: ClassVar[str]

    def __init__(self, task: HRNetTask, settings: Settings, data: LightningDataModule | None) -> None:
        if task.kind != self.task_kind:
            raise InputError(f"{type(self).__qualname__} predicts {self.task_kind}, not {task.kind}")
        self.task = task.to(settings.device).eval()
        self.settings = settings

    @property
    def device(self) -> torch.device:
        return self.settings.device

    def predict(self, images: ImageLike | Sequence[ImageLike]) -> R | list[R]:
        """The result of one image, or the list of results of a list (or tuple) of them, in order."""
        single, arrays = self.arrays(images)
        with self.running():
            results = self.predict_arrays(arrays)
        return results[0] if single else results

    @staticmethod
    def arrays(images: ImageLike | Sequence[ImageLike]) -> tuple[bool, list[np.ndarray]]:
        """Whether one image was given, and the images as (H, W, 3) uint8 arrays."""
        single = not isinstance(images, list | tuple)
        given = [images] if single else list(images)
        return single, [
            rgb_array(image, "image" if single else f"images[{k}]") for k, image in enumerate(given)
        ]

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """No autograd, and autocast to the `precision` asked for."""
        dtype = self.settings.autocast
        autocast = (
            torch.autocast(self.device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            yield

    def predict_arrays(self, arrays: list[np.ndarray]) -> list[R]:
        results: list[R | None] = [None] * len(arrays)
        for group in same_size_batches([a.shape for a in arrays], self.settings.batch_size):
            batch = torch.from_numpy(np.stack([arrays[k] for k in group])).permute(0, 3, 1, 2)
            found = self.predict_batch(batch.to(self.device))
            for k, result in zip(group, found, strict=True):
                results[k] = result
        return results  # type: ignore[return-value]

    def predict_batch(self, images: Tensor) -> list[R]:
        """Results of uint8 images (N, 3, H, W) of one size on the device."""
        raise NotImplementedError(f"{type(self).__qualname__} predicts whole lists only")


# -- load ---------------------------------------------------------------------------------------------

PREDICTORS: dict[str, str] = {
    "segmentation": "hrnet_lit.segmentation.predictor.SegmentationPredictor",
    "pose": "hrnet_lit.pose.predictor.PosePredictor",
    "classification": "hrnet_lit.classification.predictor.ClassificationPredictor",
    "detection": "hrnet_lit.detection.predictor.DetectionPredictor",
    "instance": "hrnet_lit.instance.predictor.InstancePredictor",
    "landmarks": "hrnet_lit.landmarks.predictor.LandmarkPredictor",
}
"""The predictor of each task (`HRNetTask.kind`)."""


def load(
    path: str | Path,
    device: str | torch.device = "cpu",
    precision: str | None = None,
    *,
    config: str | Path | None = None,
    batch_size: int = 8,
    **options: Any,
) -> Predictor[Any]:
    """The predictor of the task a checkpoint or config names (see `hrnet_lit.load`)."""
    from hrnet_lit.cli.task_choice import import_class
    from hrnet_lit.common.checkpoint_file import read_checkpoint

    if precision not in PRECISIONS:
        raise InputError(f"precision={precision!r}: choose one of {list(PRECISIONS)}")
    if batch_size < 1:
        raise InputError(f"batch_size={batch_size} must be >= 1")
    settings = Settings(torch.device(device), PRECISIONS[precision], batch_size)
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"hrnet_lit.load: {path} not found")
    if not path.is_file():
        raise InputError(f"hrnet_lit.load: {path} is not a file (expected a checkpoint or weights file)")
    checkpoint = _lightning_checkpoint(path, read_checkpoint)
    run_config = _run_config(config, path if checkpoint is not None else None)
    data = _data_module(run_config, checkpoint)
    if checkpoint is not None:
        task = _task_from_checkpoint(checkpoint, path, import_class)
    else:
        if run_config is None:
            raise InputError(
                f"hrnet_lit.load: {path} is no `hrnet-lit fit` checkpoint; weights alone need config=, "
                "the run's config that builds the network"
            )
        task = _task_from_config(run_config, data, path, import_class)
    if task.kind not in PREDICTORS:
        raise InputError(f"the {task.kind or type(task).__qualname__} task has no predictor")
    predictor_class: Callable[..., Predictor[Any]] = import_class(PREDICTORS[task.kind])
    taken = list(inspect.signature(predictor_class).parameters)[3:]
    unknown = sorted(set(options) - set(taken))
    if unknown:
        raise InputError(
            f"hrnet_lit.load: {path} holds a {task.kind} model, whose predictor takes no "
            f"{', '.join(unknown)} (its options: {', '.join(taken) or 'none'})"
        )
    return predictor_class(task, settings, data, **options)


def _lightning_checkpoint(path: Path, read: Callable[..., dict[str, Any]]) -> dict[str, Any] | None:
    """The `hrnet-lit fit` checkpoint at `path`, None for other weights (a timm / official file)."""
    if not zipfile.is_zipfile(path):  # a file torch saved before its zip format: weights only
        return None
    try:
        return read(path, "hrnet_lit.load:")
    except InputError as error:
        if "is not a Lightning checkpoint" in str(error):
            return None
        raise


def _run_config(config: str | Path | None, checkpoint: Path | None) -> dict[str, Any] | None:
    """The fit config: `config`, else the `config.yaml` of the run a checkpoint sits in
    (`<run>/checkpoints/<file>.ckpt`), else None."""
    if config is None and checkpoint is not None:
        beside = checkpoint.parent.parent / "config.yaml"
        config = beside if beside.is_file() else None
    if config is None:
        return None
    config = Path(config)
    if not config.is_file():
        raise MissingInputError(f"hrnet_lit.load: config {config} not found")
    try:
        parsed = yaml.safe_load(config.read_text())
    except yaml.YAMLError as error:
        raise InputError(f"hrnet_lit.load: config {config} is not YAML: {error}") from None
    if not isinstance(parsed, dict):
        raise InputError(f"hrnet_lit.load: config {config} is not a mapping of config keys")
    return parsed


def _data_module(
    config: dict[str, Any] | None, checkpoint: dict[str, Any] | None
) -> LightningDataModule | None:
    """The run's data module, built (not set up: nothing is read): what a predictor takes of it is
    fixed at construction (the classes' palette, the input size, the eval transform)."""
    from hrnet_lit.cli.task_choice import import_class

    section = (config or {}).get("data")
    if isinstance(section, dict) and section.get("class_path"):
        class_path, args = section["class_path"], dict(section.get("init_args") or {})
    elif checkpoint is not None and checkpoint.get("datamodule_hyper_parameters"):
        args = dict(checkpoint["datamodule_hyper_parameters"])
        class_path = args.pop("_class_path", None)
        args.pop("_instantiator", None)
        if class_path is None:
            return None
    else:
        return None
    args["predict_dir"] = None
    args.pop("codec", None)  # the task's codec, set by the predictor
    try:
        return import_class(class_path)(**args)
    except (InputError, OSError) as error:  # e.g. a class folder's names file left on another machine
        warnings.warn(
            f"hrnet_lit.load: the run's data module {class_path} cannot be built: {error}", stacklevel=3
        )
        return None


def _task_from_checkpoint(
    checkpoint: dict[str, Any], path: Path, import_class: Callable[[str], type]
) -> HRNetTask:
    from lightning.pytorch.cli import instantiate_module

    hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if k != "_instantiator"}
    class_path = hparams.pop("_class_path", None)
    if class_path is None:
        raise InputError(f"hrnet_lit.load: {path} does not say which task it holds (no _class_path)")
    task_class = import_class(class_path)
    if not (isinstance(task_class, type) and issubclass(task_class, HRNetTask)):
        raise InputError(f"hrnet_lit.load: {path} holds a {class_path}, which is no hrnet-lit task")
    hparams["pretrained"] = None  # the checkpoint's weights replace them
    task = instantiate_module(task_class, hparams)
    task.load_state_dict(checkpoint["state_dict"])
    return task


def _task_from_config(
    config: dict[str, Any],
    data: LightningDataModule | None,
    weights: Path,
    import_class: Callable[[str], type],
) -> HRNetTask:
    """The config's task, its data-given arguments from `data`, with `weights` (a timm / official file:
    the backbone, and the head where it fits, as `--model.pretrained` loads them)."""
    from lightning.pytorch.cli import instantiate_module

    from hrnet_lit.models import load_pretrained
    from hrnet_lit.registry import DEFAULT_TASK, TASKS

    model = config.get("model") or {}
    task_class = import_class(model.get("class_path") or TASKS[DEFAULT_TASK])
    args = {**(model.get("init_args") or {}), "pretrained": None}
    if data is not None:
        args.update({k: v for k, v in getattr(data, "task_args", {}).items() if k in task_class.data_args})
    task = instantiate_module(task_class, args)
    load_pretrained(task.pretrained_target(), weights)
    return task
