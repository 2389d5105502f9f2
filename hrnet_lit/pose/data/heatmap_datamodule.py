"""What the data of every heatmap task (pose, landmarks) shares: the network input, the task's codec,
and `predict` over the boxes a json lists for a folder's images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch.utils.data import DataLoader, Dataset

from hrnet_lit.common.datamodule import TaskDataModule
from hrnet_lit.errors import InputError
from hrnet_lit.pose.codec import HeatmapCodec
from hrnet_lit.pose.data.person_boxes import boxes_by_stem, read_person_boxes


class HeatmapDataModule(TaskDataModule):
    """Crops for a heatmap task; a subclass sets `codec` (the task's, which encodes the targets).

    Args:
        input_size: network input (height, width), multiples of 4 (heatmaps are 1/4 of it).
        batch_size, num_workers, predict_dir: see `TaskDataModule`.
    """

    codec: HeatmapCodec

    def __init__(
        self, input_size: tuple[int, int], batch_size: int, num_workers: int, predict_dir: str | None
    ) -> None:
        super().__init__(batch_size, num_workers, predict_dir)
        if len(input_size) != 2 or min(input_size) < 4 or any(v % 4 for v in input_size):
            raise InputError(f"data.input_size must be (height, width), multiples of 4, got {input_size}")
        self.input_size = (int(input_size[0]), int(input_size[1]))

    def predict_loader(
        self,
        folder: Callable[[str, dict[str, list[list[float]]] | None], Dataset],
        boxes: str | None,
        key: str,
        image_thre: float,
    ) -> DataLoader:
        """The loader over `folder(predict_dir, boxes by image file stem)`: the boxes of the json `boxes`
        (the data key `key`) scoring at least `image_thre`, None without one."""
        by_stem = None
        if boxes is not None:
            by_stem = boxes_by_stem(read_person_boxes(Path(boxes), key), image_thre)
        dataset = self.predict_images(lambda path: folder(path, by_stem))
        return DataLoader(dataset, batch_size=self.batch_size, **self._loader_options())
