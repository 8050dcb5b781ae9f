"""Would sparse kernels pay at the quickstart's high-sparsity rungs, and are they exact? (issue 6 stretch)

    PYTHONPATH=src python bench/sparse_kernels.py

For the quickstart's 512×512 hidden layer under a global-magnitude mask at several sparsities, one
thread: the dense forward (`F.linear`, what training runs) against `torch.sparse` CSR and COO products
of the same weights, CPU µs per batch of 128 (medians), and whether the sparse result equals the dense
one bit for bit. Measured only: the engine uses none of them (docs/benchmarks.md says why).
"""
from __future__ import annotations

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


def main() -> None:
    torch.set_num_threads(1)
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
        t_dense = us(lambda: F.linear(x, w, b))
        t_csr = us(lambda: torch.addmm(b.unsqueeze(1), csr, x.t()).t().contiguous())
        t_coo = us(lambda: torch.sparse.addmm(b.unsqueeze(1), coo, x.t()).t().contiguous())
        same = torch.equal(dense.contiguous().view(torch.int32), sparse.contiguous().view(torch.int32))
        print(f"{sparsity:8.1%} {t_dense:9.0f} {t_csr:8.0f} {t_coo:8.0f}  {str(same):>11}  "
              f"{float((dense - sparse).abs().max()):.1e}")


if __name__ == "__main__":
    main()
