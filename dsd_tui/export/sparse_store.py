"""Prunable weights stored compactly, so that a model file shrinks with the sparsity.

Why not `to_sparse_csr()`: saved as is, a CSR tensor keeps int64 column indices and row pointers (8 bytes
per kept weight on top of its 4-byte value), so at 93% sparsity the file is barely smaller. Here each
pruned weight is its kept values (row-major, the weight's dtype) plus where they sit, in whichever of two
encodings is smaller for that tensor:

- "index": the flat positions of the kept values, in the smallest integer type that holds the largest
  position (uint8, int16, int32, int64: the types `torch.load(weights_only=True)` reads back);
- "bitmask": the mask, one bit per weight, packed eight to a uint8 (most significant bit first);
- "dense": every value (a weight so little pruned that either of the above would cost more than its zeros).

At density d an index costs d × (1 to 8) bytes per weight and the bitmask 1/8 byte, so the bitmask wins
above a few percent density and the index below. Every piece is a plain tensor, int or string: the file
still loads with `weights_only=True`.
"""
from __future__ import annotations

import torch

_BITS = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8)


def index_dtype(largest: int) -> torch.dtype:
    """The smallest integer type `weights_only` loading reads that holds 0..largest."""
    for dtype, top in ((torch.uint8, 255), (torch.int16, 2**15 - 1), (torch.int32, 2**31 - 1)):
        if largest <= top:
            return dtype
    return torch.int64


def pack_bits(mask: torch.Tensor) -> torch.Tensor:
    flat = mask.reshape(-1).to(torch.uint8)
    padded = torch.cat([flat, flat.new_zeros(-flat.numel() % 8)]).reshape(-1, 8)
    return (padded * _BITS).sum(dim=1, dtype=torch.uint8)


def unpack_bits(packed: torch.Tensor, numel: int) -> torch.Tensor:
    bits = (packed.reshape(-1, 1) & _BITS) != 0
    return bits.reshape(-1)[:numel]


def compact(weight: torch.Tensor, mask: torch.Tensor) -> dict:
    """One pruned weight as {"shape", "values", "encoding", "where"}; `weight` already zero where `mask` is."""
    keep = mask.reshape(-1).to(torch.bool)
    values = weight.reshape(-1)[keep].clone()
    positions = keep.nonzero().reshape(-1)
    numel = weight.numel()
    dtype = index_dtype(max(numel - 1, 0))
    index_bytes = positions.numel() * torch.empty((), dtype=dtype).element_size()
    if min(index_bytes, (numel + 7) // 8) + values.numel() * values.element_size() >= numel * weight.element_size():
        # nearly dense: the positions would cost more than the zeros they spare
        return {"shape": list(weight.shape), "values": weight.reshape(-1).clone(), "encoding": "dense",
                "where": torch.zeros(0, dtype=torch.uint8)}
    if index_bytes <= (numel + 7) // 8:
        return {"shape": list(weight.shape), "values": values, "encoding": "index", "where": positions.to(dtype)}
    return {"shape": list(weight.shape), "values": values, "encoding": "bitmask", "where": pack_bits(keep)}


def expand(entry: dict) -> torch.Tensor:
    """The dense weight (zeros where pruned) back from `compact`'s dict; ValueError when it is inconsistent."""
    shape = [int(d) for d in entry["shape"]]
    numel = 1
    for d in shape:
        numel *= d
    values, where = entry["values"], entry["where"]
    if entry["encoding"] == "dense":
        if values.numel() != numel:
            raise ValueError("the dense values do not match the weight's shape")
        return values.reshape(shape).clone()
    if entry["encoding"] == "index":
        positions = where.to(torch.int64)
    elif entry["encoding"] == "bitmask":
        if where.dtype != torch.uint8 or where.numel() != (numel + 7) // 8:
            raise ValueError("the bit mask does not match the weight's shape")
        positions = unpack_bits(where, numel).nonzero().reshape(-1)
    else:
        raise ValueError(f"unknown encoding {entry['encoding']!r}")
    if positions.numel() != values.numel() or (positions.numel() and int(positions.max()) >= numel):
        raise ValueError("the kept values do not match their positions")
    flat = torch.zeros(numel, dtype=values.dtype)
    flat[positions] = values
    return flat.reshape(shape)
