"""Compressed evaluation of sparse Jacobians and Hessians, and their decompression.

A prepared object holds everything that does not depend on the point ``x``: the pattern, the
colouring, the seed matrix and the decompression maps. Evaluating it at ``x`` costs one JVP per
column colour (forward mode), one VJP per row colour (reverse mode) or one Hessian-vector
product per star colour, batched when the function allows it (forward mode and Hessians with
``torch.func.vmap``, reverse mode as one forward pass and one backward pass with batched
gradients; spgrad's products have batching rules, and a function calling a solver without one
falls back to a loop of products that reuses one forward pass), and a gather of the compressed
values into the CSR's values.

Jacobians have a second method, *propagation* (``_propagation``): the trace that detects the
pattern is also recorded, and evaluating replays it while one kernel per operation computes the
stored entries of each intermediate Jacobian. It needs no product per colour and is the default
wherever the recorder has a rule for every operation; the compressed products remain for the
rest, and for points that require grad (their values must be torch operations).
"""

import numpy as np
import scipy.sparse

from .. import _backend
from . import _coloring

_KINDS = {"jacobian", "hessian"}
_JACOBIAN_MODES = ("auto", "forward", "reverse")
_METHODS = ("auto", "propagation", "compressed")


def _torch():
    return _backend.torch_module()


def _example_point(x):
    """``x`` as a 1-D real floating torch tensor, and whether it came as NumPy."""
    torch = _torch()
    from_numpy = not _backend.is_tensor(x)
    if from_numpy:
        arr = np.asarray(x)
        if arr.dtype.kind in "biu":
            arr = arr.astype(np.float64)
        if arr.dtype.kind != "f":
            raise TypeError(f"x must be a real floating 1-D array, got dtype {arr.dtype}")
        x = torch.from_numpy(np.array(arr, copy=True))
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D (the function's variables), got shape {tuple(x.shape)}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"x must be a real floating tensor, got dtype {x.dtype}")
    return x, from_numpy


def _user_pattern(pattern, shape):
    """The canonical boolean CSR of a pattern the user supplied, checked against ``shape``."""
    p = _coloring.canonical_pattern(pattern)
    if p.shape != shape:
        raise ValueError(f"pattern has shape {p.shape}, expected {shape} for this function")
    return p


def _seed(colors, ncolors, dtype):
    """The transposed seed matrix ``Sᵀ`` (``ncolors`` × ``len(colors)``), ``S[j, colors[j]] =
    1``."""
    torch = _torch()
    St = torch.zeros(ncolors, len(colors), dtype=dtype)
    if len(colors):
        St[torch.from_numpy(np.asarray(colors, dtype=np.int64)), torch.arange(len(colors))] = 1
    return St


class _Prepared:
    """What the Jacobian and Hessian objects share: pattern, colours, maps, evaluation."""

    kind = None

    def __init__(self, f, pattern, colors, *, dtype, mode):
        self._f = f
        self.pattern = pattern
        self._dtype = dtype
        self._batched = None  # unknown until the first evaluation tries batching
        self._seeds = {}
        self._flat = None
        self._colouring = None
        if callable(colors):  # a colouring computed when first needed: () -> (mode, colors)
            self._colouring = colors
        else:
            self._set_colors(mode, colors)

    def _set_colors(self, mode, colors):
        self._colors = np.asarray(colors, dtype=np.int64)
        self._ncolors = int(self._colors.max()) + 1 if self._colors.size else 0
        self._mode = mode
        self._set_maps()

    def _coloured(self):
        if self._colouring is not None:
            colouring, self._colouring = self._colouring, None
            self._set_colors(*colouring())
        return self

    @property
    def colors(self):
        """The colouring (of the columns in forward mode, the rows in reverse mode, the
        variables for Hessians)."""
        return self._coloured()._colors

    @property
    def ncolors(self):
        """Number of colours: the compressed products an evaluation by them costs."""
        return self._coloured()._ncolors

    @property
    def mode(self):
        """``"forward"`` or ``"reverse"`` (Jacobians), ``"star"`` (Hessians): how the
        compressed products are taken."""
        return self._coloured()._mode

    def _seed(self, dtype):
        """The transposed seed matrix ``Sᵀ`` (colour × variable) in ``dtype``, made once per
        dtype: one contiguous row per product."""
        if dtype not in self._seeds:
            self._seeds[dtype] = _seed(self.colors, self.ncolors, dtype)
        return self._seeds[dtype]

    # -- shape of the result -----------------------------------------------------------------
    @property
    def shape(self):
        """Shape of the sparse result."""
        return self.pattern.shape

    @property
    def nnz(self):
        """Number of stored entries of the result (the detected structural nonzeros)."""
        return self.pattern.nnz

    def __repr__(self):
        return (f"<{type(self).__name__} of shape {self.shape} with {self.nnz} stored entries, "
                f"{self.ncolors} colours, mode={self.mode!r}>")

    # -- evaluation (each subclass's _compressed(x) computes the compressed matrix) ----------
    def _point(self, x):
        x, from_numpy = _example_point(x)
        n = self.shape[1]
        if x.shape[0] != n:
            raise ValueError(f"x has {x.shape[0]} entries, this {self.kind} was prepared "
                             f"for {n}")
        return x, from_numpy

    def values(self, x):
        """The stored values of the result at ``x`` (a torch tensor in the pattern's order)."""
        return self._gather(self._point(x)[0])

    def _gather(self, x):
        """The stored values at a checked point: the compressed products, gathered."""
        torch = _torch()
        B = self._compressed(x)
        if self._flat is None:  # positions in the flattened compressed matrix, made once
            if self.mode == "reverse":  # B = Sᵀ J, colour × column
                flat = self._rows * self.shape[1] + self._cols
            else:  # B = (J S)ᵀ or (H S)ᵀ, colour × row
                flat = self._cols * self.shape[0] + self._rows
            self._flat = torch.from_numpy(flat)
        return B.reshape(-1).index_select(0, self._flat)

    def __call__(self, x):
        """The sparse result at ``x`` as an ``spgrad.csr_array``.

        With NumPy ``x`` the values are a NumPy array (plain mode); with a torch tensor they are
        a tensor, recorded by autograd when ``x`` requires grad.
        """
        from .._csr import csr_array

        x, from_numpy = self._point(x)
        vals = self._gather(x)
        if from_numpy or not x.requires_grad:
            vals = vals.detach()
        if from_numpy:
            vals = vals.numpy()
        p = self.pattern  # canonical by construction: no validation pass per evaluation
        return csr_array._from_arrays(vals, p.indices, p.indptr, p.shape, canonical=True)

    def scipy(self, x):
        """The result at ``x`` as a ``scipy.sparse.csr_array`` of NumPy values, for SciPy
        callbacks (``jac=``, ``hess=``); ``x`` may be a NumPy array."""
        return self(np.asarray(_backend.to_numpy(x) if _backend.is_tensor(x) else x)).to_scipy()

    def _batched_or_loop(self, batched, loop, shape):
        """Run the batched products, falling back (and remembering it) to the loop when
        the function cannot be batched (e.g. it calls compiled kernels, as spgrad's ops do)."""
        if self._batched is not False:
            try:
                B = batched()
            except (RuntimeError, NotImplementedError, ValueError, TypeError):
                if self._batched:
                    raise  # it batched before, so this is the function's own error
                self._batched = False
            else:
                self._batched = True
                if B is not None and tuple(B.shape) != shape:
                    raise ValueError(f"the function's output has the wrong shape: compressed "
                                     f"{self.kind} has shape {tuple(B.shape)}, expected {shape}")
                return B
        return loop()

    # -- persistence -------------------------------------------------------------------------
    def save(self, file):
        """Save the pattern and colouring to an ``.npz`` file (the function is not saved);
        :func:`load` rebuilds the object from the file and the function."""
        p = self.pattern
        np.savez(file, kind=np.array(self.kind), mode=np.array(self.mode),
                 shape=np.array(p.shape, dtype=np.int64), indptr=p.indptr, indices=p.indices,
                 colors=self.colors, dtype=np.array(str(self._dtype).removeprefix("torch.")),
                 method=np.array(getattr(self, "_method", "auto")))

    def _check_output(self, y, expected):
        torch = _torch()
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"the function must return a torch.Tensor, got {type(y).__name__}")
        if tuple(y.shape) != expected:
            raise ValueError(f"the function returned shape {tuple(y.shape)}, expected "
                             f"{expected} (the shape this {self.kind} was prepared for)")


class SparseJacobian(_Prepared):
    """Sparse Jacobian of ``f``, prepared once and evaluated at many points.

    Built by :func:`sparse_jacobian`; see there. Attributes: ``pattern`` (boolean
    ``csr_array``), ``colors`` (one per column in forward mode, per row in reverse mode),
    ``ncolors``, ``mode`` (``"forward"`` or ``"reverse"``, the compressed products'),
    ``method`` (``"propagation"`` or ``"compressed"``: how ``J(x)`` is evaluated at points that
    do not require grad; ``"auto"`` until a loaded object's first evaluation decides),
    ``shape``, ``nnz``.
    """

    kind = "jacobian"

    def __init__(self, f, pattern, colors, *, dtype, mode, method="auto", program=None,
                 reason=None):
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
        super().__init__(f, pattern, colors, dtype=dtype, mode=mode)
        self._method = method
        self._program = None
        self._order = None
        self._tried = method == "compressed"
        if program is not None or reason is not None:
            self._attach(program, reason)

    @property
    def method(self):
        """How ``J(x)`` is evaluated where ``x`` does not require grad: ``"propagation"`` or
        ``"compressed"`` (``"auto"`` until the first evaluation of a loaded object)."""
        if self._program is not None:
            return "propagation"
        return "compressed" if self._tried else self._method

    def __repr__(self):
        return super().__repr__()[:-1] + f", method={self.method!r}>"

    def _attach(self, program, reason):
        """Use ``program`` (a recorded trace) from now on, if it fits the pattern; else keep the
        compressed products (or fail, for ``method="propagation"``)."""
        self._tried = True
        if program is not None and program.D_y is not None:
            P, D = self.pattern, program.D_y
            if D.shape != P.shape:
                program, reason = None, (f"the traced output has {D.shape[0]} entries, "
                                         f"expected {P.shape[0]}")
            else:
                rows = np.repeat(np.arange(D.shape[0], dtype=np.int64), np.diff(D.indptr))
                keys = rows * P.shape[1] + D.indices.astype(np.int64)
                p_rows = np.repeat(np.arange(P.shape[0], dtype=np.int64), np.diff(P.indptr))
                p_keys = p_rows * P.shape[1] + P.indices.astype(np.int64)
                pos = np.minimum(np.searchsorted(p_keys, keys), max(len(p_keys) - 1, 0))
                inside = p_keys[pos] == keys if len(p_keys) else np.zeros(len(keys), bool)
                # entries outside a given pattern are zero by the pattern's claim: dropped
                same = len(keys) == len(p_keys) and np.array_equal(pos, np.arange(len(pos)))
                self._order = None if same and inside.all() else \
                    (pos[inside], np.nonzero(inside)[0])
        if program is None and self._method == "propagation":
            raise ValueError(f"method='propagation' cannot evaluate this function: {reason}; "
                             f"use method='compressed' (or 'auto')")
        self._program = program

    def _gather(self, x):
        if not x.requires_grad and x.dtype == self._dtype:
            if not self._tried:  # a loaded object, or a given pattern: record f once
                from ._propagation import record_jacobian
                from ._tracer import UnsupportedOperationError

                try:
                    _, _, program, reason = record_jacobian(self._f, x)
                except (UnsupportedOperationError, TypeError, ValueError) as e:
                    program, reason = None, str(e)
                self._attach(program, reason)
            if self._program is not None:
                return _backend.torch_module().from_numpy(self._propagate(x))
        return super()._gather(x)

    def _propagate(self, x):
        vals = self._program.values(x)
        if self._order is None:
            return vals
        out = np.zeros(self.nnz, dtype=vals.dtype)
        pos, sel = self._order
        out[pos] = vals[sel]
        return out

    def _set_maps(self):
        if self.mode == "forward":
            self._rows, self._cols = _coloring.column_decompression(self.pattern, self.colors)
        else:
            self._rows, self._cols = _coloring.row_decompression(self.pattern, self.colors)

    def _compressed(self, x):
        """``(J S)ᵀ`` (c × m, forward mode) or ``Sᵀ J`` (c × n, reverse mode) at ``x``: one
        row per colour."""
        torch = _torch()
        m, n = self.shape
        St = self._seed(x.dtype)
        c = self.ncolors
        if self.mode == "forward":
            if c == 0:
                return x.new_zeros(0, m)

            def jvp(s):
                return torch.func.jvp(self._f, (x,), (s,))[1]

            def loop():  # dual numbers, which work through every spgrad Function
                fwad = torch.autograd.forward_ad
                rows = []
                with fwad.dual_level():
                    for k in range(c):
                        y = self._f(fwad.make_dual(x, St[k]))
                        self._check_output(y, (m,))
                        tangent = fwad.unpack_dual(y).tangent
                        rows.append(tangent if tangent is not None else x.new_zeros(m))
                return torch.stack(rows)

            return self._batched_or_loop(lambda: torch.func.vmap(jvp)(St), loop, (c, m))

        if c == 0:
            return x.new_zeros(0, n)

        def batched():  # one forward pass, all colours in one batched backward pass
            xg = x if x.requires_grad else x.detach().requires_grad_()
            with torch.enable_grad():
                y = self._f(xg)
            self._check_output(y, (m,))
            if not y.requires_grad:
                return x.new_zeros(c, n)
            (g,) = torch.autograd.grad(y, xg, St, create_graph=x.requires_grad,
                                       allow_unused=True, is_grads_batched=True)
            return g if g is not None else x.new_zeros(c, n)

        def loop():  # one forward pass, one vector-Jacobian product per colour
            xg = x if x.requires_grad else x.detach().requires_grad_()
            with torch.enable_grad():
                y = self._f(xg)
            self._check_output(y, (m,))
            if not y.requires_grad:
                return x.new_zeros(c, n)
            rows = []
            for k in range(c):
                (g,) = torch.autograd.grad(y, xg, St[k], retain_graph=True,
                                           create_graph=x.requires_grad, allow_unused=True)
                rows.append(g if g is not None else x.new_zeros(n))
            return torch.stack(rows)

        return self._batched_or_loop(batched, loop, (c, n))


class SparseHessian(_Prepared):
    """Sparse Hessian of a scalar ``f``, prepared once and evaluated at many points.

    Built by :func:`sparse_hessian`; see there. Attributes: ``pattern`` (symmetric boolean
    ``csr_array``), ``colors`` (a star colouring of the variables), ``ncolors``, ``shape``,
    ``nnz``.
    """

    kind = "hessian"

    def _set_maps(self):
        self._rows, self._cols = _coloring.star_decompression(self.pattern, self.colors)

    def _compressed(self, x):
        """``(H S)ᵀ`` (c × n) at ``x``: one Hessian-vector product per colour."""
        torch = _torch()
        n = self.shape[0]
        c = self.ncolors
        if c == 0:
            return x.new_zeros(0, n)
        St = self._seed(x.dtype)

        def scalar(v):
            out = self._f(v)
            self._check_output(out, ())
            return out

        def batched():  # forward over reverse, all colours in one vmapped call
            def hvp(s):
                return torch.func.jvp(torch.func.grad(scalar), (x,), (s,))[1]
            return torch.func.vmap(hvp)(St)

        def loop():  # reverse over reverse: one gradient graph, one product per colour
            xg = x if x.requires_grad else x.detach().requires_grad_()
            with torch.enable_grad():
                out = scalar(xg)
                g = torch.autograd.grad(out, xg, create_graph=True, allow_unused=True)[0] \
                    if out.requires_grad else None
            if g is None or not g.requires_grad:
                return x.new_zeros(c, n)
            rows = []
            for k in range(c):
                (h,) = torch.autograd.grad(g, xg, St[k], retain_graph=True,
                                           create_graph=x.requires_grad, allow_unused=True)
                rows.append(h if h is not None else x.new_zeros(n))
            return torch.stack(rows)

        return self._batched_or_loop(batched, loop, (c, n))


# --------------------------------------------------------------------------------------------
# preparation
# --------------------------------------------------------------------------------------------

def _check_callable(f):
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")


def sparse_jacobian(f, x, *, pattern=None, mode="auto", order="largest_first", colors=None,
                    seed=None, method="auto"):
    """Prepare the sparse Jacobian of ``f`` once, to evaluate it at many points.

    Detects the sparsity pattern of the Jacobian by tracing ``f`` once at ``x`` (or takes
    ``pattern``), colours it, and returns a :class:`SparseJacobian` ``J``: ``J(x)`` is the
    Jacobian at ``x`` as a ``csr_array``, computed with one Jacobian-vector product per column
    colour (forward mode) or one vector-Jacobian product per row colour (reverse mode).

    Parameters
    ----------
    f : callable
        Maps a 1-D torch tensor of length ``n`` to a 1-D tensor of length ``m``, with torch
        operations and spgrad's sparse operations.
    x : torch.Tensor or numpy.ndarray
        An example point, 1-D, real floating (its dtype is the evaluation dtype).
    pattern : sparse matrix or array_like, optional
        The Jacobian's sparsity pattern (any structure ``csr_array`` accepts; values ignored,
        stored zeros count). Skips detection: use it for functions with operations the tracer
        has no rule for.
    mode : {"auto", "forward", "reverse"}, optional
        Forward mode colours columns (partial distance-2), reverse mode colours rows; ``"auto"``
        takes the one with fewer colours (reverse on a tie: one forward pass and one batched
        vector-Jacobian product per colour, cheaper in torch than batched JVPs).
    order : str, optional
        Vertex order of the greedy colouring: ``"natural"``, ``"random"``,
        ``"largest_first"``, ``"smallest_last"``, ``"incidence_degree"``,
        ``"dynamic_largest_first"``, or ``"best"`` (the fewest colours over all of them).
    colors : array_like of int, optional
        A colouring to use instead (of the columns in forward mode, of the rows in reverse mode;
        ``mode`` must then be given); checked before use.
    seed : int or numpy.random.Generator, optional
        For ``order="random"``.
    method : {"auto", "propagation", "compressed"}, optional
        How ``J(x)`` is evaluated at points that do not require grad. ``"propagation"``
        replays the traced operations and computes the stored entries of every intermediate
        Jacobian with one kernel per operation (no product per colour); ``"compressed"``
        evaluates one product per colour; ``"auto"`` propagates wherever the trace allows it
        (movement and indexing with constant indices, elementwise operations, ``sum``,
        ``mean``, dense matrix products, spgrad's sparse ``A @ x``, in-place assignments)
        and uses compressed products otherwise. ``"propagation"`` raises
        ``ValueError`` naming the operation it cannot propagate. Points that require grad
        always use the compressed products (their values are recorded by autograd).

    Returns
    -------
    SparseJacobian

    See Also
    --------
    jacobian : the one-shot form.
    jacobian_pattern : the detection step alone.

    Notes
    -----
    The pattern is that of the operations traced at ``x``; a function whose Python control
    flow depends on the values of ``x`` must be given a ``pattern`` valid everywhere. The
    propagation replays the operations traced (from the tensors the function reads, taken by
    reference, so parameters updated in place are seen); a function whose operations change
    with ``x`` needs ``method="compressed"``.

    Examples
    --------
    >>> import torch
    >>> import spgrad.ad
    >>> def f(x):  # f_i = x_{i-1}^2 + x_i x_{i+1}, a tridiagonal Jacobian
    ...     xp = torch.nn.functional.pad(x, (1, 1))
    ...     return xp[:-2] ** 2 + xp[1:-1] * xp[2:]
    >>> J = spgrad.ad.sparse_jacobian(f, torch.ones(1000, dtype=torch.float64))
    >>> J.ncolors, J.nnz
    (3, 2997)
    >>> Jx = J(torch.linspace(0, 1, 1000, dtype=torch.float64))
    >>> type(Jx).__name__, Jx.shape
    ('csr_array', (1000, 1000))
    """
    from ._propagation import record_jacobian
    from ._tracer import _as_pattern, jacobian_pattern

    _check_callable(f)
    x, _ = _example_point(x)
    if mode not in _JACOBIAN_MODES:
        raise ValueError(f"mode must be one of {_JACOBIAN_MODES}, got {mode!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    recorded = {}
    if pattern is None and method != "compressed":
        D, y, program, reason = record_jacobian(f, x)
        if D is None:
            D = scipy.sparse.csr_array((y.numel(), x.numel()), dtype=bool)
        p = _as_pattern(D)
        recorded = {"program": program, "reason": reason}
    elif pattern is None:
        p = jacobian_pattern(f, x)
    else:
        m = _output_length(f, x)
        p = _user_pattern(pattern, (m, x.shape[0]))
    if colors is not None:
        if mode == "auto":
            raise ValueError("colors= needs mode='forward' (column colours) or 'reverse' "
                             "(row colours)")
        colors = np.asarray(colors)
        check = _coloring.is_column_coloring if mode == "forward" else _coloring.is_row_coloring
        if not check(p, colors):  # the checker also validates the length and dtype
            raise ValueError(f"colors is not a valid {'column' if mode == 'forward' else 'row'}"
                             f" colouring of the pattern")
    else:
        requested = mode
        _coloring._check_order(order)  # now, not when the colouring is made

        def colouring():
            return _jacobian_colouring(p, requested, order, seed)

        if recorded.get("program") is None:  # the compressed products need it now
            mode, colors = colouring()
        else:  # propagation needs no colours: made if the compressed products are used
            colors = colouring
    return SparseJacobian(f, p, colors, dtype=x.dtype, mode=mode, method=method, **recorded)


def _jacobian_colouring(p, mode, order, seed):
    """``(mode, colors)`` of a Jacobian pattern: columns (forward), rows (reverse), or for
    ``"auto"`` whichever needs fewer colours (reverse on a tie: one forward pass and batched
    VJPs, which cost less than batched JVPs in torch, each carrying the primal too)."""
    if mode == "forward":
        return mode, _coloring.column_coloring(p, order=order, seed=seed)
    if mode == "reverse":
        return mode, _coloring.row_coloring(p, order=order, seed=seed)
    by_col = _coloring.column_coloring(p, order=order, seed=seed)
    by_row = _coloring.row_coloring(p, order=order, seed=seed)
    if _count(by_row) <= _count(by_col):
        return "reverse", by_row
    return "forward", by_col


def sparse_hessian(f, x, *, pattern=None, order="largest_first", colors=None, seed=None):
    """Prepare the sparse Hessian of a scalar ``f`` once, to evaluate it at many points.

    Detects the Hessian's sparsity pattern by tracing ``f`` once at ``x`` (or takes
    ``pattern``), star-colours it (a colouring that exploits symmetry: each entry is read from
    one of two compressed columns) and returns a :class:`SparseHessian` ``H``: ``H(x)`` is the
    Hessian at ``x`` as a symmetric ``csr_array``, computed with one Hessian-vector product per
    colour (forward over reverse, or reverse over reverse for functions ``vmap`` cannot batch).

    Parameters
    ----------
    f : callable
        Maps a 1-D torch tensor of length ``n`` to a scalar (0-D) tensor.
    x : torch.Tensor or numpy.ndarray
        An example point, 1-D, real floating.
    pattern : sparse matrix or array_like, optional
        The Hessian's pattern (structurally symmetric); skips detection.
    order : str, optional
        Vertex order of the greedy star colouring (see :func:`sparse_jacobian`).
    colors : array_like of int, optional
        A star colouring to use instead; checked before use.
    seed : int or numpy.random.Generator, optional
        For ``order="random"``.

    Returns
    -------
    SparseHessian

    See Also
    --------
    hessian : the one-shot form.
    hessian_pattern : the detection step alone.

    Examples
    --------
    >>> import torch
    >>> import spgrad.ad
    >>> def rosenbrock(x):  # chained Rosenbrock: a tridiagonal Hessian
    ...     return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
    >>> H = spgrad.ad.sparse_hessian(rosenbrock, torch.zeros(500, dtype=torch.float64))
    >>> H.ncolors
    3
    >>> Hx = H(torch.ones(500, dtype=torch.float64))
    >>> float(Hx[0, 0]), float(Hx[0, 1])
    (802.0, -400.0)
    """
    from ._tracer import hessian_pattern

    _check_callable(f)
    x, _ = _example_point(x)
    n = x.shape[0]
    p = hessian_pattern(f, x) if pattern is None else _user_pattern(pattern, (n, n))
    if colors is not None:
        colors = np.asarray(colors)
        if not _coloring.is_star_coloring(p, colors):  # also validates length and dtype
            raise ValueError("colors is not a star colouring of the pattern")
    else:
        colors = _coloring.star_coloring(p, order=order, seed=seed)
    return SparseHessian(f, p, colors, dtype=x.dtype, mode="star")


def jacobian(f, x, **kwargs):
    """The sparse Jacobian of ``f`` at ``x``, as a ``csr_array``.

    One-shot form of :func:`sparse_jacobian` (same keyword arguments): detect, colour and
    evaluate. To evaluate at many points, prepare once with :func:`sparse_jacobian`.

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad.ad
    >>> J = spgrad.ad.jacobian(lambda x: x[1:] * x[:-1], np.arange(1.0, 5.0))
    >>> J.toarray()
    array([[2., 1., 0., 0.],
           [0., 3., 2., 0.],
           [0., 0., 4., 3.]])
    """
    return sparse_jacobian(f, x, **kwargs)(x)


def hessian(f, x, **kwargs):
    """The sparse Hessian of a scalar ``f`` at ``x``, as a ``csr_array``.

    One-shot form of :func:`sparse_hessian` (same keyword arguments).

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad.ad
    >>> H = spgrad.ad.hessian(lambda x: x[0] * (x ** 2).sum(), np.ones(3))
    >>> H.toarray()
    array([[6., 2., 2.],
           [2., 2., 0.],
           [2., 0., 2.]])
    """
    return sparse_hessian(f, x, **kwargs)(x)


def load(file, f):
    """Rebuild a prepared :class:`SparseJacobian` or :class:`SparseHessian` from
    :meth:`~SparseJacobian.save`'s file and the function ``f`` (no detection, no colouring).

    The colouring is checked against the saved pattern, and the first evaluation checks that
    ``f``'s output has the saved shape. A Jacobian saved with ``method="auto"`` or
    ``"propagation"`` records ``f`` at its first evaluation (the trace is not saved).

    Examples
    --------
    >>> import io, torch
    >>> import spgrad.ad
    >>> f = lambda x: x[1:] - x[:-1]
    >>> J = spgrad.ad.sparse_jacobian(f, torch.zeros(5))
    >>> buf = io.BytesIO(); J.save(buf); _ = buf.seek(0)
    >>> K = spgrad.ad.load(buf, f)
    >>> K.ncolors, K.mode, K.method
    (2, 'reverse', 'auto')
    """
    from .._csr import csr_array

    _check_callable(f)
    try:
        with np.load(file, allow_pickle=False) as z:
            kind, mode = str(z["kind"]), str(z["mode"])
            method = str(z["method"]) if "method" in z.files else "auto"
            shape = tuple(int(s) for s in z["shape"])
            indptr, indices, colors = z["indptr"], z["indices"], z["colors"]
            dtype = getattr(_torch(), str(z["dtype"]))
    except KeyError as e:
        raise ValueError(f"{file!r} is not a file saved by SparseJacobian/SparseHessian.save: "
                         f"missing {e}") from e
    if kind not in _KINDS:
        raise ValueError(f"unknown kind {kind!r} in {file!r}; expected one of {sorted(_KINDS)}")
    p = _coloring.canonical_pattern(
        csr_array((np.ones(len(indices), dtype=bool), indices, indptr), shape=shape))
    if kind == "hessian":
        ok = _coloring.is_star_coloring(p, colors)
        cls = SparseHessian
    else:
        check = _coloring.is_column_coloring if mode == "forward" else _coloring.is_row_coloring
        ok = check(p, colors)
        cls = SparseJacobian
    if not ok:
        raise ValueError(f"the colouring saved in {file!r} does not fit its pattern")
    if cls is SparseHessian:
        return cls(f, p, colors, dtype=dtype, mode=mode)
    return cls(f, p, colors, dtype=dtype, mode=mode, method=method)


def _count(colors):
    return int(colors.max()) + 1 if len(colors) else 0


def _output_length(f, x):
    """Length of ``f(x)`` (used when the user gives the pattern: it fixes the shape check)."""
    torch = _torch()
    with torch.no_grad():
        y = f(x)
    if not isinstance(y, torch.Tensor) or y.ndim != 1:
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"f must return a 1-D torch tensor, got {shape}")
    return y.shape[0]
