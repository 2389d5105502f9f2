"""Person boxes for top-down pose from a detector file, so that pose runs on images in the wild.

Two sources: a `hrnet-lit fit` checkpoint of a detection (or instance) task, the project's HRNetV2p
Faster R-CNN, whose person is the class named `person`; or torchvision's COCO-trained Faster / Mask
R-CNN weights saved as a state dict, whose person is COCO's category 1 (torchvision's labels are COCO's
category ids). Which torchvision builder a state dict belongs to is read from its keys. Either way the
detector sees 0-1 images and normalises them itself; what comes back is kept to the person class and
to scores of at least `image_thre`, as the official `_load_coco_person_detection_results` keeps them.

The checkpoint's task is imported by the class path it records, so the pose package names no other
task package.
"""

from __future__ import annotations

import contextlib
import importlib
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torchvision.models.detection as tv_detection
from torch import Tensor, nn

from hrnet_lit.common.checkpoint_file import read_checkpoint
from hrnet_lit.errors import InputError, MissingInputError
from hrnet_lit.registry import TASKS

IMAGE_THRE = 0.0  # the official COCO configs' TEST.IMAGE_THRE
COCO_PERSON = 1  # COCO's person category id: the label of torchvision's COCO-trained detectors
DETECTOR_KINDS = ("detection", "instance")  # task kinds whose network returns boxes, labels, scores
# torchvision's two-stage COCO detectors that a state dict may belong to.
TORCHVISION_BUILDERS = (
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "maskrcnn_resnet50_fpn",
    "maskrcnn_resnet50_fpn_v2",
)
_CLASSIFIER = "roi_heads.box_predictor.cls_score.weight"

Detections = list[dict[str, Tensor]]


class PersonDetector:
    """A detector kept to persons: `detector(image)` for one uint8 image (3, H, W) gives its person
    boxes (n, 5: x1, y1, x2, y2, score) in the image's pixels, best first, on the CPU.

    Args:
        model: a torchvision-style detector: a list of 0-1 float images (3, H, W) -> one dict of
            `boxes` (xyxy), `labels`, `scores` per image.
        person_label: the model's label of a person.
        image_thre: boxes scoring below it are dropped (the official `TEST.IMAGE_THRE`).
        device: where the model runs.
        source: the file it came from, for messages.
    """

    def __init__(
        self,
        model: nn.Module | Callable[[list[Tensor]], Detections],
        person_label: int,
        image_thre: float = IMAGE_THRE,
        device: str | torch.device = "cpu",
        source: str = "",
    ) -> None:
        self.device = torch.device(device)
        if isinstance(model, nn.Module):
            model = model.eval().to(self.device)
        self.model = model
        self.person_label = person_label
        self.image_thre = image_thre
        self.source = source

    def __call__(self, image: Tensor) -> Tensor:
        return self.detect([image])[0]

    @torch.no_grad()
    def detect(self, images: list[Tensor]) -> list[Tensor]:
        """The person boxes of each uint8 image (3, H, W), in one forward of the model."""
        for image in images:
            if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
                raise ValueError(f"expected uint8 images (3, H, W), got {image.dtype} {tuple(image.shape)}")
        found = self.model([image.to(self.device).float() / 255.0 for image in images])
        out = []
        for result in found:
            scores = result["scores"].detach().float().cpu()
            keep = (result["labels"].cpu() == self.person_label) & (scores >= self.image_thre)
            boxes = torch.cat([result["boxes"].detach().float().cpu()[keep], scores[keep, None]], dim=1)
            out.append(boxes[boxes[:, 4].argsort(descending=True)])
        return out


def load_person_detector(
    path: str | Path,
    image_thre: float = IMAGE_THRE,
    device: str | torch.device = "cpu",
    person_label: int | None = None,
    builder: str | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
    key: str = "person_detector",
) -> PersonDetector:
    """The person detector in the file at `path`: a `hrnet-lit fit` detection checkpoint, or a
    torchvision Faster / Mask R-CNN state dict (`builder`, one of `TORCHVISION_BUILDERS`, read from
    its keys when None; the mobile 320 variant has the same keys as the full-size one, so it is named).

    `person_label` is the detector's label of a person: by default the checkpoint's class named
    `person`, or COCO's 1 for torchvision. `min_size` / `max_size` replace the detector's resize (the
    shorter side, and the cap on the longer). A file that is neither source is an `InputError` naming
    `key` and the file.
    """
    path = Path(path)
    where = f"{key} {str(path)!r}"
    contents = _read(path, where)
    if isinstance(contents, dict) and "pytorch-lightning_version" in contents:
        model, label = _from_checkpoint(path, key, where, person_label)
    else:
        model, label = _from_torchvision(_state_dict(contents, where), where, builder, person_label)
    if min_size is not None or max_size is not None:
        transform = model.transform
        transform.min_size = (min_size,) if min_size is not None else transform.min_size
        transform.max_size = max_size if max_size is not None else transform.max_size
    return PersonDetector(model, label, image_thre, device, str(path))


def _read(path: Path, where: str) -> Any:
    if not path.is_file():
        raise MissingInputError(f"{where} does not exist or is not a file")
    if not zipfile.is_zipfile(path):
        raise InputError(
            f"{where} is not a PyTorch file (expected a `hrnet-lit fit` detection checkpoint or "
            "torchvision Faster R-CNN weights saved by torch.save)"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise InputError(f"{where} holds objects other than tensors and plain data: refused") from None
    except Exception as error:  # how torch.load fails on a damaged archive
        raise InputError(f"{where} is not a readable PyTorch file ({type(error).__name__})") from None


def _from_checkpoint(path: Path, key: str, where: str, person_label: int | None) -> tuple[nn.Module, int]:
    """The detector network of a fit checkpoint and its person label."""
    checkpoint = read_checkpoint(path, key)
    class_path = checkpoint["hyper_parameters"].get("_class_path")
    if class_path is None and f"net.{_CLASSIFIER}" in checkpoint["state_dict"]:
        class_path = TASKS["detection"]  # a task built in Python records no class path
    module, _, name = str(class_path).rpartition(".")
    task_class = None
    if module.split(".")[0] == "hrnet_lit":  # a file names no module outside the project to import
        with contextlib.suppress(ImportError, AttributeError):
            task_class = getattr(importlib.import_module(module), name)
    if getattr(task_class, "kind", None) not in DETECTOR_KINDS:
        raise InputError(
            f"{where} is a checkpoint of {class_path}, not of a detector (detection or instance)"
        )
    task = task_class.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    names = [str(n) for n in task.class_names]
    if person_label is None:
        persons = [k + 1 for k, n in enumerate(names) if n.lower() == "person"]
        if not persons:
            raise InputError(
                f"{where}: no class is named 'person' (classes: {names}); give the person's label "
                f"(1 ... {len(names)})"
            )
        person_label = persons[0]
    _check_label(person_label, len(names), where)
    return task.net, person_label


def _state_dict(contents: Any, where: str) -> dict[str, Tensor]:
    """The tensors of a saved state dict, or of the `model` / `state_dict` entry that wraps one."""
    if isinstance(contents, dict):
        for wrapper in ("model", "state_dict"):
            if isinstance(contents.get(wrapper), dict):
                contents = contents[wrapper]
                break
    if (
        not isinstance(contents, dict)
        or not contents
        or not all(isinstance(v, Tensor) for v in contents.values())
    ):
        raise InputError(f"{where} is neither a `hrnet-lit fit` checkpoint nor a state dict of tensors")
    return contents


def torchvision_builder(keys: set[str]) -> str | None:
    """The torchvision builder whose network has these state-dict keys (None: none of ours)."""
    if _CLASSIFIER not in keys:
        return None
    mask = any(k.startswith("roi_heads.mask_predictor.") for k in keys)
    if "backbone.body.layer1.0.conv1.weight" in keys:
        v2 = "roi_heads.box_head.0.0.weight" in keys
        return f"{'maskrcnn' if mask else 'fasterrcnn'}_resnet50_fpn{'_v2' if v2 else ''}"
    if "backbone.body.0.0.weight" in keys and not mask:
        return "fasterrcnn_mobilenet_v3_large_fpn"
    return None


def _from_torchvision(
    state: dict[str, Tensor], where: str, builder: str | None, person_label: int | None
) -> tuple[nn.Module, int]:
    """torchvision's detector for `state`: built without weights, then every weight read from `state`."""
    found = torchvision_builder(set(state))
    if builder is None:
        builder = found
    elif builder not in TORCHVISION_BUILDERS:
        raise InputError(f"builder={builder!r}: choose one of {', '.join(TORCHVISION_BUILDERS)}")
    if builder is None:
        raise InputError(
            f"{where} is a state dict, but not of a torchvision detector this loads "
            f"({', '.join(TORCHVISION_BUILDERS)}): its keys start {sorted(state)[:3]}"
        )
    num_classes = int(state[_CLASSIFIER].shape[0])
    model = getattr(tv_detection, builder)(weights=None, weights_backbone=None, num_classes=num_classes)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as error:
        raise InputError(f"{where} does not fit torchvision's {builder}: {str(error)[:300]}") from None
    # Built without weights, the backbone has BatchNorm where the trained one has FrozenBatchNorm2d:
    # the same function in eval mode, but without the step counters.
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise InputError(
            f"{where} does not fit torchvision's {builder}: missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}"
        )
    person_label = COCO_PERSON if person_label is None else person_label
    _check_label(person_label, num_classes - 1, where)
    return model, person_label


def _check_label(label: int, classes: int, where: str) -> None:
    if not 1 <= label <= classes:
        raise InputError(f"{where}: person_label={label} is not one of its labels 1 ... {classes}")
