"""The engine: data, models, pruning, training, entropy, stop criteria and the ladder.

Plain Python and PyTorch only; nothing here imports a UI. The ladder reports through events
(`events.py`) handed to a sink, and never knows who listens.
"""
