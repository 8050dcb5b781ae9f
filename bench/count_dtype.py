"""The entropy hook's per-batch reduction: ON counts summed in int64 vs int32 (the engine's), against
a ReLU over the same map, CPU milliseconds (medians, one thread).

    PYTHONPATH=. python bench/count_dtype.py
"""
import statistics
import time

import torch


def main() -> None:
    torch.set_num_threads(1)
    x = torch.randn(256, 64, 16, 16)  # a ResNet-18 layer1 map for an eval batch of 256
    ops = {"sum int64": lambda: (x > 0).flatten(1).sum(0, dtype=torch.int64),
           "sum int32": lambda: (x > 0).flatten(1).sum(0, dtype=torch.int32),
           "relu (scale)": lambda: torch.relu(x)}
    assert torch.equal(ops["sum int64"](), ops["sum int32"]().long())
    ms = {k: [] for k in ops}
    for _ in range(15):
        for k, fn in ops.items():
            t = time.process_time()
            fn()
            ms[k].append(1e3 * (time.process_time() - t))
    for k, v in ms.items():
        print(f"{k:<13} {statistics.median(v):6.2f} CPU ms")


if __name__ == "__main__":
    main()
