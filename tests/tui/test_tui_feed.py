"""How events reach the monitor: a non-blocking inbox for the training thread, a follower for events.jsonl."""
from __future__ import annotations

import json
import threading

from tui_support import RECORDED

from dsd_tui.record import events as ev
from dsd_tui.record.rundir import read_events
from dsd_tui.tui.feed import EventFollower, EventInbox


def test_inbox_wakes_the_ui_once_per_batch_and_never_waits_for_it():
    wakes = []  # the UI never drains during the burst: the training thread must not care
    inbox = EventInbox(lambda: wakes.append(1))

    def train():
        for i in range(500):
            inbox(ev.Warning(message=str(i)))
    t = threading.Thread(target=train)
    t.start()
    t.join(timeout=5)
    assert not t.is_alive()
    assert len(wakes) == 1
    got = inbox.take()
    assert [e.message for e in got] == [str(i) for i in range(500)]
    inbox(ev.Warning(message="again"))
    assert len(wakes) == 2 and inbox.take()[0].message == "again" and inbox.take() == []


def test_epoch_ticks_wait_for_the_timer_but_a_finished_rung_wakes_the_ui():
    wakes = []
    inbox = EventInbox(lambda: wakes.append(1))
    for epoch in range(1, 50):
        inbox(ev.EpochFinished(phase="teacher", rung=0, epoch=epoch, epochs=50, train_loss=1.0, train_acc=0.5,
                               lr=1e-3, seconds=0.04))
    assert wakes == []  # the frequent ticks cost the UI nothing until its redraw timer drains them
    inbox(ev.RungFinished(phase="teacher", rung=0, record={}))
    assert wakes == [1] and len(inbox.take()) == 50


def test_follower_reads_what_read_events_reads_in_pieces_and_waits_for_torn_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    raw = RECORDED.read_bytes()
    cut = raw.index(b"\n", len(raw) // 2) + 20  # the middle of a line
    path.write_bytes(raw[:cut])
    f = EventFollower(path)
    first = f.poll()
    assert [e.to_dict() for e in first] == [e.to_dict() for e in read_events(path)]
    assert f.poll() == []  # the torn line stays unread until its newline arrives
    with open(path, "ab") as out:
        out.write(raw[cut:] + b"not json\n" + json.dumps([1, 2]).encode() + b"\n")
    rest = f.poll()
    assert [e.to_dict() for e in first + rest] == [e.to_dict() for e in read_events(RECORDED)]


def test_follower_of_a_missing_file_reads_nothing(tmp_path):
    assert EventFollower(tmp_path / "nope.jsonl").poll() == []
