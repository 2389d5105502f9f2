"""Callbacks any task can use: last checkpoint + atomic IO, EMA, run config, W&B media, the
prediction writer, model cost."""
