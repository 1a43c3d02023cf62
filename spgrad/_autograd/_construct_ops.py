"""Differentiable numeric phases of the constructors (``diags``, ``kron``, block assembly,
``tril``/``triu``) and of the DIA format.

The symbolic phase of each of these operations (which stored entry of the result comes from
which input entry) is computed by the caller with NumPy and the kernels; what remains are
gathers, concatenations and scatters of the values, written here with torch ops. They are
linear in the values, so double backward and forward mode come for free and no dense
``n × n`` intermediate is ever built (the DIA helpers work on the ``(n_diagonals, width)``
data array itself).

Operands whose values are NumPy arrays are constants: they become tensors without
``requires_grad``.
"""

import numpy as np
import torch

from .. import _backend


def values(x, dtype=None):
    """``x`` (tensor, array or sequence) as a tensor, cast to the NumPy/torch ``dtype``."""
    if not (_backend.is_tensor(x) or _backend.is_device_array(x)):
        x = np.asarray(x)
    return _backend.as_tensor(x, dtype=dtype)


def index(idx):
    """A NumPy (or CuPy) index array as an int64 tensor (on the CuPy array's GPU)."""
    return _backend.index_tensor(idx)


def cat(parts, dtype):
    """The 1-D value arrays ``parts`` (tensors or arrays) concatenated in ``dtype``."""
    parts = [values(p, dtype).reshape(-1) for p in parts]
    if not parts:
        return torch.zeros(0, dtype=_backend.torch_dtype(dtype))
    return torch.cat(parts)


def gather(data, idx, dtype=None):
    """``data[idx]`` in ``dtype`` (a differentiable gather with a NumPy index array)."""
    return values(data, dtype)[index(idx)]


def outer_gather(a, ia, b, ib, dtype):
    """``a[ia] * b[ib]``: the values of a Kronecker product, given its index maps."""
    return gather(a, ia, dtype) * gather(b, ib, dtype)


def padded_rows(rows, firsts, width, dtype):
    """A ``(len(rows), width)`` tensor whose row ``d`` holds ``rows[d]`` (1-D, tensor or
    array) at columns ``firsts[d]:firsts[d] + len(rows[d])`` and zeros elsewhere."""
    torch_dtype = _backend.torch_dtype(dtype)
    out = []
    for row, first in zip(rows, firsts):
        row = values(row, dtype).reshape(-1)
        out.append(torch.nn.functional.pad(row, (first, width - first - row.shape[0])))
    if not out:
        return torch.zeros((0, width), dtype=torch_dtype)
    return torch.stack(out)


def scatter_2d(shape, rows, cols, vals, dtype):
    """A ``shape`` tensor of zeros with ``vals`` added at ``(rows, cols)`` (NumPy indices)."""
    vals = values(vals, dtype)
    out = torch.zeros(shape, dtype=vals.dtype, device=vals.device)
    return out.index_put((index(rows), index(cols)), vals, accumulate=True)


def take_2d(data, rows, cols, dtype=None):
    """``data[rows, cols]`` (NumPy index arrays that broadcast together)."""
    rows, cols = np.broadcast_arrays(rows, cols)
    return values(data, dtype)[index(rows), index(cols)]


def pad_columns(data, width):
    """The 2-D ``data`` with zero columns appended up to ``width`` columns (or cut to it)."""
    data = values(data)
    have = data.shape[1]
    if have >= width:
        return data[:, :width]
    return torch.nn.functional.pad(data, (0, width - have))


def add_rows(shape, parts, dtype):
    """``out[rows] += sign * block`` for every ``(rows, block, sign)`` in ``parts`` on a zero
    ``shape`` tensor; blocks narrower than ``shape[1]`` are padded with zeros."""
    blocks = [pad_columns(values(block, dtype), shape[1]) for _, block, _ in parts]
    out = torch.zeros(shape, dtype=_backend.torch_dtype(dtype), device=blocks[0].device)
    for (rows, _, sign), block in zip(parts, blocks):
        out = out.index_add(0, index(rows), -block if sign < 0 else block)
    return out


def stack(rows, dtype):
    """The equal-length 1-D value arrays ``rows`` stacked into a 2-D tensor of ``dtype``."""
    return torch.stack([values(r, dtype).reshape(-1) for r in rows])
