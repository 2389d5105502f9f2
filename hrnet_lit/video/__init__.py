"""Video for `predict`: frames in from a video file, a folder of frames or a camera, an annotated video
and a per-frame results file out (`predict_video`), through PyAV (a camera through OpenCV)."""

from hrnet_lit.video.encode import video_writer
from hrnet_lit.video.frames import CameraFrames, FolderFrames, Frame, FrameSource, VideoFrames, open_frames
from hrnet_lit.video.predict import Predictor, Result, VideoPrediction, predict_video

__all__ = [
    "CameraFrames",
    "FolderFrames",
    "Frame",
    "FrameSource",
    "Predictor",
    "Result",
    "VideoFrames",
    "VideoPrediction",
    "open_frames",
    "predict_video",
    "video_writer",
]
