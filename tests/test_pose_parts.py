"""Pose parts without the CLI: crop geometry, targets, decoding, flip test, loss, metrics, data errors."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from helpers import TINY_POSE as TINY
from PIL import Image

from hrnet_lit.errors import InputError
from hrnet_lit.models import count_macs, count_params, gmacs
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.pose.affine import (
    affine_matrix,
    apply_affine,
    box_to_center_scale,
    compose,
    flip_matrix,
    warp,
)
from hrnet_lit.pose.codec import HeatmapCodec, argmax_joints, flip_back, gaussian_targets
from hrnet_lit.pose.data import COCOKeypointsDataModule, SyntheticPoseDataModule, SyntheticPoses
from hrnet_lit.pose.data.keypoints import COCO_JOINTS, COCO_SIGMAS
from hrnet_lit.pose.loss import joints_mse
from hrnet_lit.pose.metrics import PCK, COCOKeypointAP, oks_nms
from hrnet_lit.pose.network import BACKBONE as POSE_BACKBONE
from hrnet_lit.pose.task import PoseTask


def test_w32_pose_network_has_the_official_size() -> None:
    net = PoseTask.build_network(backbone=POSE_BACKBONE, head="v1", num_joints=17)
    assert count_params(net) == 28_536_113
    assert round(gmacs(count_macs(net, (256, 192))), 1) == 7.1
    assert net(torch.zeros(1, 3, 256, 192)).shape == (1, 17, 64, 48)


def test_heatmap_layer_starts_near_zero_as_the_official_init() -> None:
    """normal(0, 0.001) weights and zero bias: the first heatmaps are near zero, not noise."""
    net = PoseTask.build_network(BackboneConfig(preset="w18_small_v1", width=8), "v1", 13)
    final = net.task_layer
    assert final.bias.abs().max() == 0 and 0.0005 < final.weight.std() < 0.002
    assert net(torch.randn(2, 3, 64, 48)).abs().max() < 0.1


def test_box_to_center_scale_fixes_the_aspect_and_pads() -> None:
    center, scale = box_to_center_scale(np.array([10.0, 20.0, 30.0, 80.0]), aspect_ratio=0.75)
    np.testing.assert_allclose(center, [25.0, 60.0])
    np.testing.assert_allclose(scale, [60 / 200 * 1.25, 80 / 200 * 1.25])


def test_affine_crop_round_trip() -> None:
    """A blob at p lands at M p in the warped crop (OpenCV's pixel centres), and M^-1 maps it back."""
    h, w = 60, 80
    p = np.array([47.3, 21.6])
    ys, xs = np.mgrid[0:h, 0:w]
    blob = np.exp(-((xs - p[0]) ** 2 + (ys - p[1]) ** 2) / (2 * 2.0**2))
    image = np.repeat((blob * 255).astype(np.uint8)[..., None], 3, axis=2)
    center, scale, size = np.array([40.0, 30.0]), np.array([0.3, 0.4]), (48, 64)
    for rotation, flip in ((0.0, False), (30.0, False), (-20.0, True)):
        matrix = affine_matrix(center, scale, rotation, size)
        if flip:
            matrix = compose(matrix, flip_matrix(w))
        crop = np.asarray(warp(image, matrix, size))[..., 0].astype(np.float64)
        cy, cx = np.mgrid[0 : size[1], 0 : size[0]]
        found = np.array([(crop * cx).sum(), (crop * cy).sum()]) / crop.sum()
        expected = apply_affine(p[None], matrix)[0]
        assert np.abs(found - expected).max() < 0.1, (rotation, flip, found, expected)
        if not flip:
            back = affine_matrix(center, scale, rotation, size, inverse=True)
            np.testing.assert_allclose(apply_affine(expected[None], back)[0], p, atol=1e-9)


def test_targets_follow_the_official_encoding() -> None:
    joints = np.array([[10.2, 12.9], [500.0, 5.0], [20.0, 20.0]])
    target, weight = gaussian_targets(joints, np.array([1, 1, 0]), (64, 48), (16, 12), sigma=2.0)
    assert weight.tolist() == [1.0, 0.0, 0.0]  # off the map; not visible
    assert np.unravel_index(target[0].argmax(), target[0].shape) == (3, 3)  # int(x / 4 + 0.5)
    assert target[0].max() == 1.0 and not target[1].any() and not target[2].any()


def _round_trip(decode_dark: bool, unbiased: bool) -> float:
    rng = np.random.default_rng(0)
    points = rng.uniform(6, 40, size=(64, 2)) * [1, 1.3]
    target, _ = gaussian_targets(points * 4, np.ones(64), (256, 192), (64, 48), sigma=2.0, unbiased=unbiased)
    coords, _ = HeatmapCodec(dark=decode_dark).decode(torch.from_numpy(target)[None].double())
    return float(np.abs(coords[0].numpy() - points).max())


def test_standard_decoding_is_within_a_quarter_pixel() -> None:
    assert _round_trip(decode_dark=False, unbiased=True) <= 0.25 + 1e-6


def test_dark_decoding_is_within_five_hundredths_of_a_pixel() -> None:
    assert _round_trip(decode_dark=True, unbiased=True) < 0.05


def test_flip_test_on_a_mirrored_crop_gives_mirrored_joints() -> None:
    torch.manual_seed(0)
    pairs = [[1, 2], [3, 4]]
    task = PoseTask(backbone=TINY, num_joints=5, flip_pairs=pairs, flip_test=True, shift_heatmap=False).eval()
    image = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        heatmaps, mirrored = task.heatmaps(image), task.heatmaps(image.flip(-1))
    torch.testing.assert_close(mirrored, flip_back(heatmaps, pairs), rtol=1e-5, atol=1e-6)
    joints, _ = argmax_joints(heatmaps.exp())  # positive peaks (argmax ignores non-positive ones)
    joints_m, _ = argmax_joints(mirrored.exp())
    order = [0, 2, 1, 4, 3]
    assert torch.equal(joints_m[:, :, 1], joints[:, order, 1])
    assert torch.equal(joints_m[:, :, 0], 12 - 1 - joints[:, order, 0])


def test_joints_mse_is_the_official_per_joint_average() -> None:
    pred, gt, w = torch.rand(3, 4, 8, 6), torch.rand(3, 4, 8, 6), torch.tensor([[1.0, 0, 1, 1]] * 3)
    official = (
        sum(
            0.5
            * torch.nn.functional.mse_loss(pred[:, k] * w[:, k, None, None], gt[:, k] * w[:, k, None, None])
            for k in range(4)
        )
        / 4
    )
    torch.testing.assert_close(joints_mse(pred, gt, w), official)


def test_pck_counts_labelled_joints_within_the_box_fraction() -> None:
    pck = PCK(0.05)
    joints = torch.tensor([[[10.0, 10.0, 2.0], [20.0, 20.0, 2.0], [0.0, 0.0, 0.0]]])
    pred = torch.tensor([[[14.0, 10.0], [30.0, 20.0], [50.0, 50.0]]])
    pck.update(pred, joints, torch.tensor([[0.0, 0.0, 50.0, 100.0]]))  # 0.05 * 100 = 5 px
    assert pck.compute().item() == 0.5


def test_oks_nms_drops_a_duplicate_person() -> None:
    person = np.random.default_rng(0).uniform(0, 100, size=(17, 3))
    people = np.stack([person, person + np.array([0.5, 0.5, 0]), person + np.array([60, 0, 0])])
    keep = oks_nms(people, np.array([0.9, 0.8, 0.7]), np.full(3, 1e4), np.array(COCO_SIGMAS), 0.9)
    assert keep == [0, 2]


def test_oks_nms_breaks_score_ties_as_the_official_argsort() -> None:
    """Official `scores.argsort()[::-1]`: of two equal scores the later person is kept first."""
    person = np.random.default_rng(0).uniform(0, 100, size=(17, 3))
    twins = np.stack([person, person + np.array([0.5, 0.5, 0]), person + np.array([60, 0, 0])])
    scores = np.array([0.8, 0.8, 0.7])
    assert list(scores.argsort()[::-1][:2]) == [1, 0]  # the official order (numpy's, short array)
    assert oks_nms(twins, scores, np.full(3, 1e4), np.array(COCO_SIGMAS), 0.9) == [1, 2]
    many = np.full(40, 0.5)  # longer than numpy's insertion sort: still the later first
    order = oks_nms(
        np.zeros((40, 17, 3)) + np.arange(40)[:, None, None] * 50,
        many,
        np.full(40, 1e4),
        np.array(COCO_SIGMAS),
        0.9,
    )
    assert order == list(range(39, -1, -1))


def _coco_tree(root: Path, annotations: list[dict]) -> None:
    (root / "images" / "val2017").mkdir(parents=True)
    (root / "annotations").mkdir()
    for image_id in (1, 2):
        Image.new("RGB", (120, 100)).save(root / "images" / "val2017" / f"{image_id:012d}.jpg")
    category = {"id": 1, "name": "person", "keypoints": list(COCO_JOINTS), "skeleton": [[16, 14]]}
    images = [{"id": i, "file_name": f"{i:012d}.jpg", "width": 120, "height": 100} for i in (1, 2)]
    dataset = {"images": images, "annotations": annotations, "categories": [category]}
    (root / "annotations" / "person_keypoints_val2017.json").write_text(json.dumps(dataset))


def _person(ann_id: int, image_id: int, rng: np.random.Generator, visible: bool = True) -> dict:
    xy = rng.uniform([20, 10], [80, 90], size=(17, 2))
    v = np.full((17, 1), 2.0 if visible else 0.0)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "bbox": [20.0, 10.0, 60.0, 80.0],
        "area": 3000.0,
        "iscrowd": 0,
        "keypoints": np.concatenate([xy, v], axis=1).reshape(-1).tolist(),
        "num_keypoints": 17 if visible else 0,
    }


def test_coco_ap_of_the_ground_truth_is_one_and_of_shifted_joints_lower(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(0)
    _coco_tree(
        tmp_path, [_person(1, 1, rng), _person(2, 1, rng), _person(3, 2, rng), _person(4, 2, rng, False)]
    )
    data = COCOKeypointsDataModule(root=str(tmp_path), input_size=(64, 48), batch_size=2, num_workers=0)
    assert data.task_args["num_joints"] == 17 and data.task_args["flip_pairs"][0] == [1, 2]
    with caplog.at_level(logging.INFO):
        persons = data.dataset("val").persons
    assert len(persons) == 3 and "skipped 1 persons" in caplog.text
    truth = data.ground_truth("val")

    def ap(shift: float) -> float:
        metric = COCOKeypointAP(list(COCO_SIGMAS))
        for person in persons:
            joints = torch.from_numpy(person.joints).float()
            joints[:, :2] += shift
            metric.update(
                joints[None],
                torch.from_numpy(person.scale)[None],
                torch.ones(1),
                torch.tensor([person.image_id]),
            )
        metric.ground_truth, metric.expected = truth, len(persons)
        return float(metric.compute()["AP"])

    assert ap(0.0) == pytest.approx(1.0)
    assert ap(8.0) < ap(3.0) < 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda a: a.update(keypoints=a["keypoints"][:-3]),
            "annotation 1: keypoints has 48 values, expected 51",
        ),
        (lambda a: a.update(bbox=[500.0, 10.0, 30.0, 30.0]), "annotation 1 (image 000000000001.jpg): box"),
        (lambda a: a.update(image_id=3), "annotation 1 (image 000000000003.jpg): image file"),
    ],
)
def test_bad_annotations_name_the_file_and_the_annotation(tmp_path: Path, change, message: str) -> None:
    ann = _person(1, 1, np.random.default_rng(0))
    change(ann)
    _coco_tree(tmp_path, [ann])
    if ann["image_id"] == 3:
        path = tmp_path / "annotations" / "person_keypoints_val2017.json"
        dataset = json.loads(path.read_text())
        dataset["images"].append({"id": 3, "file_name": "000000000003.jpg", "width": 120, "height": 100})
        path.write_text(json.dumps(dataset))
    data = COCOKeypointsDataModule(root=str(tmp_path), input_size=(64, 48), num_workers=0)
    with pytest.raises(InputError, match="person_keypoints_val2017.json|val annotations") as error:
        data.setup("validate")
    assert message in str(error.value)


def test_synthetic_set_is_deterministic_and_left_right_differ() -> None:
    a, b = SyntheticPoses(3, (64, 64), seed=5), SyntheticPoses(3, (64, 64), seed=5)
    assert a.coco() == b.coco()
    assert np.array_equal(np.asarray(a.image(2)), np.asarray(b.image(2)))
    assert a.coco() != SyntheticPoses(3, (64, 64), seed=6).coco()
    data = SyntheticPoseDataModule(num_train=4, num_val=2, image_size=(64, 64), input_size=(64, 48))
    sample = data.dataset("train")[0]
    assert sample["image"].shape == (3, 64, 48) and sample["target"].shape == (13, 16, 12)
    assert data.task_args["flip_pairs"] == [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12]]


def test_synthetic_figures_tell_left_from_right_by_facing_not_by_colour() -> None:
    """As on people, the COCO flip's swap must hold: the head is light when a figure faces the camera
    (its left shoulder on the image right) and dark when it turns away, while both wrists take one
    colour, so a mirrored figure with its joints swapped is again a figure of the set."""
    poses = SyntheticPoses(60, (64, 64), seed=1)
    faced, wrists = [], []
    for index, ann in enumerate(poses.coco()["annotations"]):
        k = np.asarray(ann["keypoints"]).reshape(13, 3)
        pixels = np.asarray(poses.image(index)).astype(float)
        colour = pixels[k[:, 1].astype(int), k[:, 0].astype(int)]  # (13, 3): the pixel under each joint
        if (k[[0, 1, 2], 2] == 2).all():
            faced.append((colour[0].mean() > 120, k[1, 0] > k[2, 0]))
        if (k[[5, 6], 2] == 2).all():
            wrists.append(colour[5] - colour[6])
    assert len(faced) > 40 and all(light == left_on_right for light, left_on_right in faced)
    assert 0 < sum(light for light, _ in faced) < len(faced)  # both facings occur
    assert len(wrists) > 20 and np.abs(np.mean(wrists, axis=0)).max() < 25


def test_multistep_decays_at_the_milestone_epochs() -> None:
    """Stepped per update, the lr of every update of epoch e is the official per-epoch MultiStepLR's."""
    task = PoseTask(backbone=TINY, num_joints=3, lr=1e-3, decay_milestones=[2, 3])
    task._trainer = SimpleNamespace(max_epochs=4, estimated_stepping_batches=20)  # 5 updates per epoch
    config = task.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    lrs = []
    for update in range(20):
        lrs.append(optimizer.param_groups[0]["lr"])
        scheduler.step_update(num_updates=update + 1)
    expected = [1e-3 * 0.1 ** sum(e >= m for m in (2, 3)) for e in range(4) for _ in range(5)]
    assert all(math.isclose(a, b) for a, b in zip(lrs, expected, strict=True)), lrs
