"""Hand-made rung records for the stop-criterion, verdict and regime tests.

`sdd_present`: a vanilla ladder on 40% noisy labels, shaped like the quickstart teacher: it
memorises (train acc on the noisy labels 1.0), the test accuracy dips, then the entropy falls, the
noise fit vanishes, accuracy climbs well above the dense rung and finally collapses.
`sdd_absent`: a distilled student: it never fits the noise, its accuracy holds, then declines.
"""
from __future__ import annotations

from dsd_tui.record.rung import RungRecord

NOISE = 0.4


def typed(records: list[dict]) -> list[RungRecord]:
    """The hand-made JSON records (edited by a test) as the ladder holds them."""
    return [RungRecord.from_json(r) for r in records]


def records(val, test, entropy, train=None, train_clean=None, rate=0.2, epochs=(10, 5)):
    out = []
    for k, (v, t, h) in enumerate(zip(val, test, entropy)):
        out.append({"rung": k, "sparsity": 1.0 - (1.0 - rate) ** k, "val_acc": v, "test_acc": t,
                    "entropy_mean": h, "train_acc": train[k] if train else None,
                    "train_acc_clean": train_clean[k] if train_clean else None,
                    "epochs": epochs[0] if k == 0 else epochs[1]})
    return out


def sdd_present():
    val = [.42, .40, .41, .38, .36, .35, .37, .44, .47, .50, .51, .50, .49, .45, .38, .30]
    test = [.68, .66, .65, .64, .63, .62, .64, .70, .76, .80, .81, .80, .78, .72, .60, .45]
    H = [.59, .59, .59, .59, .58, .57, .55, .50, .43, .35, .28, .22, .16, .11, .07, .04]
    train = [.98, 1., 1., 1., 1., 1., .95, .80, .66, .60, .58, .56, .54, .50, .42, .33]
    clean = [.61, .60, .60, .60, .60, .60, .64, .72, .80, .83, .85, .84, .82, .76, .62, .48]
    return records(val, test, H, train, clean)


def sdd_absent():
    val = [.54, .53, .54, .53, .52, .53, .52, .52, .51, .505, .47, .44, .40, .35, .30, .25]
    test = [.87, .86, .86, .85, .85, .85, .84, .84, .83, .82, .79, .74, .68, .60, .52, .45]
    H = [.59, .62, .64, .66, .67, .66, .64, .60, .55, .48, .40, .31, .22, .15, .10, .06]
    train = [.70, .70, .69, .68, .67, .66, .65, .63, .61, .60, .57, .53, .49, .44, .39, .33]
    clean = [.86, .86, .86, .87, .87, .87, .87, .86, .85, .84, .80, .74, .68, .60, .52, .45]
    return records(val, test, H, train, clean)
