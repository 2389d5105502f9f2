"""The classification task's W&B validation panels: input | true class | top prediction."""

import numpy as np
import torch

from hrnet_lit.classification import ClassificationTask
from hrnet_lit.common.normalize import denormalize
from hrnet_lit.models.config import BackboneConfig

NAMES = ["cat", "dog", "owl"]


def test_classification_panels_caption_truth_and_prediction() -> None:
    backbone = BackboneConfig(preset="w18_small_v1", width=8)
    task = ClassificationTask(backbone, num_classes=3, class_names=NAMES).eval()
    images, labels = torch.randn(2, 3, 48, 64), torch.tensor([0, 2])  # ImageNet-normalised inputs
    with torch.no_grad():
        (own,) = task.validation_panels((images, labels), 1)  # the network's own prediction
    assert own.shape == (48, 3 * 64, 3) and own.dtype == np.uint8
    np.testing.assert_array_equal(own[:, :64], denormalize(images[0]))

    def panels(logits: list[list[float]]) -> list[np.ndarray]:
        task.forward = lambda image: torch.tensor(logits)[: len(image)]  # type: ignore[method-assign]
        return task.validation_panels((images, labels), 2)

    right = panels([[5.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    assert len(right) == 2 and all(p.shape == (48, 192, 3) and p.dtype == np.uint8 for p in right)
    plain, truth, guess = right[0][:, :64], right[0][:, 64:128], right[0][:, 128:]
    assert not np.array_equal(plain, truth), "the true class is written"
    assert not np.array_equal(truth, guess), "the prediction carries its probability"
    wrong = panels([[0.0, 5.0, 0.0], [0.0, 0.0, 5.0]])
    np.testing.assert_array_equal(wrong[0][:, :128], right[0][:, :128])  # the same input and truth
    assert not np.array_equal(wrong[0][:, 128:], guess), "another class, another caption"
    np.testing.assert_array_equal(wrong[1], right[1])
