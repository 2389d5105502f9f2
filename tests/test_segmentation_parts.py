"""Pieces of the segmentation task: metrics, losses, inference modes, cross-process BatchNorm."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from helpers import TINY_SEGMENTATION
from torch import nn

from hrnet_lit.errors import InputError
from hrnet_lit.models.sync_norm import SyncBatchNorm2d
from hrnet_lit.segmentation import SegmentationTask
from hrnet_lit.segmentation.inference import predict_probs, sliding_window
from hrnet_lit.segmentation.loss import SegmentationLoss


def test_miou_matches_a_hand_computed_confusion_matrix() -> None:
    task = SegmentationTask(backbone=TINY_SEGMENTATION, num_classes=4, class_names=["a", "b", "c", "d"])
    target = torch.tensor([[0, 0, 1, 1, 2, 255], [0, 1, 1, 2, 2, 255]])
    pred = torch.tensor([[0, 1, 1, 1, 2, 3], [0, 1, 2, 2, 0, 0]])
    # confusion (rows = truth, ignore dropped): 0 -> {0: 2, 1: 1}; 1 -> {1: 3, 2: 1}; 2 -> {2: 2, 0: 1}
    # IoU_k = tp / (row + column - tp): 0: 2/(3+3-2); 1: 3/(4+4-3); 2: 2/(3+3-2); 3 (absent): 0
    expected_iou = torch.tensor([2 / 4, 3 / 5, 2 / 4, 0.0])
    task.val_metrics.update(pred, target)
    values = task.val_metrics.compute()
    torch.testing.assert_close(values["val/IoU"], expected_iou)
    torch.testing.assert_close(values["val/IoU"].mean(), expected_iou.mean())  # the official mean
    torch.testing.assert_close(values["val/pixel_acc"], torch.tensor(7 / 10))


def test_ohem_keeps_only_hard_pixels() -> None:
    target = torch.tensor([[[0, 1, 1, 255]]])
    logits = torch.tensor([[[[9.0, 0.0, 9.0, 0.0]], [[0.0, 9.0, -9.0, 0.0]]]])  # pixels 0, 1 easy; 2 hard
    plain = SegmentationLoss()(logits, target)
    ohem = SegmentationLoss(ohem=True, ohem_thresh=0.7, ohem_min_kept=0)(logits, target)
    hard = nn.functional.cross_entropy(logits[..., 2:3], target[..., 2:3])
    torch.testing.assert_close(ohem, hard)
    assert ohem > plain


def test_class_weights_must_match_the_classes() -> None:
    with pytest.raises(ValueError, match=r"model\.class_weights has 2 entries.*4 classes"):
        SegmentationTask(backbone=TINY_SEGMENTATION, num_classes=4, class_weights=[1.0, 2.0])


def test_sliding_window_equals_whole_image_for_a_pointwise_net() -> None:
    net = nn.Conv2d(3, 5, 1)
    image = torch.randn(2, 3, 37, 51)
    with torch.no_grad():
        whole = net(image)
        windowed = sliding_window(net, image, crop=(16, 20), stride=(10, 12))
    torch.testing.assert_close(windowed, whole)


def test_multiscale_flip_probabilities_are_normalised_and_flip_consistent() -> None:
    net = nn.Conv2d(3, 4, 3, padding=1)
    image = torch.randn(1, 3, 24, 30)
    with torch.no_grad():
        probs = predict_probs(net, image, scales=(0.5, 1.0, 1.5), flip=True)
        mirrored = predict_probs(net, image.flip(-1), scales=(0.5, 1.0, 1.5), flip=True)
    assert probs.shape == (1, 4, 24, 30)
    torch.testing.assert_close(probs.sum(1), torch.ones(1, 24, 30))
    torch.testing.assert_close(mirrored.flip(-1), probs, atol=1e-5, rtol=0)


def test_flip_test_averages_the_logits_then_takes_the_softmax() -> None:
    """The official `inference`: (logits + flipped-back logits) / 2, then exp; `probs` keeps the
    average of the two views' probabilities as an option."""
    torch.manual_seed(0)
    net = nn.Conv2d(3, 4, 3, padding=1)
    image = torch.randn(1, 3, 12, 14)
    with torch.no_grad():
        logits = (net(image) + net(image.flip(-1)).flip(-1)) / 2
        official = logits.exp() / logits.exp().sum(1, keepdim=True)
        ours = predict_probs(net, image, flip=True)
        probs = predict_probs(net, image, flip=True, flip_average="probs")
        averaged = (net(image).softmax(1) + net(image.flip(-1)).flip(-1).softmax(1)) / 2
    torch.testing.assert_close(ours, official)
    torch.testing.assert_close(probs, averaged)
    assert not torch.allclose(ours, probs, atol=1e-4)
    task = SegmentationTask(backbone=TINY_SEGMENTATION, num_classes=3, eval_flip=True)
    assert task.eval_flip_average == "logits"
    with pytest.raises(InputError, match="model.eval_flip_average='mean'"):
        SegmentationTask(backbone=TINY_SEGMENTATION, num_classes=3, eval_flip_average="mean")


def _sync_norm_worker(rank: int, port: int, x: torch.Tensor, out: dict) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    torch.manual_seed(0)
    norm = SyncBatchNorm2d(3)
    part = x[rank * 2 : rank * 2 + 2].clone().requires_grad_()
    y = norm(part)
    (y * torch.arange(1.0, 4.0).view(1, 3, 1, 1)).square().sum().backward()
    out[rank] = (y.detach(), part.grad, norm.weight.grad, norm.running_mean, norm.running_var)
    dist.destroy_process_group()


@pytest.mark.slow  # two processes
def test_sync_batchnorm_equals_batchnorm_over_the_global_batch() -> None:
    x = torch.randn(4, 3, 5, 6)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = mp.Manager().dict()
    mp.spawn(_sync_norm_worker, args=(port, x, out), nprocs=2)

    reference = nn.BatchNorm2d(3)
    full = x.clone().requires_grad_()
    y = reference(full)
    (y * torch.arange(1.0, 4.0).view(1, 3, 1, 1)).square().sum().backward()
    torch.testing.assert_close(torch.cat([out[0][0], out[1][0]]), y.detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.cat([out[0][1], out[1][1]]), full.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out[0][2] + out[1][2], reference.weight.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out[0][3], reference.running_mean)
    torch.testing.assert_close(out[0][4], reference.running_var)
