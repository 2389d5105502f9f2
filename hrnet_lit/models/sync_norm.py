"""Cross-process BatchNorm that also works on CPU (gloo), unlike `torch.nn.SyncBatchNorm`.

The `norm: sync_batch` knob always builds `SyncBatchNorm2d`; once the process group exists (a task's
`configure_model`), `use_native_sync_batchnorm` swaps it for torch's own `SyncBatchNorm` unless the
backend is gloo. One knob then does the right thing everywhere: torch's fused kernels on NCCL
(GPUs), the all-reduce below on gloo (CPU), where torch's layer refuses to run. Resolving there,
rather than converting Lightning's `--trainer.sync_batchnorm=true` layers back for gloo, needs no
Lightning plugin and works outside Lightning too. Both classes hold the same parameters and buffers
under the same names, so checkpoints move between them.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.nn.functional import all_reduce


class SyncBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm over the global batch of all processes; plain BatchNorm when not distributed.

    The statistics are summed with a differentiable all-reduce, so gradients flow through the
    global mean and variance exactly as in single-process BatchNorm over the whole batch.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (
            self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        ):
            return super().forward(x)
        c = x.shape[1]
        local = torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), x.new_full((1,), x.numel() / c)])
        total = all_reduce(local)
        count = total[-1]
        mean = total[:c] / count
        var = (total[c : 2 * c] / count - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (
                    self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                )
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * count / (count - 1).clamp_min(1), momentum)
        scale = torch.rsqrt(var + self.eps)
        if self.affine:
            scale = scale * self.weight
        shift = -mean * scale + (self.bias if self.affine else 0)
        return x * scale[None, :, None, None] + shift[None, :, None, None]


def use_native_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Swap every `SyncBatchNorm2d` in `module` (in place) for `torch.nn.SyncBatchNorm`, sharing its
    parameters and buffers, when a process group is up and its backend is not gloo (NCCL and other
    accelerator backends, where torch's layer runs); leave them otherwise. Returns `module`."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_backend() == "gloo":
        return module
    swaps = [
        (parent, name, child)
        for parent in module.modules()
        for name, child in parent.named_children()
        if type(child) is SyncBatchNorm2d
    ]
    for parent, name, child in swaps:
        setattr(parent, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
    return module
