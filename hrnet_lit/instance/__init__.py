"""Instance segmentation (HRNetV2p under torchvision's Mask R-CNN): the task, the detector, and its
data modules under `hrnet_lit.instance.data`. The backbone, HRFPN, RPN and box head are the detection
task's (`hrnet_lit.detection`); this package adds the mask branch, masks in the data and mask AP."""

from hrnet_lit.lazy import lazy_names

__all__ = ["InstanceTask"]
__getattr__ = lazy_names(__name__, {"InstanceTask": "hrnet_lit.instance.task"})
