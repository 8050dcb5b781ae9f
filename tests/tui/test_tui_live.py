"""The monitor running a real (short) ladder in its worker thread: the keys steer the run."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time

import pytest
import torch
from tui_support import SIZE, screen_text, short_profile, wait_for

from dsd_tui.record.rundir import STATE, rebuild_summary
from dsd_tui.runner import RunSession
from dsd_tui.tui.app import DsdApp, run_app, watch_monitor
from dsd_tui.tui.screens.monitor import MonitorScreen

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

torch.set_num_threads(1)


def summary_file(session) -> dict:
    return json.loads((session.path / "summary.json").read_text())


def table_cells(app) -> list[tuple[str, str]]:
    table = app.query_one("#table")
    return [(str(table.get_row_at(i)[0]), str(table.get_row_at(i)[1]).rstrip("* "))
            for i in range(table.row_count)]


def drive(app, scenario):
    async def main():
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await scenario(pilot)
    asyncio.run(main())


def test_a_run_in_the_worker_fills_the_table_then_waits_for_quit(tmp_path):
    session = RunSession.new(short_profile(), str(tmp_path))
    mon = MonitorScreen(session=session)
    app = DsdApp(mon)

    async def scenario(pilot):
        assert await wait_for(pilot, lambda: mon.status is not None, 120)
        await pilot.pause(0.3)
        assert app.is_running and mon.status == "completed"  # the finished run stays on screen
        summary = summary_file(session)
        assert table_cells(app) == [(p["name"], str(r["rung"])) for p in summary["phases"] for r in p["rungs"]]
        assert "completed" in screen_text(app) and "Stop after rung" not in screen_text(app).splitlines()[-1]
        await pilot.press("q")
        assert await wait_for(pilot, lambda: not app.is_running, 5)
    drive(app, scenario)
    assert app.return_value == "completed"

    # The same run directory, now finished, under `watch`: the same rows, caught up from events.jsonl.
    watcher = watch_monitor(session.path)

    async def watched(pilot):
        await pilot.pause(0.3)
        summary = summary_file(session)
        assert table_cells(watcher) == [(p["name"], str(r["rung"])) for p in summary["phases"] for r in p["rungs"]]
        assert "completed" in screen_text(watcher).splitlines()[0]
        await pilot.press("q")
    drive(watcher, watched)


def test_stop_after_rung_finishes_the_rung_and_leaves_a_resumable_run(tmp_path):
    # The key must land inside the dense rung, and epoch ticks reach the UI only at its 1 Hz live timer: the
    # training thread waits at the end of epoch 2 (of 3) until the key has been pressed, so the rung is still
    # running when it lands on any machine (no rung of hundreds of epochs burnt to make that likely).
    def hold(event):
        if event.type == "epoch_finished" and (event.phase, event.rung, event.epoch) == ("teacher", 0, 2):
            session.stop_after_rung.wait(120)

    session = RunSession.new(short_profile("train.dense_epochs=3"), str(tmp_path), sinks=[hold])
    mon = MonitorScreen(session=session)
    app = DsdApp(mon)

    async def scenario(pilot):
        assert await wait_for(pilot, lambda: mon.builder.current.epoch >= 1, 120)
        assert "s Stop after rung" in screen_text(app).splitlines()[-1]
        await pilot.press("s")
        assert session.stop_after_rung.is_set()
        assert await wait_for(pilot, lambda: mon.status is not None, 120)
    drive(app, scenario)
    assert mon.status == "interrupted"
    summary = summary_file(session)
    assert summary["status"] == "interrupted"
    assert [r["rung"] for r in summary["phases"][0]["rungs"]] == [0]  # rung 0 ended, rung 1 never began
    assert torch.load(session.path / STATE, weights_only=True)["cursor"]["rung_done"]


def test_quit_mid_rung_exits_promptly_and_the_run_resumes_under_the_monitor(tmp_path):
    session = RunSession.new(short_profile(), str(tmp_path))
    mon = MonitorScreen(session=session)
    app = DsdApp(mon)
    pressed = {}

    async def scenario(pilot):  # quit in rung 1, so the resumed monitor must catch rung 0 up from the file
        assert await wait_for(pilot, lambda: mon.builder.current.rung >= 1
                               and mon.builder.current.epoch >= 1, 120)
        pressed["at"] = time.monotonic()
        await pilot.press("q")
        assert await wait_for(pilot, lambda: not app.is_running, 10)
        pressed["exit_seconds"] = time.monotonic() - pressed["at"]
    drive(app, scenario)
    assert pressed["exit_seconds"] < 5.0
    assert mon.status == "interrupted" and session.stop_now.is_set()
    assert (session.path / STATE).is_file()
    assert summary_file(session)["status"] == "interrupted"

    resumed = RunSession.resume_from(str(session.path))
    mon2 = MonitorScreen(session=resumed)
    app2 = DsdApp(mon2)

    async def finish(pilot):
        assert await wait_for(pilot, lambda: mon2.status is not None, 120)
        await pilot.pause(0.3)
        summary = rebuild_summary(session.path).summary()
        assert summary["status"] == "completed"
        # the rungs from before the quit are on screen too (caught up from events.jsonl)
        assert table_cells(app2) == [(p["name"], str(r["rung"])) for p in summary["phases"] for r in p["rungs"]]
        assert len(table_cells(app2)) == 6
    drive(app2, finish)


def test_run_app_stops_on_sigterm_restores_the_handler_and_returns_interrupted(tmp_path):
    session = RunSession.new(short_profile(), str(tmp_path))
    events = session.path / "events.jsonl"
    before = signal.getsignal(signal.SIGTERM)
    sent = threading.Event()

    def kill_after_first_epoch():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and b'"epoch_finished"' not in events.read_bytes():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)
        sent.set()
    threading.Thread(target=kill_after_first_epoch, daemon=True).start()
    status = run_app(session, headless=True, exit_when_done=True)  # never waits for a key if the signal is lost
    assert sent.is_set() and status == "interrupted"
    assert summary_file(session)["status"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is before
