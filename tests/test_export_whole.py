"""Whole-model ONNX export of every task: uint8 RGB in, the task's results out, equal in onnxruntime
to the task's own PyTorch inference (each task's `exported.reference`) at two input sizes, one odd."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
import torch
from torch import nn

from hrnet_lit.classification import exported as classification
from hrnet_lit.classification.task import ClassificationTask
from hrnet_lit.detection import exported as detection
from hrnet_lit.detection.detector import DetectorConfig
from hrnet_lit.detection.task import DetectionTask
from hrnet_lit.errors import InputError
from hrnet_lit.instance import exported as instance
from hrnet_lit.instance.detector import MaskRCNNConfig
from hrnet_lit.instance.task import InstanceTask
from hrnet_lit.landmarks import exported as landmarks
from hrnet_lit.landmarks.task import LandmarkTask
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.pose import exported as pose
from hrnet_lit.pose.codec import HeatmapCodec
from hrnet_lit.pose.task import PoseTask
from hrnet_lit.segmentation import exported as segmentation
from hrnet_lit.segmentation.task import SegmentationTask
from hrnet_lit.tools.export import export_onnx, whole_model

TINY = BackboneConfig(preset="w18_small_v1", width=4, num_blocks=(1, 1, 1, 1))
EXPORT_SIZE = (64, 48)  # the example traced through; parity at it and at an odd size
ODD_SIZE = (67, 53)
TINY_DETECTOR = {
    "fpn_channels": 8,
    "box_head_width": 16,
    "min_size": 64,
    "max_size": 96,
    "box_detections_per_img": 20,
}


def max_diff(got: np.ndarray, want: torch.Tensor) -> float:
    return float(np.abs(got.astype(np.float64) - want.double().numpy()).max())


def pixels(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def sharpened_detector(task: DetectionTask) -> DetectionTask:
    """Random weights score every box about alike; wider logits make the order of the detections (and
    so the comparison) stable."""
    torch.manual_seed(0)
    nn.init.normal_(task.net.rpn.head.cls_logits.weight, std=0.5)
    nn.init.normal_(task.net.roi_heads.box_predictor.cls_score.weight, std=0.5)
    return task


TASKS: dict[str, tuple[Callable[[], Any], Any]] = {
    "segmentation": (lambda: SegmentationTask(backbone=TINY, head="v2", num_classes=3), segmentation),
    "classification": (lambda: ClassificationTask(backbone=TINY, num_classes=4), classification),
    "pose": (lambda: PoseTask(backbone=TINY, num_joints=5, flip_pairs=[[1, 2], [3, 4]]), pose),
    "pose_dark": (
        lambda: PoseTask(backbone=TINY, num_joints=5, flip_test=False, codec=HeatmapCodec(dark=True)),
        pose,
    ),
    "landmarks": (lambda: LandmarkTask(backbone=TINY, num_landmarks=6), landmarks),
    "detection": (
        lambda: sharpened_detector(
            DetectionTask(backbone=TINY, num_classes=3, detector=DetectorConfig(**TINY_DETECTOR))
        ),
        detection,
    ),
    "instance": (
        lambda: sharpened_detector(
            InstanceTask(
                backbone=TINY,
                num_classes=3,
                detector=MaskRCNNConfig(**TINY_DETECTOR, mask_head_width=8),
            )
        ),
        instance,
    ),
}
TOLERANCE = 1e-4  # float32 through two runtimes; boxes (pixels) 1e-3


Exported = Callable[[str], tuple[Any, Any, Path]]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """Each task's whole model, written once under umask 022: (task, its `exported` module, the file)."""
    folder = tmp_path_factory.mktemp("onnx")
    done: dict[str, tuple[Any, Any, Path]] = {}

    def get(name: str) -> tuple[Any, Any, Path]:
        if name not in done:
            torch.manual_seed(0)
            build, module = TASKS[name]
            task = build().eval()
            umask = os.umask(0o022)
            try:
                path = export_onnx(whole_model(task, EXPORT_SIZE), folder / f"{name}.onnx", EXPORT_SIZE)
            finally:
                os.umask(umask)
            done[name] = (task, module, path)
        return done[name]

    return get


def run(path: Path, image: torch.Tensor) -> dict[str, np.ndarray]:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    assert given.name == "image_uint8_rgb" and given.type == "tensor(uint8)"
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {given.name: image.numpy()}), strict=True))


@pytest.mark.parametrize("size", [EXPORT_SIZE, ODD_SIZE], ids=["export_size", "odd_size"])
def test_segmentation_logits_and_class_map_match_predict_probs(
    exported: Exported, size: tuple[int, int]
) -> None:
    task, module, path = exported("segmentation")
    image = pixels((2, 3, *size), seed=1)
    got, want = run(path, image), module.reference(task, image)
    assert got["logits"].shape == (2, 3, *size) and got["classes"].dtype == np.int64
    assert max_diff(torch.from_numpy(got["logits"]).softmax(1).numpy(), want["probs"]) < TOLERANCE
    top2 = want["probs"].topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1] > 1e-4).numpy()  # a near tie may fall either way
    assert (got["classes"] == want["classes"].numpy())[clear].all()


@pytest.mark.parametrize("size", [EXPORT_SIZE, ODD_SIZE], ids=["export_size", "odd_size"])
def test_classification_probabilities_match_the_task(exported: Exported, size: tuple[int, int]) -> None:
    task, module, path = exported("classification")
    image = pixels((3, 3, *size), seed=2)
    got, want = run(path, image), module.reference(task, image)
    assert got["probs"].shape == (3, 4)
    assert max_diff(got["probs"], want["probs"]) < TOLERANCE


@pytest.mark.parametrize("name", ["pose", "pose_dark", "landmarks"])
@pytest.mark.parametrize("size", [EXPORT_SIZE, ODD_SIZE], ids=["export_size", "odd_size"])
def test_heatmaps_and_decoded_points_match_the_task(
    exported: Exported, name: str, size: tuple[int, int]
) -> None:
    """Pose with its flip test (flip pairs swapped back, shifted), pose decoded by DARK, landmarks:
    the points in the crop's pixels, as the task's decode maps them for a crop that is its own box."""
    task, module, path = exported(name)
    image = pixels((2, 3, *size), seed=3)
    got, want = run(path, image), module.reference(task, image)
    assert got["keypoints"].shape == (2, task.net(torch.zeros(1, 3, 8, 8)).shape[1], 3)
    assert max_diff(got["heatmaps"], want["heatmaps"]) < TOLERANCE
    assert max_diff(got["keypoints"], want["keypoints"]) < 1e-3


@pytest.mark.slow  # a detector's export: over 10 s here
@pytest.mark.parametrize("name", ["detection", "instance"])
@pytest.mark.parametrize("size", [(70, 90), (97, 131)], ids=["size", "odd_size"])
def test_whole_detector_matches_torchvision_in_eval(
    exported: Exported, name: str, size: tuple[int, int]
) -> None:
    """Resize, RPN, RoI heads, NMS and the boxes (and pasted masks) back in the input's pixels, for
    sizes that resize to other sizes than the traced example's."""
    task, module, path = exported(name)
    image = pixels((3, *size), seed=4)
    got, want = run(path, image), module.reference(task, image)
    outputs = ["boxes", "labels", "scores", *(["masks"] if name == "instance" else [])]
    assert list(got) == list(want) == outputs
    assert len(want["boxes"]) > 0
    for key, value in want.items():
        assert got[key].shape == tuple(value.shape), key
        assert max_diff(got[key], value) < (1e-3 if key == "boxes" else TOLERANCE), key


@pytest.mark.parametrize("size", [EXPORT_SIZE, ODD_SIZE], ids=["export_size", "odd_size"])
def test_segmentation_file_equals_the_python_predictor(exported: Exported, size: tuple[int, int]) -> None:
    """What a user compares: the exported file against `hrnet_lit.load(...).predict` on one image."""
    from hrnet_lit.common.predictor import Settings
    from hrnet_lit.segmentation.predictor import SegmentationPredictor

    task, _, path = exported("segmentation")
    image = pixels((1, 3, *size), seed=5)
    predictor = SegmentationPredictor(task, Settings(torch.device("cpu"), None, 1), None, probs=True)
    result = predictor.predict(image[0].permute(1, 2, 0).numpy())
    got = run(path, image)
    assert result.probs is not None and result.mask.shape == size
    assert (
        max_diff(torch.from_numpy(got["logits"][0]).softmax(0).numpy(), torch.from_numpy(result.probs))
        < TOLERANCE
    )
    top2 = torch.from_numpy(result.probs).topk(2, dim=0).values
    clear = (top2[0] - top2[1] > 1e-4).numpy()
    assert (got["classes"][0] == result.mask)[clear].all()


def test_exported_files_are_readable_by_others(exported: Exported) -> None:
    """Written under umask 022 (the fixture's): mode 0644, as `open` makes, not a temporary file's."""
    _, _, path = exported("classification")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == [], "a temporary file left"


def test_a_task_without_a_whole_model_is_refused_naming_the_flag() -> None:
    with pytest.raises(InputError, match="--network_only=true"):
        whole_model(nn.Linear(1, 1), EXPORT_SIZE)


@pytest.mark.slow  # the CLI's imports and two exports
def test_export_command_writes_the_whole_model_unless_network_only(tmp_path: Path) -> None:
    from hrnet_lit.cli import main

    flags = [
        "--task=landmarks",
        "--preset=w18_small_v1",
        "--width=4",
        "--num_classes=6",
        "--input_size=[64,64]",
    ]
    main(["export", *flags, f"--output={tmp_path / 'whole.onnx'}"])
    got = run(tmp_path / "whole.onnx", pixels((1, 3, 67, 53), seed=5))
    assert got["heatmaps"].shape == (1, 6, 17, 14) and got["keypoints"].shape == (1, 6, 3)

    main(["export", *flags, f"--output={tmp_path / 'net.onnx'}", "--network_only=true"])
    session = onnxruntime.InferenceSession(str(tmp_path / "net.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    (heatmaps,) = session.run(None, {"image": np.zeros((1, 3, 67, 53), np.float32)})
    assert heatmaps.shape == (1, 6, 17, 14)


@pytest.mark.parametrize("rounding", ["round", "floor"])
def test_the_detectors_traceable_resize_gives_the_transforms_sizes(rounding: str) -> None:
    """The whole detector's resize, written in tensor arithmetic for the tracer, against the
    detector's own transform (`RoundingTransform`), at sizes whose scaled sides fall near .5 and .0."""
    config = DetectorConfig(**TINY_DETECTOR, resize_rounding=rounding)
    task = DetectionTask(backbone=TINY, num_classes=3, detector=config).eval()
    model = detection.whole_model(task, EXPORT_SIZE)
    for size in [(70, 90), (97, 131), (131, 61), (97, 97), (33, 301), (64, 96)]:
        image = torch.rand(3, *size)
        want = task.net.transform.resize(image)[0].shape
        assert model.resize(image, torch.tensor(size)).shape == want, size
