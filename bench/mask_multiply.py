"""masked_fill_ against the multiplication by the mask, the two ways to zero pruned weights on the CPU.

The per-step path (`Masks.apply`) multiplies; `Masks.zero_pruned` (once per rung) uses masked_fill_ for its
+0.0 bits. This prints what each costs on the quickstart MLP's 512×512 layer at 20% kept, one thread.

    python bench/mask_multiply.py
"""
import timeit

import torch

torch.set_num_threads(1)
torch.manual_seed(0)
w = torch.randn(512, 512)
mask = (torch.rand(512, 512) < 0.2).float()
pruned = mask == 0
n = 2000
mul = timeit.timeit(lambda: w.mul_(mask), number=n) / n
fill = timeit.timeit(lambda: w.masked_fill_(pruned, 0.0), number=n) / n
print(f"mul_ by mask   {mul * 1e6:8.1f} µs")
print(f"masked_fill_   {fill * 1e6:8.1f} µs   ({fill / mul:.1f}× the multiplication)")
