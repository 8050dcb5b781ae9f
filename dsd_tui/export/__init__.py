"""Exports of a run to the tools researchers already use (TensorBoard, Weights & Biases).

`scalars.py` turns the one event stream into metric points (shared by every exporter, so they
cannot disagree); `tensorboard.py` and `wandb.py` write them with each tool's own library, installed
as an optional extra. Nothing here is imported by the engine.
"""
