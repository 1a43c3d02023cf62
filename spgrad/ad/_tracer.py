"""Sparsity patterns of Jacobians and Hessians by tracing a torch function once.

The function runs once, at an example point, under a ``TorchDispatchMode`` that sees every aten
operation below autograd. Each tensor that depends on the input ``x`` (n variables) gets a
*dependency matrix*: a boolean SciPy CSR with one row per element (C order) and n columns,
``D[k, j]`` set when element ``k`` may depend on ``x[j]``. Tensors without one are constants.
For Hessians the tracer also collects one global set of second-order interactions (pairs of
variables that meet in a nonlinear operation): a superset of the Hessian's pattern.

Rules, by kind of operation:

- **Movement and indexing** (views, reshapes, slicing, ``index``, ``gather``, ``cat``, ``roll``,
  padding, ``index_put``, ``scatter``, …): the same operation is run on tensors of element
  numbers, which says which source element each output element copies; fill values map to
  "no source". One rule covers them all.
- **Elementwise** operations (with broadcasting): an output element depends on the broadcast
  elements of its operands. For Hessians: linear ones add nothing; products add the cross terms
  of their two operands; nonlinear ones (``exp``, ``sin``, ``pow``, ``div`` by a variable…) add
  all pairs of their operands' variables; ``abs``, ``relu``, ``maximum``, ``minimum``,
  ``clamp``, ``where`` have zero second derivative almost everywhere and add nothing.
- **Reductions** (``sum``, ``prod``, ``amax``, ``logsumexp``, norms, ``softmax``, ``cumsum``,
  ``sort``…): an output element depends on everything it reduces over.
- **Matrix products** (``mm``, ``bmm``, ``mv``, ``dot``, ``addmm``…, and ``matmul``/``einsum``,
  which torch lowers to them): through the nonzeros of a constant operand, through every entry
  of a variable one.
- **spgrad's sparse kernels** (``A @ x``, ``A.T @ x``, SpGEMM and their backward products):
  these compute outside torch, so the tracer reads their inputs from the autograd node and
  follows the sparse matrix's pattern.

An operation without a rule, a custom ``torch.autograd.Function`` computing outside torch, or a
variable turned into a Python number raises :class:`UnsupportedOperationError`.
"""

import numpy as np
import scipy.sparse
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.weak import WeakIdKeyDictionary

__all__ = ["UnsupportedOperationError", "hessian_pattern", "jacobian_pattern"]


class UnsupportedOperationError(NotImplementedError):
    """The traced function used an operation the pattern detection has no rule for.

    The message names the operation. Pass ``pattern=`` to :func:`spgrad.ad.sparse_jacobian` or
    :func:`spgrad.ad.sparse_hessian` (a sparse matrix covering the derivative's nonzeros) to
    skip detection.
    """


_HINT = ("; pass pattern= (a sparse matrix covering the derivative's nonzeros) to "
         "spgrad.ad.sparse_jacobian / sparse_hessian instead of detecting it")

# --------------------------------------------------------------------------------------------
# operation tables (aten overload packet names)
# --------------------------------------------------------------------------------------------

# each output element copies at most one input element (or a fill value)
_MOVEMENT = {
    "view", "_unsafe_view", "reshape", "_reshape_alias", "permute", "transpose", "t",
    "expand", "slice", "select", "index", "gather", "take", "flip", "roll", "cat", "stack",
    "narrow", "unfold", "repeat", "diagonal", "squeeze", "unsqueeze", "clone", "contiguous",
    "alias", "detach", "lift_fresh", "split", "split_with_sizes", "unbind", "chunk",
    "constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
    "replication_pad1d", "replication_pad2d", "replication_pad3d", "index_select",
    "masked_select", "index_put", "scatter", "slice_scatter", "select_scatter",
    "diagonal_scatter", "index_copy", "masked_scatter", "repeat_interleave", "tril", "triu",
    "movedim", "masked_fill", "index_fill", "expand_copy", "view_copy", "permute_copy",
    "_unsafe_index", "narrow_copy", "rot90", "fliplr", "flipud", "as_strided",
}
# the argument (by position) holding a fill value, replaced by "no source" when tracing ids
_FILL_ARG = {"constant_pad_nd": 2, "masked_fill": 2, "index_fill": 3}

# elementwise, for Hessians: linear / zero second derivative / bilinear / nonlinear
_LINEAR = {"add", "sub", "rsub", "neg", "positive", "_to_copy", "conj", "conj_physical",
           "resolve_conj", "resolve_neg", "real", "imag", "where", "nan_to_num", "_conj",
           "copy", "deg2rad", "rad2deg"}
_PIECEWISE = {"abs", "relu", "maximum", "minimum", "clamp", "clamp_min", "clamp_max",
              "hardtanh", "leaky_relu", "threshold", "fmax", "fmin", "relu6", "fmod",
              "remainder", "copysign", "frac", "max", "min", "sgn"}
_BILINEAR = {"mul", "addcmul"}
_NONLINEAR = {
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "asin",
    "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "sigmoid", "sqrt",
    "rsqrt", "reciprocal", "erf", "erfc", "erfinv", "lgamma", "digamma", "polygamma", "gelu",
    "silu", "softplus", "elu", "selu", "celu", "mish", "logit", "sinc", "pow", "div",
    "atan2", "hypot", "xlogy", "logaddexp", "logaddexp2", "addcdiv", "float_power",
    "square", "lerp", "log_sigmoid_forward", "special_xlog1py", "i0", "special_i0e", "special_i1",
    "special_i1e", "hardswish", "hardsigmoid", "true_divide",
}
# zero derivative everywhere: the result is a constant
_CONSTANT = {
    "sign", "floor", "ceil", "round", "trunc", "eq", "ne", "lt", "le", "gt", "ge", "isnan",
    "isinf", "isfinite", "isposinf", "isneginf", "logical_and", "logical_or", "logical_not",
    "logical_xor", "bitwise_and", "bitwise_or", "bitwise_not", "bitwise_xor", "argmax",
    "argmin", "heaviside", "signbit", "zeros_like", "ones_like", "empty_like", "full_like",
    "rand_like", "randn_like", "randint_like", "fill", "new_zeros", "new_ones", "new_empty",
    "new_full", "any", "all", "nonzero", "argsort", "sym_size", "sym_numel", "sym_stride",
    "sym_storage_offset", "is_nonzero", "equal", "allclose", "isclose", "count_nonzero",
    "searchsorted", "bucketize", "sym_constrain_range_for_size", "floor_divide",
}
# reductions and operations along a dimension
_REDUCE_LINEAR = {"sum", "mean", "nansum", "nanmean", "cumsum", "trace"}
_REDUCE_PIECEWISE = {"amax", "amin", "max", "min", "sort", "topk", "cummax", "cummin",
                     "median", "nanmedian", "kthvalue", "aminmax", "msort"}
_REDUCE_NONLINEAR = {"prod", "logsumexp", "linalg_vector_norm", "norm", "var", "std",
                     "softmax", "_softmax", "log_softmax", "_log_softmax", "cumprod",
                     "var_mean", "std_mean", "logcumsumexp", "_softmax_backward_data"}
_MATMUL = {"mm", "bmm", "mv", "dot", "vdot", "addmm", "addmv", "baddbmm", "addbmm", "addr",
           "matmul", "linear", "outer", "ger"}

# several sources add into one element
_ACCUMULATE = {"index_add", "scatter_add", "scatter_reduce"}

# spgrad's autograd Functions computing outside torch: node class name -> rule
_SPGRAD_NODES = {"SpMMBackward", "SpMMTBackward", "SDDMMBackward", "MaskedDotBackward",
                 "SpGEMMBackward"}


# --------------------------------------------------------------------------------------------
# dependency matrices
# --------------------------------------------------------------------------------------------

def _rows(D, ids):
    """Rows ``ids`` of ``D`` (an id ``-1`` gives an empty row)."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if D is None:
        return None
    missing = ids < 0
    if missing.any():
        D = scipy.sparse.vstack([D, scipy.sparse.csr_array((1, D.shape[1]), dtype=bool)],
                                format="csr")
        ids = np.where(missing, D.shape[0] - 1, ids)
    return D[ids]


def _union(*Ds):
    Ds = [D for D in Ds if D is not None]
    if not Ds:
        return None
    out = Ds[0]
    for D in Ds[1:]:
        out = out + D
    return scipy.sparse.csr_array(out)


def _mapping(out_index, n_out, n_in):
    """0/1 matrix (n_out × n_in) with ``M[out_index[i], i] = 1``."""
    out_index = np.asarray(out_index, dtype=np.int64).reshape(-1)
    return scipy.sparse.csr_array(
        (np.ones(n_in, dtype=bool), (out_index, np.arange(n_in))), shape=(n_out, n_in))


def _gram(A, B=None):
    """Pattern of ``AᵀB`` (``AᵀA`` without ``B``): pairs of variables meeting in a row."""
    B = A if B is None else B
    return scipy.sparse.csr_array((A.T.astype(np.int32) @ B.astype(np.int32)) != 0)


def _ids(t, offset=0):
    """Element numbers of ``t`` plus ``offset + 1`` (so that 0 means "no source"), as float64:
    exact below 2**53, and accepted by the operations that take floating tensors only."""
    return torch.arange(offset + 1, offset + 1 + t.numel(), dtype=torch.float64).reshape(t.shape)


def _bcast_ids(t, shape):
    """For each element of a tensor of ``shape``, the element of ``t`` broadcast to it."""
    ids = torch.arange(t.numel(), dtype=torch.int64).reshape(t.shape)
    return torch.broadcast_to(ids, shape).reshape(-1).numpy()


def _alias(t):
    """``(root, element numbers of t in root)`` for a view ``t`` of a contiguous tensor, from
    the strides (so that writes through any alias are seen by all), else ``None``."""
    root = t._base
    if root is None or not root.is_contiguous():
        return None
    ids = torch.as_strided(torch.arange(root.numel(), dtype=torch.int64), t.shape, t.stride(),
                           t.storage_offset() - root.storage_offset())
    return root, ids.reshape(-1).numpy()


def _flat(args):
    out = []
    for a in args:
        if isinstance(a, (list, tuple)):
            out.extend(_flat(a))
        else:
            out.append(a)
    return out


class _Tracer(TorchDispatchMode):
    """Propagates dependency matrices through every aten operation."""

    def __init__(self, x, hessian):
        super().__init__()
        self.n = x.numel()
        self.hessian = hessian
        self.deps = WeakIdKeyDictionary()     # tensor -> CSR (numel × n)
        self.resolved = WeakIdKeyDictionary()  # outputs of spgrad Functions already followed
        self.reach = {}                        # id(node) -> (node, reaches x): a memo that
        #                                        keeps its nodes alive, so ids are not reused
        self.x = x
        self.H = []
        self.deps[x] = scipy.sparse.identity(self.n, dtype=bool, format="csr")

    # -- lookups -----------------------------------------------------------------------------
    def dep(self, t):
        """Dependency matrix of tensor ``t`` (``None``: a constant)."""
        alias = _alias(t)
        if alias is not None:
            root, ids = alias
            D = self.dep(root)
            return None if D is None else D[ids]
        if t in self.deps:
            return self.deps[t]
        return self._unseen(t)

    def _is_var(self, t):
        """Whether ``t`` depends on the input (without building its dependency matrix)."""
        root = t._base
        if root is not None and root.is_contiguous():
            return self._is_var(root)
        if t in self.deps:
            return True
        return self._unseen(t) is not None

    def _unseen(self, t):
        """Dependencies of a tensor without a recorded matrix: the output of one of spgrad's
        autograd Functions (which compute outside torch; their inputs are read from the autograd
        node), a constant, or the output of another custom Function that depends on ``x`` (an
        error: its computation is invisible here)."""
        node = t.grad_fn
        if not isinstance(node, torch.autograd.function.BackwardCFunction):
            return None  # a constant, or an aten op's output the mode decided is constant
        name = type(node).__name__
        if name in _SPGRAD_NODES:
            if t in self.resolved:
                return None
            D = self._spgrad_node(name, node, t)
            self.resolved[t] = True
            if D is not None:
                self.deps[t] = D
            return D
        if not self._reaches_input(node):
            return None
        raise UnsupportedOperationError(
            f"the function uses an operation computed outside torch (autograd node {name}), "
            f"whose sparsity the tracer cannot follow" + _HINT)

    def _reaches_input(self, node):
        """Whether the autograd graph below ``node`` contains the traced input."""
        stack, seen = [node], {}
        while stack:
            v = stack.pop()
            if v is None or id(v) in seen:
                continue
            seen[id(v)] = v
            if id(v) in self.reach:
                if self.reach[id(v)][1]:
                    return True
                continue
            if getattr(v, "variable", None) is self.x:
                return True
            stack.extend(f for f, _ in v.next_functions)
        for key, v in seen.items():
            self.reach.setdefault(key, (v, False))
        return False

    def _record(self, t, D):
        if D is not None:
            if D.shape != (t.numel(), self.n):
                raise AssertionError(f"dependency shape {D.shape} for a tensor of "
                                     f"{t.numel()} elements")
            self.deps[t] = scipy.sparse.csr_array(D)

    def _add_h(self, H):
        if self.hessian and H is not None and H.nnz:
            self.H.append(H)

    # -- the dispatch hook -------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func.overloadpacket.__name__
        tensors = [a for a in _flat(list(args) + list(kwargs.values()))
                   if isinstance(a, torch.Tensor)]
        outs = [o for o in _flat([out]) if isinstance(o, torch.Tensor)]
        variable = any(self._is_var(a) for a in tensors)
        writes = [i for i, a in enumerate(func._schema.arguments)
                  if a.alias_info is not None and a.alias_info.is_write]
        if writes and writes != [0]:
            if variable:
                raise UnsupportedOperationError(f"aten.{name} writes into an argument other "
                                                f"than the first ({func})" + _HINT)
            return out
        if not variable:
            # an in-place write of constants into a variable tensor makes those elements
            # constant
            if writes and self._is_var(args[0]):
                self._write(args[0], None)
            return out
        if name == "_local_scalar_dense":
            raise UnsupportedOperationError(
                "the function turns a variable into a Python number (.item(), float(), int() "
                "or a Python condition on a tensor), which the pattern cannot follow" + _HINT)
        if writes:
            base = name.removesuffix("_")
            if name == "copy_":
                D = _rows(self.dep(args[1]), _bcast_ids(args[1], args[0].shape))
                self._write(args[0], D)
            elif base in _MOVEMENT or base in _ACCUMULATE:
                D = self._movement(base, func, args, kwargs, [out], pre_args=True)[0]
                self._write(args[0], D)
            elif base in _CONSTANT:
                self._write(args[0], None)
            elif base in (_LINEAR | _PIECEWISE | _BILINEAR | _NONLINEAR):
                self._write(args[0], self._elementwise(base, args, kwargs, args[0]))
            else:
                raise UnsupportedOperationError(f"no sparsity rule for the in-place operation "
                                                f"aten.{name}" + _HINT)
            return out
        if name in _CONSTANT:
            return out
        if name in _MOVEMENT or name in _ACCUMULATE:
            self._movement(name, func, args, kwargs, outs)
        elif name in _MATMUL:
            self._record(outs[0], self._matmul(name, args, kwargs))
        elif name in _REDUCE_LINEAR | _REDUCE_PIECEWISE | _REDUCE_NONLINEAR and \
                not (name in ("max", "min") and len(args) > 1 and isinstance(args[1],
                                                                             torch.Tensor)):
            self._reduction(name, args, kwargs, outs)
        elif name in _LINEAR | _PIECEWISE | _BILINEAR | _NONLINEAR:
            self._record(outs[0], self._elementwise(name, args, kwargs, outs[0]))
        else:
            raise UnsupportedOperationError(f"no sparsity rule for aten.{name} "
                                            f"({func})" + _HINT)
        return out

    # -- hooks for spgrad.ad._propagation's recorder (which replays the rules' element maps) --
    def _on_movement(self, name, outs, sources, id_outs):
        """A movement rule ran: ``id_outs`` hold, per output element, ``1 +`` the element
        number of its source in the concatenation of ``sources`` (``(tensor, offset)``), 0 for
        none (for an in-place operation, ``outs`` is the tensor written)."""

    def _on_write(self, dst, D):
        """An in-place operation gives the elements of ``dst`` the dependencies ``D``."""

    def _on_elementwise(self, name, operands, out):
        """An elementwise rule ran on ``operands`` (broadcast to ``out``)."""

    def _on_reduction(self, name, x, outs, group_of, n_groups):
        """A reduction rule ran: element ``i`` of ``x`` belongs to group ``group_of[i]``."""

    def _on_sparse_product(self, name, node, out, data, X, out_idx, D):
        """An spgrad sparse product ``out = A @ X`` (``SpMMBackward``) or ``Aᵀ @ X``
        (``SpMMTBackward``) was followed: output element ``out_idx[t]`` adds
        ``data[0][data[1][t]] * X[0][X[1][t]]``; ``D`` is its dependency matrix."""

    def _on_matmul(self, name, left, right, bias, out_idx, out_shape):
        """A matrix product rule ran: output element ``out_idx[t]`` adds the product of
        elements ``left[1][t]`` and ``right[1][t]`` of the two factors (``(tensor, element
        numbers)``; the terms through constant zeros are left out), and ``bias`` broadcast."""

    # -- writes into (views of) tensors ------------------------------------------------------
    def _write(self, dst, D):
        """Element values of ``dst`` now depend as ``D`` says (``None``: constants)."""
        self._on_write(dst, D)
        alias = _alias(dst)
        if alias is not None:
            root, ids = alias
        elif dst._base is not None:
            raise UnsupportedOperationError("an in-place write into a view of a non-contiguous "
                                            "tensor" + _HINT)
        else:
            root, ids = dst, np.arange(dst.numel(), dtype=np.int64)
        old = self.dep(root)
        if old is None and D is None:
            return
        if old is None:
            old = scipy.sparse.csr_array((root.numel(), self.n), dtype=bool)
        sel = np.arange(root.numel(), dtype=np.int64)
        sel[ids] = root.numel() + np.arange(len(ids))
        new = D if D is not None else scipy.sparse.csr_array((len(ids), self.n), dtype=bool)
        stacked = scipy.sparse.vstack([old, new], format="csr")
        self.deps[root] = stacked[sel]

    # -- movement: the element-number trick --------------------------------------------------
    def _movement(self, name, func, args, kwargs, outs, pre_args=False):
        operands, blocks, sources, offset = {}, [], [], 0
        for a in _flat(list(args) + list(kwargs.values())):
            if isinstance(a, torch.Tensor) and a.is_floating_point() or \
                    isinstance(a, torch.Tensor) and a.is_complex():
                if id(a) in operands:
                    continue
                D = self.dep(a)
                operands[id(a)] = _ids(a, offset) if D is not None else \
                    torch.zeros(a.shape, dtype=torch.float64)
                if D is not None:
                    blocks.append(D)
                    sources.append((a, offset))
                    offset += a.numel()
        swap = [operands.get(id(a), a) if isinstance(a, torch.Tensor) else a for a in args]
        swap = [[operands.get(id(b), b) if isinstance(b, torch.Tensor) else b for b in a]
                if isinstance(a, (list, tuple)) else a for a in swap]
        kw = {k: operands.get(id(v), v) if isinstance(v, torch.Tensor) else v
              for k, v in kwargs.items()}
        i = _FILL_ARG.get(name)
        if i is not None and len(swap) > i:
            fill = args[i]
            if isinstance(fill, torch.Tensor):
                if self._is_var(fill):
                    raise UnsupportedOperationError(f"aten.{name} with a variable fill value"
                                                    + _HINT)
                swap[i] = torch.zeros((), dtype=torch.float64)
            else:
                swap[i] = 0
        if name == "as_strided":
            return self._as_strided(args, outs)
        if name in _ACCUMULATE or (name == "index_put" and _accumulates(args, kwargs)):
            return self._accumulate(name, args, kwargs, outs, pre_args)
        id_out = func(*swap, **kw)
        id_outs = [o for o in _flat([id_out]) if isinstance(o, torch.Tensor)]
        D_all = scipy.sparse.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]
        results = []
        for o, ido in zip(outs, id_outs):
            D = _rows(D_all, ido.reshape(-1).to(torch.int64).numpy() - 1)
            results.append(D)
            if pre_args:
                continue
            self._record(o, D)
        self._on_movement(name, outs, sources, id_outs)
        return results

    def _accumulate(self, name, args, kwargs, outs, pre_args):
        """``index_put(accumulate=True)``, ``index_add``, ``scatter_add``, ``scatter_reduce``:
        each element of the result depends on its old value and on every source element
        added into it."""
        self_t = args[0]
        targets = torch.arange(self_t.numel(), dtype=torch.int64).reshape(self_t.shape)
        if name == "index_put":
            indices, src = args[1], args[2]
            tgt = targets[tuple(indices)]
        elif name == "index_add":
            dim, index, src = args[1], args[2], args[3]
            tgt = targets.index_select(dim, index)
        else:  # scatter_add / scatter_reduce: src positions are those of index
            dim, index, src = args[1], args[2], args[3]
            tgt = targets.gather(dim, index)
            src_ids = torch.arange(src.numel(), dtype=torch.int64).reshape(src.shape)
            src_ids = src_ids[tuple(slice(0, s) for s in index.shape)]
        if name != "scatter_add" and name != "scatter_reduce":
            src_ids = torch.broadcast_to(
                torch.arange(src.numel(), dtype=torch.int64).reshape(src.shape), tgt.shape)
        M = _mapping_pairs(tgt.reshape(-1).numpy(), src_ids.reshape(-1).numpy(),
                           self_t.numel(), src.numel())
        Ds = self.dep(src) if isinstance(src, torch.Tensor) else None
        parts = [self.dep(self_t)]
        if Ds is not None:
            parts.append(scipy.sparse.csr_array((M @ Ds.astype(np.int32)) != 0))
        D = _union(*parts)
        reduce = args[4] if name == "scatter_reduce" and len(args) > 4 else None
        if self.hessian and reduce == "prod" and D is not None:
            self._add_h(_gram(D))
        if not pre_args:
            self._record(outs[0], D)
        return [D]

    def _as_strided(self, args, outs):
        src, size, stride = args[0], args[1], args[2]
        offset = args[3] if len(args) > 3 and args[3] is not None else src.storage_offset()
        root = src._base if src._base is not None else src
        if not root.is_contiguous():
            raise UnsupportedOperationError("aten.as_strided of a non-contiguous tensor" + _HINT)
        ids = torch.as_strided(torch.arange(root.numel(), dtype=torch.int64), size, stride,
                               offset - root.storage_offset())
        D = _rows(self.dep(root), ids.reshape(-1).numpy())
        self._record(outs[0], D)
        return [D]

    # -- elementwise -------------------------------------------------------------------------
    def _elementwise(self, name, args, kwargs, out):
        shape = out.shape
        operands = [a for a in list(args) + list(kwargs.values())
                    if isinstance(a, torch.Tensor) and (a.is_floating_point() or a.is_complex())]
        if name == "where":  # the condition is boolean: only the two branches count
            operands = [a for a in args[1:] if isinstance(a, torch.Tensor)]
        rows = []
        for a in operands:
            D = self.dep(a)
            rows.append(None if D is None else _rows(D, _bcast_ids(a, shape)))
        if name == "mul" and len(operands) == 2 and any(r is not None for r in rows):
            # a factor that is a constant zero (a constant tensor, or an element without
            # dependencies, such as padding) removes the other factor's dependency there
            for i in (0, 1):
                other = rows[1 - i]
                if other is None:
                    continue
                value = torch.broadcast_to(operands[i].detach(), shape).reshape(-1).numpy()
                zero = value == 0
                if rows[i] is not None:
                    zero &= np.diff(rows[i].indptr) == 0
                if zero.any():
                    keep = scipy.sparse.diags_array((~zero).astype(np.int8), dtype=np.int8)
                    rows[1 - i] = scipy.sparse.csr_array((keep @ other.astype(np.int8)) != 0)
        D_out = _union(*rows)
        if self.hessian and D_out is not None:
            self._elementwise_hessian(name, args, operands, rows, D_out)
        self._on_elementwise(name, operands, out)
        return D_out

    def _elementwise_hessian(self, name, args, operands, rows, D_out):
        if name in _LINEAR or name in _PIECEWISE:
            return
        if name == "mul" or name == "addcmul":
            factors = rows if name == "mul" else rows[1:3]
            if len(factors) == 2 and factors[0] is not None and factors[1] is not None:
                G = _gram(factors[0], factors[1])
                self._add_h(G + G.T)
            return
        if name in ("div", "true_divide"):
            num, den = rows[0], (rows[1] if len(rows) > 1 else None)
            if den is None:
                return  # division by a constant is linear
            terms = [_gram(den)]
            if num is not None:
                G = _gram(num, den)
                terms += [G, G.T]
            self._add_h(_union(*terms))
            return
        if name == "pow" and len(args) > 1 and not isinstance(args[1], torch.Tensor) \
                and args[1] in (0, 1):
            return
        self._add_h(_gram(D_out))

    # -- reductions --------------------------------------------------------------------------
    def _reduction(self, name, args, kwargs, outs):
        x = args[0]
        D = self.dep(x)
        if name == "trace":
            idx = torch.arange(min(x.shape), dtype=torch.int64)
            flat = (idx * x.shape[1] + idx).numpy()
            D_out = _rows(D, flat).sum(axis=0, keepdims=True) != 0
            self._record(outs[0], scipy.sparse.csr_array(D_out))
            return
        dims = self._dims(name, args, kwargs, x.ndim)
        keep_shape = [1 if d in dims else s for d, s in enumerate(x.shape)]
        n_groups = int(np.prod(keep_shape)) if keep_shape else 1
        group = torch.arange(n_groups, dtype=torch.int64).reshape(keep_shape)
        group_of = torch.broadcast_to(group, x.shape).reshape(-1).numpy() if x.ndim else \
            np.zeros(1, dtype=np.int64)
        R = _mapping(group_of, n_groups, x.numel())
        D_group = scipy.sparse.csr_array((R.astype(np.int32) @ D.astype(np.int32)) != 0)
        if self.hessian and name in _REDUCE_NONLINEAR:
            self._add_h(_gram(D_group))
        self._on_reduction(name, x, outs, group_of, n_groups)
        for o in outs:
            if not (o.is_floating_point() or o.is_complex()):
                continue  # indices (argmax of max.dim, sort's permutation): constants
            if o.numel() == n_groups:
                self._record(o, D_group)
            else:  # along a dimension (softmax, cumsum, sort, topk): each element its group
                ids = torch.broadcast_to(group, o.shape).reshape(-1).numpy()
                self._record(o, _rows(D_group, ids))

    @staticmethod
    def _dims(name, args, kwargs, ndim):
        along = {"softmax", "_softmax", "log_softmax", "_log_softmax", "cumsum", "cumprod",
                 "cummax", "cummin", "logcumsumexp", "sort", "topk", "kthvalue", "median",
                 "nanmedian", "msort"}
        dim = kwargs.get("dim")
        if dim is None and len(args) > 1 and not isinstance(args[1], torch.Tensor):
            dim = args[1]
        if name == "topk":
            dim = kwargs.get("dim", args[2] if len(args) > 2 else -1)
        if name in ("sort", "msort") and dim is None:
            dim = -1
        if name in ("kthvalue",):
            dim = kwargs.get("dim", args[2] if len(args) > 2 else -1)
        if name in ("linalg_vector_norm", "norm"):
            dim = kwargs.get("dim", args[2] if len(args) > 2 else None)
        if name in ("var", "std", "var_mean", "std_mean"):
            dim = kwargs.get("dim", args[1] if len(args) > 1 and isinstance(args[1],
                                                                               (list, tuple, int))
                             else None)
        if isinstance(dim, bool):
            dim = None
        if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
            if name in along and ndim:
                return {ndim - 1}
            return set(range(ndim))
        dims = dim if isinstance(dim, (list, tuple)) else [dim]
        return {d % ndim for d in dims} if ndim else set()

    # -- matrix products ---------------------------------------------------------------------
    def _matmul(self, name, args, kwargs):
        a, b = args[0], args[1]
        bias = None
        if name in ("addmm", "addmv", "baddbmm", "addbmm", "addr"):
            bias, a, b = args[0], args[1], args[2]
        if name in ("dot", "vdot"):
            a, b = a.reshape(1, 1, -1), b.reshape(1, -1, 1)
            out_shape = ()
        elif name in ("mv", "addmv"):
            out_shape = (a.shape[0],)
            a, b = a.reshape(1, *a.shape), b.reshape(1, -1, 1)
        elif name in ("mm", "addmm"):
            out_shape = (a.shape[0], b.shape[1])
            a, b = a.reshape(1, *a.shape), b.reshape(1, *b.shape)
        elif name in ("bmm", "baddbmm"):
            out_shape = (a.shape[0], a.shape[1], b.shape[2])
        elif name in ("outer", "ger", "addr"):
            out_shape = (a.shape[0], b.shape[0])
            a, b = a.reshape(1, -1, 1), b.reshape(1, 1, -1)
        else:
            raise UnsupportedOperationError(f"no sparsity rule for aten.{name}" + _HINT)
        Da, Db = self.dep(args[1] if bias is not None else args[0]), \
            self.dep(args[2] if bias is not None else args[1])
        batch, p, q = a.shape
        r = b.shape[2]
        # the terms a[s, i, k] b[s, k, j] of out[s, i, j], skipping constant zero factors
        if Da is None:
            s_, i_, k_ = np.nonzero(a.detach().numpy())
            j_ = np.arange(r)
            s_, i_, k_, j_ = (np.repeat(s_, r), np.repeat(i_, r), np.repeat(k_, r),
                              np.tile(j_, len(s_)))
        elif Db is None:
            s_, k_, j_ = np.nonzero(b.detach().numpy())
            s_, k_, j_, i_ = (np.repeat(s_, p), np.repeat(k_, p), np.repeat(j_, p),
                              np.tile(np.arange(p), len(s_)))
        else:
            s_, i_, j_, k_ = (v.reshape(-1) for v in np.meshgrid(
                np.arange(batch), np.arange(p), np.arange(r), np.arange(q), indexing="ij"))
        out_idx = (s_ * p + i_) * r + j_
        a_idx = (s_ * p + i_) * q + k_
        b_idx = (s_ * q + k_) * r + j_
        n_out = batch * p * r
        parts = []
        if Da is not None:
            parts.append(_mapping_pairs(out_idx, a_idx, n_out, batch * p * q) @ Da)
        if Db is not None:
            parts.append(_mapping_pairs(out_idx, b_idx, n_out, batch * q * r) @ Db)
        if bias is not None:
            Dc = self.dep(bias)
            if Dc is not None:
                parts.append(_rows(Dc, _bcast_ids(bias, out_shape)))
        D = _union(*[scipy.sparse.csr_array(P != 0) for P in parts])
        if self.hessian and Da is not None and Db is not None:
            A_terms = _rows(Da, a_idx)
            B_terms = _rows(Db, b_idx)
            G = _gram(A_terms, B_terms)
            self._add_h(G + G.T)
        left, right = (args[1], args[2]) if bias is not None else (args[0], args[1])
        self._on_matmul(name, (left, a_idx), (right, b_idx), bias, out_idx, out_shape)
        return D

    # -- spgrad's kernels --------------------------------------------------------------------
    def _spgrad_node(self, name, node, out):
        saved = node.saved_tensors
        if name in ("SpMMBackward", "SpMMTBackward"):
            data, X = saved
            p = node.pattern
            rows_of = np.repeat(np.arange(p.shape[0], dtype=np.int64), np.diff(p.indptr))
            cols_of = p.indices.astype(np.int64)
            if name == "SpMMTBackward":
                rows_of, cols_of = cols_of, rows_of
            k = 1 if X.ndim == 1 else X.shape[1]
            n_out = out.numel()
            Dd, Dx = self.dep(data), self.dep(X)
            entry = np.arange(p.nnz, dtype=np.int64)
            nz = np.ones(p.nnz, dtype=bool) if Dd is not None else \
                data.detach().numpy() != 0
            c = np.arange(k, dtype=np.int64)
            o_idx = (rows_of[nz][:, None] * k + c).reshape(-1)
            x_idx = (cols_of[nz][:, None] * k + c).reshape(-1)
            e_idx = np.repeat(entry[nz], k)
            parts = []
            if Dx is not None:
                parts.append(_mapping_pairs(o_idx, x_idx, n_out, X.numel()) @ Dx)
            if Dd is not None:
                parts.append(_mapping_pairs(o_idx, e_idx, n_out, p.nnz) @ Dd)
                if Dx is not None and self.hessian:
                    G = _gram(_rows(Dd, e_idx), _rows(Dx, x_idx))
                    self._add_h(G + G.T)
            D = _union(*[scipy.sparse.csr_array(P != 0) for P in parts])
            self._on_sparse_product(name, node, out, (data, e_idx), (X, x_idx), o_idx, D)
            return D
        if name == "SDDMMBackward":
            G_, X = saved
            p = node.pattern
            rows_of = np.repeat(np.arange(p.shape[0], dtype=np.int64), np.diff(p.indptr))
            cols_of = p.indices.astype(np.int64)
            k = 1 if G_.ndim == 1 else G_.shape[1]
            c = np.arange(k, dtype=np.int64)
            e_idx = np.repeat(np.arange(p.nnz, dtype=np.int64), k)
            g_idx = (rows_of[:, None] * k + c).reshape(-1)
            x_idx = (cols_of[:, None] * k + c).reshape(-1)
            return self._pairs(out.numel(), e_idx, (G_, g_idx), (X, x_idx))
        if name == "SpGEMMBackward":
            # c_p = sum_k A[i, k] B[k, j]: a masked dot of A's rows with the rows of B^T
            a_, b_ = saved
            pc, pa, pb = node.patterns
            pbt, perm = pb.transpose()
            e_idx, a_idx, bt_idx = _matching_entries(pc, pa, pbt)
            b_idx = perm.numpy()[bt_idx]
            return self._pairs(out.numel(), e_idx, (a_, a_idx), (b_, b_idx))
        # MaskedDot: v_p = sum_t L[i, t] R[j, t] over the t in both rows
        l_, r_ = saved
        mask, pl, pr = node.patterns
        e_idx, l_idx, r_idx = _matching_entries(mask, pl, pr)
        return self._pairs(out.numel(), e_idx, (l_, l_idx), (r_, r_idx))

    def _pairs(self, n_out, e_idx, left, right):
        """Output entries ``e_idx[t]`` depend on ``left[idx[t]]`` and ``right[idx[t]]``, a
        product of the two (bilinear)."""
        (L, l_idx), (R, r_idx) = left, right
        Dl, Dr = self.dep(L), self.dep(R)
        parts = []
        if Dl is not None:
            parts.append(_mapping_pairs(e_idx, l_idx, n_out, L.numel()) @ Dl)
        if Dr is not None:
            parts.append(_mapping_pairs(e_idx, r_idx, n_out, R.numel()) @ Dr)
        if Dl is not None and Dr is not None and self.hessian:
            G = _gram(_rows(Dl, l_idx), _rows(Dr, r_idx))
            self._add_h(G + G.T)
        return _union(*[scipy.sparse.csr_array(P != 0) for P in parts])


def _accumulates(args, kwargs):
    return bool(kwargs.get("accumulate", args[3] if len(args) > 3 else False))


def _mapping_pairs(out_idx, in_idx, n_out, n_in):
    """0/1 matrix (n_out × n_in) with ones at ``(out_idx[t], in_idx[t])``."""
    return scipy.sparse.csr_array(
        (np.ones(len(out_idx), dtype=np.int32), (out_idx, in_idx)), shape=(n_out, n_in))


def _matching_entries(mask, pl, pr):
    """For every entry ``p = (i, j)`` of ``mask`` and every ``t`` stored in both row ``i`` of
    ``pl`` and row ``j`` of ``pr``: ``(p, position of (i, t) in pl, position of (j, t) in
    pr)``."""
    m_rows = np.repeat(np.arange(mask.shape[0], dtype=np.int64), np.diff(mask.indptr))
    m_cols = mask.indices.astype(np.int64)
    counts = np.diff(pl.indptr)[m_rows]
    e_idx = np.repeat(np.arange(mask.nnz, dtype=np.int64), counts)
    starts = np.repeat(pl.indptr[m_rows].astype(np.int64), counts)
    within = np.arange(len(e_idx), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts,
                                                               counts)
    l_idx = starts + within
    t = pl.indices[l_idx].astype(np.int64)
    j = m_cols[e_idx]
    ncols = max(pl.shape[1], 1)
    pr_rows = np.repeat(np.arange(pr.shape[0], dtype=np.int64), np.diff(pr.indptr))
    keys = pr_rows * ncols + pr.indices.astype(np.int64)
    order = np.argsort(keys, kind="stable")
    want = j * ncols + t
    pos = np.searchsorted(keys[order], want)
    pos = np.minimum(pos, max(len(keys) - 1, 0))
    hit = (keys[order][pos] == want) if len(keys) else np.zeros(len(want), dtype=bool)
    return e_idx[hit], l_idx[hit], order[pos[hit]]


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------

def _trace(f, x, hessian):
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    from ._evaluate import _example_point

    x = _example_point(x)[0].detach().clone().requires_grad_()
    tracer = _Tracer(x, hessian)
    with torch.enable_grad(), tracer:
        y = f(x)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"f must return a torch.Tensor, got {type(y).__name__}")
    D = tracer.dep(y)
    return x, y, D, tracer


def _as_pattern(S):
    from .._csr import csr_array
    from ._coloring import canonical_pattern

    return canonical_pattern(csr_array(scipy.sparse.csr_array(S, dtype=bool)))


def jacobian_pattern(f, x):
    """The sparsity pattern of the Jacobian of ``f``, found by tracing ``f`` once at ``x``.

    Parameters
    ----------
    f : callable
        Maps a 1-D torch tensor of length ``n`` to a 1-D tensor of length ``m``, with torch
        operations and spgrad's sparse operations.
    x : torch.Tensor or array_like
        An example point (1-D, real floating); its values are used to run ``f`` once.

    Returns
    -------
    csr_array
        Boolean, shape ``(m, n)``, canonical: a superset of the structural nonzeros of the
        Jacobian at every point where ``f`` takes the traced path.

    Raises
    ------
    UnsupportedOperationError
        If ``f`` uses an operation without a rule (named in the message).

    Examples
    --------
    >>> import torch
    >>> from spgrad.ad import jacobian_pattern
    >>> P = jacobian_pattern(lambda x: x[1:] * torch.sin(x[:-1]), torch.ones(4))
    >>> P.toarray().astype(int)
    array([[1, 1, 0, 0],
           [0, 1, 1, 0],
           [0, 0, 1, 1]])
    """
    x, y, D, _ = _trace(f, x, hessian=False)
    if y.ndim != 1:
        raise ValueError(f"f must return a 1-D tensor for a Jacobian, got shape "
                         f"{tuple(y.shape)}")
    if D is None:
        D = scipy.sparse.csr_array((y.numel(), x.numel()), dtype=bool)
    return _as_pattern(D)


def hessian_pattern(f, x):
    """The sparsity pattern of the Hessian of a scalar ``f``, found by tracing ``f`` once.

    Parameters
    ----------
    f : callable
        Maps a 1-D torch tensor of length ``n`` to a scalar (0-D) tensor.
    x : torch.Tensor or array_like
        An example point (1-D, real floating).

    Returns
    -------
    csr_array
        Boolean, ``(n, n)``, structurally symmetric, canonical: a superset of the Hessian's
        structural nonzeros (pairs of variables that meet in a nonlinear operation).

    Raises
    ------
    UnsupportedOperationError
        If ``f`` uses an operation without a rule (named in the message).

    Examples
    --------
    >>> import torch
    >>> from spgrad.ad import hessian_pattern
    >>> P = hessian_pattern(lambda x: x[0] * (x ** 2).sum() + (x ** 4).sum(), torch.ones(4))
    >>> P.toarray().astype(int)
    array([[1, 1, 1, 1],
           [1, 1, 0, 0],
           [1, 0, 1, 0],
           [1, 0, 0, 1]])
    """
    x, y, _, tracer = _trace(f, x, hessian=True)
    if y.numel() != 1 or y.ndim > 1:
        raise ValueError(f"f must return a scalar for a Hessian, got shape {tuple(y.shape)}")
    n = x.numel()
    H = _union(*tracer.H) if tracer.H else scipy.sparse.csr_array((n, n), dtype=bool)
    H = scipy.sparse.csr_array(H + H.T)
    return _as_pattern(H)
