"""aggregate, compare and plot on real run directories: the numbers they report are the runs' numbers.

The sweep here (`recorded_sweep`, built once per test run) is built without Ray: each ladder runs in-process
through `run_ladder`, the same function a Ray worker runs, so these tests need torch but not a cluster.
"""
from __future__ import annotations

import csv
import io
import json
import statistics

import pytest
from click.testing import CliRunner

from dsd_tui.cli import main
from dsd_tui.record.summary import PhaseSummary
from dsd_tui.study import aggregate as agg_mod
from dsd_tui.study import compare_runs as compare_mod
from dsd_tui.study import sweep_index as idx

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)


@pytest.fixture
def sweep_dir(recorded_sweep):
    """The shared recorded sweep (conftest.py): quickstart with 4 rungs and stop criteria that fire
    (shared_runs.SWEEP_SETS), data.noise 0.2 and 0.4, seeds 0 and 1."""
    return recorded_sweep


def summaries(sweep_dir, noise):
    return [json.loads((sweep_dir / f"data.noise-{noise}__seed-{s}" / "summary.json").read_text()) for s in (0, 1)]


def rung(summary, phase, k):
    p = next(p for p in summary["phases"] if p["name"] == phase)
    return next(r for r in p["rungs"] if r["rung"] == k)


def test_aggregate_is_the_mean_and_sample_std_over_seeds(sweep_dir):
    result = agg_mod.aggregate(idx.group(idx.collect([sweep_dir])))
    groups = {g["label"]: g for g in result["groups"]}
    assert set(groups) == {"noise=0.2", "noise=0.4"}
    g = groups["noise=0.4"]
    assert sorted(g["seeds"]) == [0, 1] and g["excluded"] == []
    runs = summaries(sweep_dir, 0.4)
    for phase in ("teacher", "student"):
        for r in g["phases"][phase]["rungs"]:
            for metric in ("test_acc", "entropy_mean", "train_loss"):
                values = [rung(s, phase, r["rung"])[metric] for s in runs]
                assert r["metrics"][metric]["mean"] == pytest.approx(statistics.mean(values))
                assert r["metrics"][metric]["std"] == pytest.approx(statistics.stdev(values))
            layer = next(iter(rung(runs[0], phase, 0)["entropy"]))
            assert r["metrics"][f"entropy:{layer}"]["n"] == 2


def test_aggregate_counts_stop_outcomes_and_their_cost(sweep_dir):
    result = agg_mod.aggregate(idx.group(idx.collect([sweep_dir])))
    checked = 0
    for g in result["groups"]:
        runs = summaries(sweep_dir, g["settings"]["data.noise"])
        for phase, pa in g["phases"].items():
            for crit, st in pa["stops"].items():
                fired = [(s, x) for s in runs for x in s["stops"] if x["phase"] == phase and x["criterion"] == crit]
                assert st["fired"] == len(fired) / 2
                costs = [sum(r["epochs"] for r in next(p for p in s["phases"] if p["name"] == phase)["rungs"]
                             if r["rung"] <= x["rung"]) for s, x in fired]
                assert st["cost_epochs"]["mean"] == pytest.approx(statistics.mean(costs))
                assert st["selected_test_acc"]["mean"] == pytest.approx(
                    statistics.mean(x["selected_test_acc"] for _, x in fired))
                checked += 1
    assert checked, "the tiny profile is meant to make criteria fire; nothing was checked"


def test_the_runs_own_verdicts_are_aggregated(sweep_dir):
    result = agg_mod.aggregate(idx.group(idx.collect([sweep_dir])))
    g = next(g for g in result["groups"] if g["label"] == "noise=0.2")
    runs = summaries(sweep_dir, 0.2)
    verdicts = [next(p for p in s["phases"] if p["name"] == "teacher").get("verdict", {}) for s in runs]
    numeric = [k for k, v in verdicts[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numeric:
        pytest.skip("this engine writes no numeric verdict fields")
    for key in numeric:
        expected = statistics.mean(v[key] for v in verdicts)
        assert g["phases"]["teacher"]["verdict"][key]["mean"] == pytest.approx(expected)


def test_verdict_fields_are_aggregated_whatever_they_are():
    phases = [PhaseSummary.from_json(p) for p in ({"name": "teacher", "verdict": {"sdd": True, "dip": {"depth": 0.1},
                                                                               "regime": "a"}},
                                                  {"name": "teacher", "verdict": {"sdd": False, "dip": {"depth": 0.3},
                                                                               "regime": "a"}})]
    v = agg_mod.aggregate_verdicts(phases)
    assert v["sdd"]["mean"] == 0.5 and v["sdd"]["kind"] == "fraction true"
    assert v["dip.depth"]["mean"] == pytest.approx(0.2) and v["dip.depth"]["std"] == pytest.approx(0.1414, abs=1e-4)
    assert v["regime"] == {"counts": {"a": 2}, "n": 2}


def test_aggregate_command_writes_json_and_csv_that_agree(sweep_dir, tmp_path):
    result = CliRunner().invoke(main, ["aggregate", str(sweep_dir), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "aggregate.json").read_text())
    rows = list(csv.DictReader(io.StringIO((tmp_path / "aggregate-rungs.csv").read_text())))
    assert len(rows) == 2 * 2 * 5  # settings × phases × rungs (dense + 4)
    row = next(r for r in rows if r["label"] == "noise=0.2" and r["phase"] == "student" and r["rung"] == "3")
    g = next(g for g in data["groups"] if g["label"] == "noise=0.2")
    expected = g["phases"]["student"]["rungs"][3]["metrics"]["test_acc"]["mean"]
    assert float(row["test_acc_mean"]) == pytest.approx(expected)
    phases = list(csv.DictReader(io.StringIO((tmp_path / "aggregate-phases.csv").read_text())))
    assert {(r["label"], r["phase"]) for r in phases} == {(f"noise={n}", p) for n in (0.2, 0.4)
                                                           for p in ("teacher", "student")}


def test_aggregate_of_a_run_directory_is_refused(sweep_dir):
    result = CliRunner().invoke(main, ["aggregate", str(sweep_dir / "data.noise-0.2__seed-0")])
    assert result.exit_code == 2 and "not a sweep directory" in result.stderr


def test_compare_shows_each_runs_curve_side_by_side(sweep_dir):
    single = sweep_dir / "data.noise-0.4__seed-1"
    result = CliRunner().invoke(main, ["compare", str(sweep_dir), str(single)])
    assert result.exit_code == 0, result.output
    s = json.loads((single / "summary.json").read_text())
    for k in range(5):  # the single run's column holds its own numbers, in percent
        assert f"{rung(s, 'teacher', k)['test_acc'] * 100:.1f}" in result.stdout
    both = summaries(sweep_dir, 0.2)
    mean = statistics.mean(rung(x, "student", 4)["test_acc"] for x in both) * 100
    std = statistics.stdev(rung(x, "student", 4)["test_acc"] for x in both) * 100
    assert f"{mean:.1f}±{std:.1f}" in result.stdout
    assert "#3 = data.noise-0.4__seed-1" in result.stdout


def test_compare_table_data_is_the_group_mean(sweep_dir):
    groups = idx.group(idx.collect([sweep_dir]))
    _, data = compare_mod.table(groups, "val_acc")
    runs = summaries(sweep_dir, 0.2)
    assert data["noise=0.2"]["teacher"][2]["mean"] == pytest.approx(
        statistics.mean(rung(x, "teacher", 2)["val_acc"] for x in runs))


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_plot_writes_a_figure_of_the_summaries_numbers(sweep_dir, tmp_path, suffix, magic):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'dsd-tui[plot]')")
    from dsd_tui.study import figures as plot_mod
    path = tmp_path / f"fig{suffix}"
    drawn = plot_mod.plot(idx.group(idx.collect([sweep_dir])), path)
    data = path.read_bytes()
    assert data.startswith(magic) and 30_000 < len(data) < 3_000_000
    runs = summaries(sweep_dir, 0.4)
    acc = next(s for s in drawn["accuracy"] if s["group"] == "noise=0.4" and s["phase"] == "student")
    assert acc["sparsity"] == pytest.approx([rung(runs[0], "student", k)["sparsity"] for k in range(5)])
    assert acc["mean"] == pytest.approx([statistics.mean(rung(x, "student", k)["test_acc"] for x in runs)
                                         for k in range(5)])
    layer = next(iter(rung(runs[0], "teacher", 0)["entropy"]))
    ent = next(s for s in drawn["entropy"] if s["group"] == "noise=0.4" and s["layer"] == layer)
    assert ent["mean"] == pytest.approx([statistics.mean(rung(x, "teacher", k)["entropy"][layer] for x in runs)
                                         for k in range(5)])
    full = next(p for p in drawn["cost"] if p["group"] == "noise=0.4" and p["phase"] == "teacher"
                and p["criterion"] == "full ladder")
    assert full["cost_epochs"] == 3 + 4 * 2
    assert {p["criterion"] for p in drawn["cost"]} > {"full ladder"}, "fired criteria must be on the cost panel"


def tick_boxes_overlap(fig) -> list[tuple[str, str]]:
    """Pairs of neighbouring x tick labels whose drawn boxes touch, on every axes of the figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    out = []
    for ax in fig.axes:
        labels = [t for t in ax.get_xticklabels() if t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in labels]
        out += [(a.get_text(), b.get_text()) for (a, ba), (b, bb) in zip(zip(labels, boxes), zip(labels[1:], boxes[1:]))
                if ba.x1 >= bb.x0]
    return out


@pytest.mark.parametrize("columns", [1, 2])
def test_the_figure_reads_as_a_paper_figure(sweep_dir, tmp_path, columns):
    """Teacher (IMP) and student (DSD²) in two colours, legends by setting, the title's n, both phases'
    entropy, the dense baseline and the stops marked, and tick labels that never touch near 100%."""
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'dsd-tui[plot]')")
    from dsd_tui.study import figures as plot_mod
    groups = idx.group(idx.collect([sweep_dir]))
    with plot_mod.paper_style():
        fig, drawn = plot_mod.build(groups, columns)
        assert tick_boxes_overlap(fig) == []
    acc = fig.axes[0]
    legend = [t.get_text() for t in acc.get_legend().get_texts()]
    assert "teacher (IMP), noise=0.2" in legend and "student (DSD²), noise=0.4" in legend
    assert "dense baseline (rung 0)" in legend and not any("seed" in t or "__" in t for t in legend)
    assert acc.get_title() == "test accuracy (n = 2 seeds, band ± 1 std)"
    colors = {line.get_label(): line.get_color() for line in acc.get_lines()}
    assert colors["teacher (IMP), noise=0.2"] != colors["student (DSD²), noise=0.2"]
    assert {s["phase"] for s in drawn["entropy"]} == {"teacher", "student"}
    assert drawn["stops"] and all(m["kept_rung"] <= m["fired_rung"] for m in drawn["stops"])
    if columns == 2:
        assert [ax.get_title() for ax in fig.axes[2:]] == ["teacher (IMP): entropy per layer",
                                                            "student (DSD²): entropy per layer"]


@pytest.fixture(scope="module")
def steep_run(tmp_path_factory):
    """A real ladder that reaches 99.95% sparsity in four rungs (rate 0.85), built once for both layouts."""
    from shared_runs import shared_headless_run
    return shared_headless_run(tmp_path_factory, "steep-run", "prune.rate=0.85", "prune.rungs=4",
                               "train.dense_epochs=2", "train.epochs=1")


@pytest.mark.parametrize("columns", [1, 2])
def test_a_single_run_to_99_95_percent_has_ticks_that_never_touch_and_says_n_1(steep_run, columns):
    """A real ladder that reaches 99.95% sparsity in four rungs (rate 0.85): every candidate tick is in range,
    so only the thinning keeps "99.8%99.9%99.95%" apart."""
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'dsd-tui[plot]')")
    from dsd_tui.study import figures as plot_mod
    run_dir = steep_run
    groups = idx.group(idx.collect([run_dir]))
    with plot_mod.paper_style():
        fig, drawn = plot_mod.build(groups, columns)
        assert tick_boxes_overlap(fig) == []
    assert max(drawn["accuracy"][0]["sparsity"]) > 0.9994
    assert fig.axes[0].get_title() == "test accuracy (one run per setting, n = 1)"
    assert fig.get_suptitle() == "digits, mlp, 40% noise"  # the setting, not the time-stamped folder


def test_ticks_near_full_sparsity_are_thinned_to_the_width_and_a_single_run_says_n_1(tmp_path):
    from dsd_tui.study.figures import seeds_text, spread, thinned_ticks, tick_label
    narrow, wide = thinned_ticks(0.9995, 1.4), thinned_ticks(0.9995, 6.0)
    assert len(narrow) < len(wide) and narrow[0] == 0.0
    for ticks, width in ((narrow, 1.4), (wide, 6.0)):  # neighbours at least their labels' width apart
        for a, b in zip(ticks, ticks[1:]):
            gap_in = (spread(b) - spread(a)) / spread(0.9995) * width
            assert gap_in > 0.055 * (len(tick_label(a)) + len(tick_label(b))) / 2
    assert "99.95%" not in [tick_label(t) for t in narrow] or "99.9%" not in [tick_label(t) for t in narrow]
    assert seeds_text([1, 1]) == "one run per setting, n = 1" and "band" not in seeds_text([1])


def test_plot_refuses_an_unknown_format_and_writes_nothing(sweep_dir, tmp_path):
    result = CliRunner().invoke(main, ["plot", str(sweep_dir), "-o", str(tmp_path / "fig.jpeg")])
    assert result.exit_code == 2 and "use a .png, .svg or .pdf" in result.stderr
    assert not list(tmp_path.iterdir())


def test_spread_axis_puts_90_99_and_99_9_percent_equally_far_apart():
    from dsd_tui.study.figures import spread
    assert spread(0.99) - spread(0.9) == pytest.approx(spread(0.999) - spread(0.99)) == pytest.approx(1.0)


def test_sweep_screen_lists_every_ladder_with_its_own_numbers(sweep_dir):
    """watch SWEEP_DIR: one row per ladder with its settings, seed, status and best test accuracies."""
    import asyncio

    from textual.widgets import DataTable

    from dsd_tui.tui.app import DsdApp
    from dsd_tui.tui.screens.sweep import SweepScreen
    index = json.loads((sweep_dir / "sweep.json").read_text())
    app = DsdApp(SweepScreen(sweep_dir))

    async def main():
        async with app.run_test(size=(120, 30)):
            table = app.query_one(DataTable)
            return [table.get_row_at(i) for i in range(table.row_count)]

    rows = asyncio.run(main())
    assert [(r[0], r[1], r[2]) for r in rows] == [(f"noise={lad['settings']['data.noise']}", str(lad["seed"]),
                                                   "completed") for lad in index["ladders"]]
    second = json.loads((sweep_dir / index["ladders"][1]["name"] / "summary.json").read_text())
    teacher = next(p for p in second["phases"] if p["name"] == "teacher")
    assert rows[1][5] == f"{rung(second, 'teacher', teacher['best_rung'])['test_acc']:.3f}"


def test_enter_on_a_sweep_row_opens_that_ladders_monitor_and_escape_returns_to_the_same_row(sweep_dir):
    """One app: Enter pushes the monitor of the ladder under the cursor (watching its run directory);
    Escape, and q after it, pop back to the sweep table with the cursor still on that row."""
    import asyncio

    from textual.widgets import DataTable

    from dsd_tui.tui.app import DsdApp
    from dsd_tui.tui.screens.monitor import MonitorScreen
    from dsd_tui.tui.screens.sweep import SweepScreen
    index = json.loads((sweep_dir / "sweep.json").read_text())
    names = [lad["name"] for lad in index["ladders"]]
    sweep = SweepScreen(sweep_dir)
    app = DsdApp(sweep)
    seen = {}

    def monitor_rows():
        table = app.screen.query_one("#table")
        return [(str(table.get_row_at(i)[0]), str(table.get_row_at(i)[1]).rstrip("* "))
                for i in range(table.row_count)]

    async def main():
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("down", "enter")
            await pilot.pause(0.2)
            seen["screen"] = app.screen
            seen["rows"] = monitor_rows()
            await pilot.press("escape")
            await pilot.pause()
            seen["back"] = (app.screen, app.screen.query_one(DataTable).cursor_row, len(app.screen_stack))
            await pilot.press("enter")
            await pilot.pause(0.2)
            seen["again"] = app.screen
            await pilot.press("q")  # q on a ladder opened from the table goes back too (as before)
            await pilot.pause()
            seen["after_q"] = (app.screen, app.screen.query_one(DataTable).cursor_row, app.is_running)

    asyncio.run(main())
    monitor = seen["screen"]
    assert isinstance(monitor, MonitorScreen) and monitor.mode == "watch"
    assert monitor.run_dir == sweep_dir / names[1] and sweep.opened == sweep_dir / names[1]
    second = json.loads((sweep_dir / names[1] / "summary.json").read_text())
    assert seen["rows"] == [(p["name"], str(r["rung"])) for p in second["phases"] for r in p["rungs"]]
    assert seen["back"] == (sweep, 1, 1)
    assert isinstance(seen["again"], MonitorScreen) and seen["again"] is not monitor
    assert seen["again"].run_dir == sweep_dir / names[1]
    assert seen["after_q"] == (sweep, 1, True)


def test_compare_screen_shows_the_table_and_m_switches_the_metric(sweep_dir):
    """compare --tui: the same curves as the terminal table; 'm' moves from test to validation accuracy."""
    import asyncio

    from dsd_tui.tui.screens.compare import compare_app
    groups = idx.group(idx.collect([sweep_dir]))
    app = compare_app(groups)

    async def main():
        async with app.run_test(size=(120, 50)) as pilot:
            screen = app.screen
            first = (screen.metric, screen.shown)
            await pilot.press("m")
            await pilot.pause()
            return first, (screen.metric, screen.shown)

    (m1, shown1), (m2, shown2) = asyncio.run(main())
    runs = summaries(sweep_dir, 0.2)
    assert (m1, m2) == ("test_acc", "val_acc")
    for metric, shown in (("test_acc", shown1), ("val_acc", shown2)):
        assert shown["noise=0.2"]["student"][1]["mean"] == pytest.approx(
            statistics.mean(rung(x, "student", 1)[metric] for x in runs))


def test_runs_without_a_finished_rung_are_one_line_for_plot_and_compare(tmp_path):
    """A run that failed at rung 0 (a NaN loss) has nothing to draw: plot writes no empty figure and compare
    suggests no metric it would then refuse (issue 27)."""
    from click.testing import CliRunner

    from dsd_tui.cli import main
    runner = CliRunner()
    failed = runner.invoke(main, ["run", "--no-tui", "--out", str(tmp_path / "runs"), "--set", "train.lr=1e30",
                                  "--set", "prune.rungs=1", "--set", "train.dense_epochs=1", "--set", "train.epochs=1"])
    assert failed.exit_code == 1, failed.output
    (run,) = (tmp_path / "runs").iterdir()
    figure = runner.invoke(main, ["plot", str(run), "-o", str(tmp_path / "fig.png")])
    assert figure.exit_code == 2 and "no run here finished a rung" in figure.output, figure.output
    assert not (tmp_path / "fig.png").exists()
    table = runner.invoke(main, ["compare", str(run), "--metric", "val_acc"])
    assert table.exit_code == 2 and "no run here finished a rung" in table.output and "try" not in table.output
