"""One training step of any task's network on a made-up batch, with the fast paths as switches: what
`bench --data` sets beside the loaders and `benchmarks/gpu.py` times per recipe.

A dense network (segmentation, pose, classification, landmarks) gets a normalised image batch and
the stand-in loss of `bench` (any loss costs next to nothing beside the network); a detector gets
0-1 images with a few boxes (and masks) each and sums its own losses, so that the RPN's and RoI
heads' sampling and losses run as in training. A detector's reduced precision covers its HRNet and
neck, whose maps go on in float32: anchors and boxes in bf16 would lose whole pixels (bf16 keeps 8
significant bits), and the RPN's anchor assignment refuses them.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn
from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN

from hrnet_lit.tools.bench.measure import stand_in_loss

Batch = tuple[Any, Any]  # (input, detector targets or None)


def is_detector(net: nn.Module) -> bool:
    return isinstance(net, GeneralizedRCNN)


def example_batch(net: nn.Module, batch_size: int, input_size: tuple[int, int], objects: int = 4) -> Batch:
    """A batch `net` trains on: images of `input_size` (H, W); a detector's come with `objects` boxes
    each (and their masks, when it has a mask branch), on the CPU."""
    generator = torch.Generator().manual_seed(0)
    height, width = input_size
    if not is_detector(net):
        return torch.randn(batch_size, 3, height, width, generator=generator), None
    images = [torch.rand(3, height, width, generator=generator) for _ in range(batch_size)]
    targets = []
    for _ in range(batch_size):
        corner = torch.rand(objects, 2, generator=generator) * torch.tensor([width / 2, height / 2])
        extent = (0.1 + 0.4 * torch.rand(objects, 2, generator=generator)) * torch.tensor([width, height])
        boxes = torch.cat([corner, corner + extent], dim=1)
        classes = net.roi_heads.box_predictor.cls_score.out_features  # the background's included
        target = {"boxes": boxes, "labels": torch.randint(1, classes, (objects,), generator=generator)}
        if net.roi_heads.has_mask():
            masks = torch.zeros(objects, height, width, dtype=torch.uint8)
            for k, (x0, y0, x1, y1) in enumerate(boxes.round().int().tolist()):
                masks[k, y0:y1, x0:x1] = 1
            target["masks"] = masks
        targets.append(target)
    return images, targets


class Autocast(nn.Module):
    """`inner` (a detector's HRNet and neck) run under autocast to `dtype`, its maps back in float32."""

    def __init__(self, inner: nn.Module, device_type: str, dtype: torch.dtype) -> None:
        super().__init__()
        self.inner = inner
        self.out_channels = inner.out_channels
        self.autocast = {"device_type": device_type, "dtype": dtype}

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        with torch.autocast(**self.autocast):
            maps = self.inner(x)
        return OrderedDict((k, v.float()) for k, v in maps.items())


class TrainStep:
    """Forward, loss, backward and an SGD update of `net` on `device`, in `dtype` (autocast when not
    fp32), channels_last or not, compiled with `compile_mode` or eager (None). A detector compiles
    its dense part (HRNet and neck) only: its proposals and sampled RoIs change shape every step."""

    def __init__(
        self,
        net: nn.Module,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
        compile_mode: str | None = None,
    ) -> None:
        self.device = device
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.net = net.to(device, memory_format=self.memory_format).train()
        self.optimizer = torch.optim.SGD(
            [p for p in net.parameters() if p.requires_grad], lr=1e-5, momentum=0.9
        )
        self.detector = is_detector(net)
        reduced = dtype != torch.float32
        self.autocast = {"device_type": device.type, "dtype": dtype, "enabled": reduced and not self.detector}
        if reduced and self.detector:
            net.backbone = Autocast(net.backbone, device.type, dtype)
        self.forward: nn.Module = net
        self.graphs = compile_mode is not None and "reduce-overhead" in compile_mode  # CUDA graphs
        if compile_mode is not None:
            if self.detector:
                net.backbone = torch.compile(net.backbone, mode=compile_mode)
            else:
                self.forward = torch.compile(net, mode=compile_mode)

    def to_device(self, batch: Batch) -> Batch:
        images, targets = batch
        if not self.detector:
            return images.to(self.device, memory_format=self.memory_format), None
        moved = [{k: v.to(self.device) for k, v in t.items()} for t in targets]
        return [i.to(self.device) for i in images], moved

    def __call__(self, batch: Batch) -> None:
        images, targets = batch
        if self.graphs:  # a new step: the graphs may overwrite the last step's outputs
            torch.compiler.cudagraph_mark_step_begin()
        with torch.autocast(**self.autocast):
            if self.detector:
                loss = sum(self.forward(images, targets).values())
            else:
                loss = stand_in_loss(self.forward(images))
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
