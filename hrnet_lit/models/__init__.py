"""HRNet in plain PyTorch (no Lightning): backbone, heads, presets, checkpoint loading."""

from hrnet_lit.models.complexity import count_macs, count_params, gmacs
from hrnet_lit.models.fusion import FUSE_METHODS, FuseMethod, UpsampleMode
from hrnet_lit.models.heads import HEAD_NAMES, ClsHead, HeadName, V1Head, V2Head, V2pHead, build_head
from hrnet_lit.models.hrnet import FeatureInfo, HighResolutionModule, HRNet
from hrnet_lit.models.network import HRNetModel
from hrnet_lit.models.presets import PRESET_NAMES, PresetName
from hrnet_lit.models.task_layers import PixelClassifier
from hrnet_lit.models.weights import LoadReport, load_pretrained

__all__ = [
    "FUSE_METHODS",
    "HEAD_NAMES",
    "PRESET_NAMES",
    "ClsHead",
    "FeatureInfo",
    "FuseMethod",
    "HRNet",
    "HRNetModel",
    "HeadName",
    "HighResolutionModule",
    "LoadReport",
    "PixelClassifier",
    "PresetName",
    "UpsampleMode",
    "V1Head",
    "V2Head",
    "V2pHead",
    "build_head",
    "count_macs",
    "count_params",
    "gmacs",
    "load_pretrained",
]
