import pytest
import torch

from hrnet_lit.errors import InputError
from hrnet_lit.segmentation.data import SyntheticDataModule, SyntheticShapes


def _synthetic(**overrides: object) -> SyntheticDataModule:
    options: dict = {"num_train": 8, "num_val": 4, "image_size": (48, 40), "crop_size": (32, 32)}
    return SyntheticDataModule(batch_size=4, num_workers=0, **(options | overrides))


def test_class_metadata_before_setup() -> None:
    data = _synthetic()
    assert data.num_classes == 5 and data.class_names[0] == "background"
    assert data.palette.shape == (5, 3) and data.ignore_index == 255


def test_train_val_and_test_batches() -> None:
    data = _synthetic()
    data.setup("fit")
    images, masks = next(iter(data.train_dataloader()))
    assert images.shape == (4, 3, 32, 32) and images.dtype == torch.uint8
    assert masks.shape == (4, 32, 32) and masks.dtype == torch.uint8
    assert len(data.train_dataloader()) == 2
    images, masks = next(iter(data.val_dataloader()))
    assert images.shape == (4, 3, 48, 40) and masks.shape == (4, 48, 40)
    assert int(masks.max()) < 5
    data.setup("test")
    test_images, _ = next(iter(data.test_dataloader()))
    assert test_images.shape == (4, 3, 48, 40) and not torch.equal(test_images, images)


def test_splits_and_seeds_do_not_overlap() -> None:
    first, second = _synthetic(seed=0), _synthetic(seed=1)
    images = [data.val_dataloader().dataset[0][0] for data in (first, second)]
    assert not torch.equal(images[0], images[1])
    assert not torch.equal(first.val_dataloader().dataset[0][0], first.test_dataloader().dataset[0][0])


def test_clear_errors_for_bad_settings() -> None:
    with pytest.raises(ValueError, match=r"data\.batch_size=4"):
        _synthetic(num_train=3).train_dataloader()
    with pytest.raises(ValueError, match=r"data\.predict_dir"):
        _synthetic().predict_dataloader()
    with pytest.raises(ValueError, match=r"data\.batch_size"):
        SyntheticDataModule(batch_size=0)


def test_colour_jitter_is_off_unless_asked() -> None:
    """Off by default (the official recipes do not jitter); on, it changes the pixels of the same crop."""
    plain, jittered = _synthetic(), _synthetic(color_jitter=0.3)
    assert plain.train_transform().jitter == 0.0
    image, mask = SyntheticShapes(1, (48, 40), seed=0).sample(0)
    still = plain.train_transform()(image, mask, torch.Generator().manual_seed(1))
    moved = jittered.train_transform()(image, mask, torch.Generator().manual_seed(1))
    assert torch.equal(still[1], moved[1]) and moved[0].dtype == torch.uint8
    assert not torch.equal(still[0], moved[0])
    with pytest.raises(InputError, match=r"data\.color_jitter"):
        _synthetic(color_jitter=1.5)
