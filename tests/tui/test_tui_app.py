"""The monitor fed by a recorded run (watch mode): panes match the events, the alert, the keys."""
from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from textual.widgets._toast import Toast
from tui_support import (
    RECORDED,
    RESNET18,
    SIZE,
    recorded_clock,
    recorded_copy,
    resnet18_copy,
    screen_text,
    summary_of,
    wait_for,
)

from dsd_tui.record.rundir import read_events
from dsd_tui.tui.app import DsdApp
from dsd_tui.tui.screens.help import HelpScreen
from dsd_tui.tui.screens.monitor import EXPORT_NAME, REDRAW_HZ, TOAST_SECONDS, MonitorScreen
from dsd_tui.tui.screens.stop_reasons import StopReasons

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)


def monitor_app(app_class=DsdApp, **kwargs):
    """The app started on a monitor screen made with `kwargs`; returns both."""
    screen = MonitorScreen(**kwargs)
    return app_class(screen), screen


class BellCounting(DsdApp):
    """The real app; only the terminal bell is counted instead of written to a terminal."""

    bells = 0

    def bell(self) -> None:
        self.bells += 1


def run(scenario, app, size=SIZE):
    async def main():
        async with app.run_test(size=size, notifications=True) as pilot:
            await pilot.pause(0.2)
            await scenario(pilot)
    asyncio.run(main())


def toasts(app) -> list[str]:
    return [str(t.render()) for t in app.screen.query(Toast)]


async def toast_shown(pilot, app, text: str) -> bool:
    """Toasts are mounted after the action returns: wait (briefly) for one containing `text`."""
    return await wait_for(pilot, lambda: any(text in t for t in toasts(app)), 5)


def table_cells(table) -> list[list[str]]:
    """The table's text, without the seconds column (wall clock)."""
    return [[str(c) for c in table.get_row_at(i)][:7] for i in range(table.row_count)]


def summary_cells(summary: dict) -> list[list[str]]:
    """What the table must show for each rung of the summary: phase, rung (* = best), sparsity, accuracies, H."""
    return [[p["name"], f"{r['rung']}{'*' if r['rung'] == p['best_rung'] else ' '}", f"{r['sparsity'] * 100:.2f}%",
             f"{r['train_acc']:.3f}", f"{r['val_acc']:.3f}", f"{r['test_acc']:.3f}", f"{r['entropy_mean']:.3f}"]
            for p in summary["phases"] for r in p["rungs"]]


def test_table_sparklines_and_plot_show_the_recorded_run(tmp_path):
    path = recorded_copy(tmp_path)
    summary = summary_of(path)
    app, mon = monitor_app(events_path=path, clock=recorded_clock())

    async def check(pilot):
        table = app.query_one("#table")
        assert table_cells(table) == summary_cells(summary)
        student = summary["phases"][1]["rungs"]
        entropy = app.query_one("#entropy")
        assert entropy.layer_values == {k: [r["entropy"][k] for r in student] for k in ("features.1", "features.3")}
        assert entropy.top == max(h for p in summary["phases"] for r in p["rungs"] for h in r["entropy"].values())
        plot = app.query_one("#plot")
        assert {s.label: s.points for s in plot.series} == {
            f"{p['name']} {m}": tuple((r["rung"], r[f"{m}_acc"]) for r in p["rungs"])
            for p in summary["phases"] for m in ("test", "val")}
        text = screen_text(app)
        assert "completed" in text and "trained 10/10 rungs" in text
    run(check, app)


def test_an_active_stop_raises_a_banner_that_stays_a_notification_and_the_bell(tmp_path):
    lines = [i for i, line in enumerate((recorded_copy(tmp_path).read_text().splitlines()))
             if '"stop_fired"' in line][0]
    path = tmp_path / "run" / "events.jsonl"
    full = path.read_text().splitlines(keepends=True)
    path.write_text("".join(full[:lines]))  # watching from before the stop
    app, _ = monitor_app(BellCounting, events_path=path, clock=recorded_clock(lines))

    async def check(pilot):
        banner = app.query_one("#banner")
        assert not banner.display and app.bells == 0
        with open(path, "a") as f:
            f.write("".join(full[lines:]))
        assert await wait_for(pilot, lambda: banner.display, 5)
        await pilot.pause(0.3)
        assert app.bells == 1
        text = screen_text(app)
        assert "STOP" in text and "early-stop fired at teacher rung 1" in text and "keep rung 0" in text
        assert await toast_shown(pilot, app, "early-stop fired at teacher rung 1")
        shadow = [line for line in full if '"stop_fired"' in line and '"active":false' in line]
        assert shadow and app.bells == 1  # shadow criteria are logged, not alerted
    run(check, app)


def test_keys_toggle_the_plot_export_show_help_and_quit(tmp_path):
    path = recorded_copy(tmp_path)
    app, mon = monitor_app(events_path=path, clock=recorded_clock())

    async def check(pilot):
        plot = app.query_one("#plot")
        assert await wait_for(pilot, lambda: "q Quit" in screen_text(app).splitlines()[-1], 5)
        footer = screen_text(app).splitlines()[-1]
        for key, label in (("q", "Quit"), ("e", "Export"), ("p", "Plot phase"), ("m", "Plot metric"), ("?", "Help")):
            assert f"{key} {label}" in footer
        assert "Stop after rung" not in footer  # watch mode cannot steer the run
        await pilot.press("p")
        assert [s.label for s in plot.series] == ["teacher test", "teacher val"]
        await pilot.press("p", "p")
        assert [s.phase for s in plot.series] == ["teacher", "teacher", "student", "student"]
        await pilot.press("m")
        assert [s.label for s in plot.series] == ["teacher test", "student test"]
        await pilot.press("m", "m", "m")
        assert [s.metric for s in plot.series] == ["entropy", "entropy"]
        assert plot.border_title.startswith("mean entropy")
        await pilot.press("e", "s")
        exported = path.parent / EXPORT_NAME
        assert json.loads(exported.read_text()) == summary_of(path)
        assert await toast_shown(pilot, app, str(exported))
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen) and "stop after the current rung" in screen_text(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        assert await wait_for(pilot, lambda: not app.is_running, 5)
    run(check, app)


def test_an_export_that_cannot_be_written_says_so_and_leaves_nothing_behind(tmp_path):
    path = recorded_copy(tmp_path)
    (path.parent / EXPORT_NAME).mkdir()  # a folder in the way: the write fails (even as root)
    before = sorted(p.name for p in path.parent.iterdir())
    app, mon = monitor_app(events_path=path, clock=recorded_clock())

    async def check(pilot):
        await pilot.press("e", "s")
        assert await toast_shown(pilot, app, "cannot write")
    run(check, app)
    assert sorted(p.name for p in path.parent.iterdir()) == before


def test_watch_follows_events_appended_to_the_file(tmp_path):
    path = recorded_copy(tmp_path, lines=3)
    app, mon = monitor_app(events_path=path, clock=recorded_clock(3))

    async def check(pilot):
        table = app.query_one("#table")
        assert table.row_count == 0 and "trained 0/10 rungs" in screen_text(app)
        with open(path, "a") as f:
            f.write("".join(RECORDED.read_text().splitlines(keepends=True)[3:]))
        assert await wait_for(pilot, lambda: table.row_count == 10, 5)
    run(check, app)


def test_a_burst_of_events_from_the_training_thread_redraws_a_few_times_a_second_at_most(tmp_path):
    path = recorded_copy(tmp_path, lines=3)
    app, mon = monitor_app(events_path=path, clock=recorded_clock(3))
    events = read_events(RECORDED)[3:]

    def train():  # the worker's side: the same sink a live run appends to session.sink.sinks
        for e in events * 4:
            mon.inbox(e)
            time.sleep(0.004)

    async def check(pilot):
        start, redraws = time.monotonic(), mon.redraws
        thread = threading.Thread(target=train)
        thread.start()
        while thread.is_alive():
            await pilot.pause(0.05)
        assert await wait_for(pilot, lambda: app.query_one("#table").row_count == 10, 5)
        seconds = time.monotonic() - start
        assert mon.redraws - redraws <= seconds * REDRAW_HZ + 1, (mon.redraws - redraws, seconds)
    run(check, app)


def test_no_color_keeps_the_alert_and_series_apart_without_colour(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    path = recorded_copy(tmp_path)
    app, mon = monitor_app(events_path=path, clock=recorded_clock())
    assert app.no_color

    async def check(pilot):
        text = screen_text(app)
        assert " STOP " in text
        for marker in "●○■□":
            assert marker in text
    run(check, app)


def live_monitor_on_a_frozen_clock(tmp_path, monkeypatch, scenario) -> None:
    """Run `scenario(pilot, mon, now)` on a live monitor with no ladder behind it (the test plays the
    training thread, feeding its inbox and ticking its timer) and a clock the test moves (`now[0]`)."""
    from tui_support import short_profile

    from dsd_tui.runner import RunSession

    now = [1000.0]
    session = RunSession.new(short_profile(), str(tmp_path))
    app, mon = monitor_app(session=session, clock=lambda: now[0])
    monkeypatch.setattr(mon, "run_worker", lambda *a, **k: None)

    async def main():
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.pause()
            await scenario(pilot, mon, now)
            await pilot.press("q")
    asyncio.run(main())
    session.rundir.close()


def test_live_panes_redraw_at_most_every_few_seconds_but_a_stop_shows_at_once(tmp_path, monkeypatch):
    """A full redraw costs the training's process ~0.1 s of CPU: short rungs are batched, stops are not."""
    from dsd_tui.tui.screens.monitor import PANE_SECONDS, PANE_SECONDS_MAX

    recorded = [e for e in read_events(RECORDED)]
    rungs = [e for e in recorded if e.type == "rung_finished"]
    stop = next(e for e in recorded if e.type == "stop_fired" and e.active)

    async def scenario(pilot, mon, now):
        start = mon.redraws
        for i, e in enumerate(rungs[:6]):  # six rungs finishing 1 s apart
            now[0] += 1.0
            mon.inbox(e)
            mon._on_timer()
        assert mon.redraws - start <= 6 // PANE_SECONDS + 1
        assert mon.builder.records("teacher")  # the data is folded in at once, only the drawing waits
        before = mon.redraws
        now[0] += 0.5
        mon.inbox(stop)
        mon._on_timer()
        assert mon.redraws == before + 1  # a stop is drawn on the next tick, whatever the pane budget
        now[0] += PANE_SECONDS_MAX  # the least time between redraws grows with their cost, up to this
        mon.inbox(rungs[6])
        mon._on_timer()
        assert mon.redraws == before + 2
    live_monitor_on_a_frozen_clock(tmp_path, monkeypatch, scenario)


def test_a_dear_redraw_spaces_the_live_redraws_further_apart(tmp_path, monkeypatch):
    """A slow CPU or a large terminal: the panes then wait longer, so that they keep to their share of a core."""
    from dsd_tui.tui.screens.monitor import PANE_CPU_SHARE, PANE_SECONDS, PANE_SECONDS_MAX

    rungs = [e for e in read_events(RECORDED) if e.type == "rung_finished"]

    async def scenario(pilot, mon, now):
        draw = mon._draw

        def dear_draw():  # a redraw that costs the UI thread 0.1 s of CPU
            draw()
            t = time.thread_time()
            while time.thread_time() - t < 0.1:
                pass
        monkeypatch.setattr(mon, "_draw", dear_draw)
        mon.redraw()
        mon._on_timer()  # the tick after a redraw measures it
        assert PANE_SECONDS < min(0.1 / PANE_CPU_SHARE, PANE_SECONDS_MAX) <= mon.pane_period <= PANE_SECONDS_MAX
        before = mon.redraws
        now[0] += PANE_SECONDS
        mon.inbox(rungs[0])
        mon._on_timer()
        assert mon.redraws == before  # a cheap redraw would be due by now; this one is not
        now[0] += mon.pane_period - PANE_SECONDS
        mon._on_timer()
        assert mon.redraws == before + 1
    live_monitor_on_a_frozen_clock(tmp_path, monkeypatch, scenario)


def test_the_table_grown_one_rung_at_a_time_equals_the_table_drawn_at_once(tmp_path):
    """Rows are appended and updated in place (the best mark moves between rungs), never lost or stale."""
    path = recorded_copy(tmp_path, lines=3)
    (tmp_path / "all").mkdir()
    summary = summary_of(recorded_copy(tmp_path / "all"))
    app, mon = monitor_app(events_path=path, clock=recorded_clock(3))
    events = read_events(RECORDED)[3:]

    async def check(pilot):
        table = app.query_one("#table")
        moved = 0
        for e in events:  # one event, one redraw: the table changes as a live run changes it
            mon.consume([e])
            stars = [r.key for r in table.rows_shown if r.best]
            mon.redraw()
            moved += stars != [r.key for r in table.rows_shown if r.best]
        await pilot.pause()
        assert table_cells(table) == summary_cells(summary)
        assert moved >= 2  # the best rung did move while the run went on: rows were updated in place
    run(check, app)


def test_the_banner_gives_each_stop_one_line_r_shows_the_reasons_and_toasts_leave_soon(tmp_path):
    path = recorded_copy(tmp_path)
    summary = summary_of(path)
    app, _ = monitor_app(events_path=path, clock=recorded_clock())

    async def check(pilot):
        active = [s for s in summary["stops"] if s["active"]]
        banner = app.query_one("#banner")
        assert banner.size.height == len(active) == 1
        text = screen_text(app)
        assert "early-stop fired at teacher rung 1 → keep rung 0 (test 0.844)" in text
        assert active[0]["reason"] not in text  # the reason is long: in the log and on r, not in the banner
        assert all(n.timeout <= TOAST_SECONDS for n in app._notifications)
        await pilot.press("r")
        await pilot.pause(0.2)
        assert isinstance(app.screen, StopReasons)
        reasons = str(app.screen.query_one("#reasons-text").render())
        for s in summary["stops"]:
            assert s["reason"] in " ".join(reasons.split())
        await pilot.press("escape")
        assert isinstance(app.screen, MonitorScreen)
    run(check, app, size=(120, 36))


def test_the_plot_marks_the_dense_reference_the_best_rungs_and_the_firings(tmp_path):
    path = recorded_copy(tmp_path)
    app, _ = monitor_app(events_path=path, clock=recorded_clock())

    async def check(pilot):
        plot = app.query_one("#plot")
        assert plot.marks is not None and plot.marks.reference is not None
        text = screen_text(app)
        assert "┄" in text and "★" in text and "▲" in text and "△" in text, text
        assert "┄ dense  ★ best  ▲ stop" in text
        last = text.splitlines()
        ticks = next(line for line in last if "0%" in line and "59%" in line)
        assert "  59%││" in ticks  # the last sparsity label whole, inside the border
    run(check, app, size=(120, 36))


def test_resnet18s_21_layers_and_17_relu_layers_scroll_and_none_is_cut(tmp_path):
    path = resnet18_copy(tmp_path)
    summary = summary_of(path)
    student = summary["phases"][-1]
    app, _ = monitor_app(events_path=path, clock=recorded_clock(source=RESNET18))

    async def check(pilot):
        layers, entropy = app.query_one("#layers"), app.query_one("#entropy")
        assert [r.name for r in layers.rows_shown] == list(student["layer_weights"]) and len(layers.rows_shown) == 21
        assert layers.border_title.startswith("kept per layer (21)") and "17 layers" in entropy.border_title
        assert layers.max_scroll_y > 0 and entropy.max_scroll_y > 0  # more lines than room: they scroll
        assert "layer1.0.conv1 " in screen_text(app) and "fc " not in screen_text(app)
        layers.scroll_end(animate=False)
        await pilot.pause(0.2)
        assert "fc " in screen_text(app)  # the last layer, reached by scrolling
        collapsed = [r.name for r in layers.rows_shown if r.level == "collapsed"]
        last = student["rungs"][-1]["layer_sparsity"]
        assert collapsed == [n for n, s in last.items() if s == 1.0]
    run(check, app, size=(100, 32))
