"""What scripts and shells expect of a command-line tool, in one place: shell completion of bundled
profile names and registry names (`RegistryChoice`), the machine-readable (`--json`) forms of
`profiles` and `compare`, and the CSV export.

The CSV has one row per phase and rung and every field of the rung records: the historical columns
first (their order is a contract), then each per-layer entropy, then every other field the records
carry (`val_acc_clean`, `diverged`, `learning_distance`, ...; dicts such as `layer_sparsity` become
one `key:name` column per entry), in order of first appearance, so a field added to the record
later reaches the CSV without a change here.
"""
from __future__ import annotations

import csv
import io

import click
from click.shell_completion import CompletionItem

ENV_PREFIX = "DSD_TUI"  # Click's auto_envvar_prefix: DSD_TUI_<COMMAND>_<OPTION>, e.g. DSD_TUI_EXPORT_FORMAT

CSV_FIELDS = ["phase", "rung", "sparsity", "remaining_weights", "train_acc", "train_acc_clean", "train_loss",
              "val_acc", "val_loss", "test_acc", "test_loss", "entropy_mean", "regime", "epochs", "seconds",
              "learning_distance"]


def complete_profile(_ctx, _param, incomplete: str) -> list[CompletionItem]:
    """Bundled profile names that start with what was typed; otherwise let the shell complete a path."""
    from dsd_tui.profile import bundled_names
    names = [CompletionItem(n, help="bundled profile") for n in bundled_names() if n.startswith(incomplete)]
    return names or [CompletionItem(incomplete, type="file")]


class RegistryChoice(click.Choice):
    """A click.Choice of a registry's names ("module:NAME"), read when Click needs them (a check, --help,
    shell completion), not when the CLI is imported: importing cli.py imports no registry entry."""

    def __init__(self, path: str):  # no super().__init__: it would read the names now
        self.path = path
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:
        from dsd_tui.profile import registry
        return tuple(registry(self.path).names())


def _cell(value):
    return "" if value is None else value


def summary_csv(summary: dict) -> str:
    records = [(p["name"], r) for p in summary["phases"] for r in p["rungs"]]
    layers = sorted({k for _, r in records for k in r.get("entropy", {})})
    extra: list[str] = []  # every other record field, dicts flattened, in order of first appearance
    for _, r in records:
        for key, value in r.items():
            if key in CSV_FIELDS or key == "entropy":
                continue
            names = [f"{key}:{k}" for k in value] if isinstance(value, dict) else [key]
            extra += [n for n in names if n not in extra]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS + [f"entropy:{name}" for name in layers] + extra)
    for phase, r in records:
        row = [phase] + [_cell(r.get(k)) for k in CSV_FIELDS[1:]]
        row += [_cell(r.get("entropy", {}).get(name)) for name in layers]
        for name in extra:
            key, _, sub = name.partition(":")
            value = r.get(key)
            row.append(_cell(value.get(sub) if isinstance(value, dict) and sub else
                             (None if isinstance(value, dict) else value)))
        w.writerow(row)
    return buf.getvalue()


def profiles_json() -> list[dict]:
    """The bundled profiles: name, description and the keys that tell them apart."""
    from dsd_tui import profile as profile_mod
    out = []
    for name in profile_mod.bundled_names():
        # Every key resolved to its value or default; the paper profiles' data.path is left empty (it is
        # the user's to give), so the whole-profile checks that need it are not applied here.
        raw = profile_mod.parse_toml(profile_mod.bundled_text(name), name)
        p = profile_mod.Profile(description=raw.get("description", ""), **{
            sec: profile_mod._build_section(sec, cls, raw.get(sec, {}), name)
            for sec, cls in profile_mod.SECTIONS.items()})
        out.append({"name": name, "description": p.description, "dataset": p.data.dataset, "noise": p.data.noise,
                    "arch": p.model.arch, "optimizer": p.train.optimizer, "epochs": p.train.epochs,
                    "dense_epochs": p.train.dense_epochs, "rungs": p.prune.rungs, "rate": p.prune.rate,
                    "distill": p.distill.enabled, "profile": p.to_dict()})
    return out


def compare_json(groups, data: dict, metric: str, stops: list[str]) -> dict:
    """`compare --json`: per run or setting, per phase, one entry per rung (mean, std, n, sparsity)."""
    runs = []
    for g in groups:
        curves = data[g.label]
        runs.append({"label": g.label, "runs": [str(r.path) for r in g.runs],
                     "phases": {ph: [{"rung": k, **v} for k, v in sorted(c.items())] for ph, c in curves.items()}})
    return {"metric": metric, "groups": runs, "stops": stops}
