import numpy as np
import pytest
import torch

from hrnet_lit.segmentation.data.synthetic import CLASSES, PALETTE, SyntheticShapes


def test_sample_depends_only_on_seed_and_index() -> None:
    first, again = SyntheticShapes(4, seed=7).sample(2), SyntheticShapes(4, seed=7).sample(2)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0], SyntheticShapes(4, seed=8).sample(2)[0])
    assert not np.array_equal(first[0], SyntheticShapes(4, seed=7).sample(3)[0])


def test_every_class_appears_and_labels_are_in_range() -> None:
    dataset = SyntheticShapes(8, image_size=(64, 64), seed=0)
    seen = set()
    for index in range(len(dataset)):
        image, mask = dataset.sample(index)
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        assert mask.shape == (64, 64) and mask.dtype == np.uint8
        assert mask.max() < len(CLASSES)
        seen.update(np.unique(mask).tolist())
    assert seen == set(range(len(CLASSES)))
    assert PALETTE.shape == (len(CLASSES), 3) and dataset.num_classes == 5


def test_odd_sizes_through_the_default_transform() -> None:
    image, mask = SyntheticShapes(2, image_size=(33, 47), seed=1)[1]
    assert image.shape == (3, 33, 47) and image.dtype == torch.uint8
    assert mask.shape == (33, 47) and mask.dtype == torch.uint8


def test_iteration_stops_at_num_samples() -> None:
    dataset = SyntheticShapes(3, image_size=(16, 16))
    assert len(list(dataset)) == 3
    with pytest.raises(IndexError, match="index 3"):
        dataset.sample(3)


def test_invalid_arguments_are_reported() -> None:
    with pytest.raises(ValueError, match="num_samples"):
        SyntheticShapes(0)
    with pytest.raises(ValueError, match="image_size"):
        SyntheticShapes(1, image_size=(4, 64))
