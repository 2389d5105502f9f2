"""Video for `predict`: frames in from a video file or a folder of frames, an annotated video and a
per-frame results file out (`predict_video`), through PyAV."""

from hrnet_lit.video.encode import video_writer
from hrnet_lit.video.frames import FolderFrames, Frame, VideoFrames, open_frames
from hrnet_lit.video.predict import Predictor, Result, VideoPrediction, predict_video

__all__ = [
    "FolderFrames",
    "Frame",
    "Predictor",
    "Result",
    "VideoFrames",
    "VideoPrediction",
    "open_frames",
    "predict_video",
    "video_writer",
]
