"""Would sparse kernels pay at the quickstart's high-sparsity rungs, and are they exact? (issue 6 stretch)

    python bench/sparse_kernels.py                       # both tables, one thread
    python bench/sparse_kernels.py --layers-only --threads 2

One thread, batch 128, CPU µs (medians). (1) For the quickstart's 512×512 hidden layer under a
global-magnitude mask at several sparsities: the dense forward (`F.linear`) against `torch.sparse` CSR
and COO products of the same weights, and whether the sparse result equals the dense one bit for bit.
(2) Forward + backward of one layer through the engine's `sparse_kernels.csr_linear` (what
`train.sparse_kernels` runs) against `F.linear`, by kept fraction, for the MLP's three layer shapes:
where the break-even density and the minimum layer size in `sparse_kernels.py` come from; since issue 16
(`train.sparse_kernels = "auto"` by default) also the other built-in models' Linear layers that pass the size
floor (ResNet-18's CIFAR-100 classifier 100×512, VGG's classifiers 10×25088 and 100×25088), which is where
`sparse_kernels.MIN_OUT` comes from.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def us(fn, n: int = 300) -> float:
    for _ in range(20):
        fn()
    ts = []
    for _ in range(n):
        t = time.process_time()
        fn()
        ts.append(time.process_time() - t)
    return 1e6 * statistics.median(ts)


# (out, in, needs the input gradient): the MLP's layers, then the other built-in models' classifiers
SHAPES = ((512, 512, True), (512, 64, False), (10, 512, True), (100, 512, True), (10, 25088, True),
          (100, 25088, True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the engine's default is 1)")
    ap.add_argument("--layers-only", action="store_true", help="only the forward + backward table")
    ap.add_argument("--reps", type=int, default=300, help="timed calls per cell (median)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    if not args.layers_only:
        forward_table(args.reps)
    layer_table(args.reps)


def forward_table(reps: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(128, 512)
    w0 = torch.randn(512, 512) / 512 ** 0.5
    b = torch.randn(512) * 0.01
    print(f"{'sparsity':>8} {'dense µs':>9} {'CSR µs':>8} {'COO µs':>8}  CSR bitwise  max |diff|")
    for sparsity in (0.2, 0.893, 0.982, 0.9988):
        k = int(round(sparsity * w0.numel()))
        cut = w0.abs().flatten().kthvalue(k).values
        w = torch.where(w0.abs() > cut, w0, torch.zeros(()))
        csr, coo = w.to_sparse_csr(), w.to_sparse()
        dense = F.linear(x, w, b)
        sparse = torch.addmm(b.unsqueeze(1), csr, x.t()).t()  # (W xᵀ + b)ᵀ
        t_dense = us(lambda: F.linear(x, w, b), reps)
        t_csr = us(lambda: torch.addmm(b.unsqueeze(1), csr, x.t()).t().contiguous(), reps)
        t_coo = us(lambda: torch.sparse.addmm(b.unsqueeze(1), coo, x.t()).t().contiguous(), reps)
        same = torch.equal(dense.contiguous().view(torch.int32), sparse.contiguous().view(torch.int32))
        print(f"{sparsity:8.1%} {t_dense:9.0f} {t_csr:8.0f} {t_coo:8.0f}  {str(same):>11}  "
              f"{float((dense - sparse).abs().max()):.1e}")


def layer_table(reps: int) -> None:
    from dsd_tui.speed.sparse_kernels import CsrPattern, csr_linear

    print("\nforward + backward of one layer, dense F.linear vs the engine's csr_linear (CPU µs)")
    print(f"{'layer':>9} {'kept':>5} {'dense':>7} {'CSR':>7} {'dense/CSR':>9}")
    for out_f, in_f, input_grad in SHAPES:
        for keep in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4):
            torch.manual_seed(0)
            w, mask = torch.randn(out_f, in_f), torch.rand(out_f, in_f) < keep
            x = torch.randn(128, in_f, requires_grad=input_grad)  # the first layer needs no input gradient
            b = torch.zeros(out_f, requires_grad=True)
            dense_w = (w * mask).requires_grad_(True)
            values = w[mask].clone().requires_grad_(True)
            pattern = CsrPattern.from_mask(mask)
            grad_y = torch.randn(128, out_f)
            t_dense = us(lambda: F.linear(x, dense_w, b).backward(grad_y), reps)
            t_csr = us(lambda: csr_linear(x, values, b, pattern).backward(grad_y), reps)
            print(f"{out_f:>4}×{in_f:<5} {keep:5.0%} {t_dense:7.0f} {t_csr:7.0f} {t_dense / t_csr:8.2f}×", flush=True)


if __name__ == "__main__":
    main()
