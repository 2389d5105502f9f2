"""Common base of the detection datasets: a raw sample per index, transformed, crowd boxes handled."""

from __future__ import annotations

from abc import abstractmethod

from torch import Tensor
from torch.utils.data import Dataset

from hrnet_lit.detection.data.transforms import DetectionTransform, RawSample, Target


class DetectionDataset(Dataset[tuple[Tensor, Target]]):
    """Subclasses give `raw(index)`; this applies the transform.

    Crowd boxes (COCO's `iscrowd: 1`) are never training targets, as in COCO's own protocol: with
    `keep_crowd=False` (training) they are dropped, with `keep_crowd=True` (evaluation) they stay,
    flagged, so that the metric ignores detections on them instead of counting them false.
    """

    classes: tuple[str, ...] = ()

    def __init__(self, transform: DetectionTransform | None = None, keep_crowd: bool = True) -> None:
        self.transform = transform if transform is not None else DetectionTransform()
        self.keep_crowd = keep_crowd

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def raw(self, index: int) -> RawSample:
        """Sample `index` as stored, before any transform."""

    def __getitem__(self, index: int) -> tuple[Tensor, Target]:
        sample = self.raw(index)
        if not self.keep_crowd:
            keep = sample.iscrowd == 0
            sample = RawSample(
                sample.image,
                sample.boxes[keep],
                sample.labels[keep],
                sample.iscrowd[keep],
                sample.area[keep],
                sample.image_id,
            )
        return self.transform(sample)
