"""The landmark task as one ONNX-ready model: the heatmap tasks' (`hrnet_lit.pose.exported`), whose
`keypoints` are the landmarks (x, y in the crop's pixels) with their heatmap maxima."""

from __future__ import annotations

from hrnet_lit.pose.exported import ExportedHeatmapModel, reference, whole_model

__all__ = ["ExportedHeatmapModel", "reference", "whole_model"]
