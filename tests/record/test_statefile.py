"""The background state writer: the newest snapshot always reaches the disk on flush, writing keeps
to its duty cycle, and a failed write surfaces on the training thread."""
from __future__ import annotations

import time

import pytest
import torch

from dsd_tui.record.resume_state import StateWriter, detached_copy


def test_flush_writes_the_newest_snapshot_and_the_duty_cycle_skips_the_rest():
    written = []

    def write(snapshot):
        time.sleep(0.01)
        written.append(snapshot)

    writer = StateWriter(write, duty=0.1)  # after a 10 ms write, rest 90 ms
    for i in range(50):  # 50 snapshots over ~200 ms
        writer.submit(i)
        time.sleep(0.004)
    writer.flush()
    writer.close()
    assert written[-1] == 49
    assert written == sorted(written)
    assert len(written) <= 6, written  # ~200 ms / 100 ms per write-and-rest, plus the flush


def test_a_failed_write_is_raised_by_flush_and_submit():
    def write(_snapshot):
        raise OSError(28, "No space left on device")

    writer = StateWriter(write)
    writer.submit({"x": 1})
    with pytest.raises(OSError, match="No space"):
        writer.flush()
    with pytest.raises(OSError, match="No space"):
        writer.submit({"x": 2})
    writer.close()


def test_detached_copy_reuses_buffers_and_is_independent_of_the_source():
    src = {"w": torch.ones(3), "state": {0: {"step": torch.tensor(1.0), "lr": 0.1}}, "ids": [1, 2]}
    first = detached_copy(src)
    src["w"].add_(1)
    assert first["w"].tolist() == [1.0, 1.0, 1.0]
    second = detached_copy(src, into=first)
    assert second["w"] is first["w"] and second["w"].tolist() == [2.0, 2.0, 2.0]
    assert second["state"][0]["lr"] == 0.1 and second["ids"] == [1, 2]
