"""Sparse Jacobians by propagating sparse derivatives through a recorded trace.

Pattern detection (``_tracer``) runs the function once and gives every intermediate tensor a
dependency matrix. The recorder here runs that same trace and also keeps, for every aten
operation, how to replay it (the operation and its arguments) and how its Jacobian follows from
its operands' Jacobians: which rows of which operand, weighted by which local derivative. The
resulting :class:`Program` evaluates the Jacobian at a new point without a single
Jacobian-vector product: it replays the operations whose values the local derivatives need,
then runs one kernel per operation over the stored entries of its Jacobian
(``spgrad._cpu._propagation``).

The cost is proportional to the stored entries of the intermediate Jacobians, where the
compressed products of ``_evaluate`` cost about one evaluation of the function per colour.
Operations that only move elements (views, slicing, ``roll``, ``cat``, padding...) and scalings
by Python numbers cost nothing at evaluation: their Jacobians are index maps into an operand's
(with a factor), composed when the program is built.

Recorded rules: movement and indexing with constant indices, elementwise operations (local
derivatives from a table of formulas, else from ``torch.func.jvp`` of the operation), ``sum``
and ``mean``, dense matrix products (``mm``, ``mv``, ``bmm``, ``dot``, ``addmm``, ``outer``…:
each term weighted by the other factor's element), and spgrad's sparse products ``A @ X`` and
``Aᵀ @ X`` (replayed by calling their Function's forward), and in-place writes (``copy_``
— assignments ``y[i] = ...`` —, ``fill_``, ``index_put_``, ``masked_fill_``, in-place
elementwise operations): the write is replayed as it is, the values written get a slot with
the functional operation's rule, and the written tensor's base a new slot whose Jacobian takes
those rows where the write landed; a view made before the write and read after it gets a new
slot too. Any other operation on a variable (accumulating writes, other reductions, spgrad's
other kernels, custom autograd Functions) makes the recorder give up with a reason, and the
Jacobian is evaluated with compressed products instead.

Local derivatives are computed during the replay, where their operation runs (before an
in-place operation that overwrites the values they read), so a tensor written later does not
change them.

Every operation of the function is replayed from its leaves (tensors created outside the
function, taken by reference), so constants the function derives from parameters updated in
place between evaluations are recomputed, as a call of the function would.
"""

import threading

import numpy as np
import scipy.sparse
import torch
from torch.utils.weak import WeakIdKeyDictionary

from .._cpu import _propagation as _kernels
from ._tracer import _Tracer, _bcast_ids, _flat

__all__ = ["Program", "record_jacobian"]


class _Unsupported(Exception):
    """The trace holds an operation the propagation cannot replay (the message says which)."""


# --------------------------------------------------------------------------------------------
# local derivatives of elementwise operations
# --------------------------------------------------------------------------------------------
# name -> (reads, weight): ``reads(i)`` lists what the derivative with respect to argument ``i``
# reads ("out" or argument positions); ``weight(args, kwargs, out, i)`` computes it from the
# replayed values: a Python number (a constant, folded into the maps) or a tensor.

def _reads_none(i):
    return ()


def _reads_self(i):
    return (0,)


def _reads_out(i):
    return ("out",)


def _reads_other(i):
    return (1 - i,)


def _alpha(kwargs):
    return kwargs.get("alpha", 1)


def _w_div(a, kw, out, i):
    if i == 0:
        return 1 / a[1] if not isinstance(a[1], torch.Tensor) else torch.reciprocal(a[1])
    return -out / a[1]


def _w_pow(a, kw, out, i):
    e = a[1]
    if e == 0:
        return 0
    return e * a[0] ** (e - 1) if e != 1 else 1


_PARTIALS = {
    "add": (_reads_none, lambda a, kw, out, i: 1 if i == 0 else _alpha(kw)),
    "sub": (_reads_none, lambda a, kw, out, i: 1 if i == 0 else -_alpha(kw)),
    "rsub": (_reads_none, lambda a, kw, out, i: -_alpha(kw) if i == 0 else 1),
    "neg": (_reads_none, lambda a, kw, out, i: -1),
    "positive": (_reads_none, lambda a, kw, out, i: 1),
    "mul": (_reads_other, lambda a, kw, out, i: a[1 - i]),
    "div": (lambda i: (1,) if i == 0 else (1, "out"), _w_div),
    "exp": (_reads_out, lambda a, kw, out, i: out),
    "expm1": (_reads_out, lambda a, kw, out, i: out + 1),
    "log": (_reads_self, lambda a, kw, out, i: torch.reciprocal(a[0])),
    "log1p": (_reads_self, lambda a, kw, out, i: torch.reciprocal(a[0] + 1)),
    "sin": (_reads_self, lambda a, kw, out, i: torch.cos(a[0])),
    "cos": (_reads_self, lambda a, kw, out, i: -torch.sin(a[0])),
    "tanh": (_reads_out, lambda a, kw, out, i: 1 - out * out),
    "sigmoid": (_reads_out, lambda a, kw, out, i: out * (1 - out)),
    "sqrt": (_reads_out, lambda a, kw, out, i: 0.5 / out),
    "reciprocal": (_reads_out, lambda a, kw, out, i: -out * out),
    "square": (_reads_self, lambda a, kw, out, i: 2 * a[0]),
}
# pow with a Python number exponent (pow.Tensor_Scalar)
_POW_SCALAR = (_reads_self, _w_pow)
# copies and dtype conversions: a derivative of one
_DTYPE_ONLY = {"_to_copy", "clone", "contiguous", "alias", "lift_fresh"}
# in-place operations (by overload packet name without the trailing "_") the recorder replays
_WRITES = {"copy", "fill", "zero", "masked_fill", "index_fill", "index_put", "add", "sub",
           "mul", "div", "neg", "clamp", "clamp_min", "clamp_max", "exp", "sin", "cos",
           "tanh", "sigmoid", "sqrt", "pow", "square", "abs", "relu", "reciprocal", "log"}
# operations that make views (they read no values)
_VIEWS = {"view", "_unsafe_view", "slice", "select", "alias", "detach", "as_strided",
          "unsqueeze", "squeeze", "expand", "permute", "transpose", "t", "diagonal", "narrow",
          "unfold", "split", "split_with_sizes", "unbind", "chunk", "view_as_real", "movedim"}


def _same(t):
    """The replay of a slot that is another slot's tensor (seen after an in-place write)."""
    return t


# factories of uninitialized memory: a replay cannot redo what fills them outside torch
_UNINITIALIZED = {"empty", "empty_like", "new_empty", "empty_strided", "empty_permuted",
                  "new_empty_strided"}


def _generic_weight(func, args, kwargs, i):
    """The derivative of an elementwise ``func`` with respect to argument ``i``, per output
    element: a Jacobian-vector product with a tangent of ones."""
    a = args[i]

    def g(t):
        new = list(args)
        new[i] = t
        return func(*new, **kwargs)

    return torch.func.jvp(g, (a,), (torch.ones_like(a),))[1]


# --------------------------------------------------------------------------------------------
# recording
# --------------------------------------------------------------------------------------------

class _Slot:
    """Placeholder for a replayed tensor in a recorded argument list."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _template(obj, slots):
    if isinstance(obj, torch.Tensor):
        s = slots.get(obj)
        return _Slot(s) if s is not None else obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(_template(o, slots) for o in obj)
    if isinstance(obj, dict):
        return {k: _template(v, slots) for k, v in obj.items()}
    return obj


def _fill(obj, values):
    if isinstance(obj, _Slot):
        return values[obj.index]
    if isinstance(obj, (list, tuple)):
        return type(obj)(_fill(o, values) for o in obj)
    if isinstance(obj, dict):
        return {k: _fill(v, values) for k, v in obj.items()}
    return obj


def _slots_in(obj):
    if isinstance(obj, _Slot):
        return [obj.index]
    if isinstance(obj, (list, tuple)):
        return [s for o in obj for s in _slots_in(o)]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _slots_in(v)]
    return []


class _SparseProduct:
    """Replays spgrad's sparse product Function ``function`` on ``pattern``: ``(data, X) ->
    function.forward(data, X, pattern)``."""

    def __init__(self, function, pattern):
        self.function, self.pattern = function, pattern

    def __call__(self, data, X):
        return self.function.forward(data, X, self.pattern)


def _int64_sorted(D):
    """``D`` as a SciPy CSR with int64 index arrays and sorted rows (a copy): the form the
    propagation's maps are computed on."""
    D = scipy.sparse.csr_array(D)
    D = scipy.sparse.csr_array((D.data, D.indices.astype(np.int64),
                                D.indptr.astype(np.int64)), shape=D.shape)
    if not D.has_sorted_indices:
        D.sort_indices()
    return D


class _Recorder(_Tracer):
    """The pattern tracer, also recording each operation's replay and Jacobian rule."""

    def __init__(self, x):
        super().__init__(x, hessian=False)
        self.slots = WeakIdKeyDictionary()  # tensor -> slot number
        self.keep = [x]                     # every traced tensor, alive (ids stay unique)
        self.slots[x] = 0
        self.tainted = [True]               # slot depends on x (values change with x)
        self.D = [_int64_sorted(self.deps[x])]  # slot -> dependency matrix (None: constant)
        self.steps = []                     # (func, args, kwargs, out slots) in order
        self.rules = []                     # (kind, out slot, step index, payload)
        self.uninitialized = set()          # slots made by empty(): filled outside torch?
        self.detached = set()               # slots made by detach(): constants here
        self.producer = {}                  # slot -> the step computing it
        self.writes = 0                     # in-place writes so far
        self.last_write = WeakIdKeyDictionary()  # base tensor -> number of its latest write
        self.slot_epoch = [0]               # slot -> writes made before it
        self.has_writes = False
        self.reason = None
        self._pending = []
        self._written = None

    def _fail(self, reason):
        if self.reason is None:
            self.reason = reason

    # -- the hooks of the tracer's rules (tensors are resolved to slots after each op) -------
    def _on_movement(self, name, outs, sources, id_outs):
        self._pending.append(("move", name, outs, sources, id_outs))

    def _on_elementwise(self, name, operands, out):
        self._pending.append(("elementwise", name, operands, out))

    def _on_reduction(self, name, x, outs, group_of, n_groups):
        self._pending.append(("reduce", name, x, outs, group_of, n_groups))

    def _on_matmul(self, name, left, right, bias, out_idx, out_shape):
        self._pending.append(("matmul", name, left, right, bias, out_idx, out_shape))

    def _on_write(self, dst, D):
        self._written = (dst, D)

    def _on_sparse_product(self, name, node, out, data, X, out_idx, D):
        """spgrad's ``A @ X`` / ``Aᵀ @ X`` computes outside torch: its output gets a slot and a
        replay step of its own (the Function's forward on the replayed operands), recorded
        here, where the tracer first meets the output, before the operation reading it."""
        if self.reason is not None:
            return
        from .._autograd import _functions

        function = _functions.SpMM if name == "SpMMBackward" else _functions.SpMMT
        operands = (data[0], X[0])
        for t in operands:
            if t not in self.slots and self._is_var(t):
                self._fail(f"an operand of spgrad's {function.__name__} is computed outside "
                           f"torch's aten operations")
                return
        tainted = any(self.tainted[self.slots[t]] for t in operands if t in self.slots)
        D = _int64_sorted(D) if D is not None else None
        replay = (_SparseProduct(function, node.pattern), _template(list(operands), self.slots),
                  {})
        s = self.slots.get(out)
        if s is not None:
            # the Function's result came through lift_fresh (a tensor made from the kernel's
            # NumPy output): that step becomes the product's replay
            step = self.producer[s]
            self.steps[step] = (*replay, [s])
            self.tainted[s], self.D[s] = tainted, D
        else:
            step = len(self.steps)
            s = self._add_slot(out, tainted, D, step)
            self.steps.append((*replay, [s]))
        if self.D[s] is not None:
            rec = ("matmul", f"spgrad's {function.__name__}", data, X, None, out_idx,
                   tuple(out.shape))
            self._matmul_rule(rec, step, list(operands), [out])

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self._pending = []
        self._written = None
        out = super().__torch_dispatch__(func, types, args, kwargs)
        if self.reason is not None:
            return out
        name = func.overloadpacket.__name__
        inputs = [a for a in _flat(list(args) + list(kwargs.values()))
                  if isinstance(a, torch.Tensor)]
        for a in inputs:
            self._refresh(a)
        writes = [i for i, a in enumerate(func._schema.arguments)
                  if a.alias_info is not None and a.alias_info.is_write]
        if writes:
            if writes != [0] or name.removesuffix("_") not in _WRITES:
                self._fail(f"no propagation rule for the in-place aten.{name}")
            else:
                self._in_place(func, name, args, kwargs, inputs)
            return out
        read = [self.slots[a] for a in inputs if a in self.slots]
        unfilled = any(s in self.uninitialized for s in read)
        if unfilled and name not in _VIEWS:
            self._fail(f"aten.{name} reads a tensor filled outside torch's operations")
            return out
        outs = [o for o in _flat([out]) if isinstance(o, torch.Tensor)]
        tainted = any(self.tainted[s] for s in read)
        # the arguments as they were (before an output that is an argument gets a slot)
        args_t, kwargs_t = _template(args, self.slots), _template(kwargs, self.slots)
        if tainted and name == "_local_scalar_dense":
            self._fail("a value computed from the variables becomes a Python number (indices "
                       "computed from the variables, a Python condition)")
            return out
        out_slots = []
        for o in outs:
            if o in self.slots:  # an operation returning its input (a no-op view)
                out_slots.append(self.slots[o])
                continue
            s = self._add_slot(o, tainted, self._dep_of(o) if tainted else None,
                               len(self.steps))  # the step appended below
            out_slots.append(s)
            if name in _UNINITIALIZED or unfilled:  # a view of such a tensor, too
                self.uninitialized.add(s)
        step = len(self.steps)
        self.steps.append((func, args_t, kwargs_t, out_slots))
        variable_outs = [s for s in out_slots if self.D[s] is not None]
        if not variable_outs:
            return out
        covered = set()
        for rec in self._pending:
            covered |= self._rule(rec, step, func, args, outs)
            if self.reason is not None:
                return out
        missing = [s for s in variable_outs if s not in covered]
        if missing:
            self._fail(f"no propagation rule for aten.{name}")
        return out

    # -- slots, and in-place writes ---------------------------------------------------------
    def _add_slot(self, t, tainted, D, producer):
        """A new slot for tensor ``t`` (its replay computed by step ``producer``)."""
        s = len(self.D)
        self.slots[t] = s
        self.keep.append(t)
        self.tainted.append(tainted)
        self.D.append(D)
        self.producer[s] = producer
        self.slot_epoch.append(self.writes)
        return s

    def _alias_slot(self, t, source, tainted, D):
        """A new slot for ``t`` whose replayed value is that of slot ``source`` (the same
        tensor, seen after an in-place write changed its derivatives)."""
        step = len(self.steps)
        self.steps.append((_same, [_Slot(source)], {}, None))
        s = self._add_slot(t, tainted, D, step)
        self.steps[step] = (_same, [_Slot(source)], {}, [s])
        return s, step

    def _refresh(self, t):
        """A view whose base was written in place since the view's slot was made gets a new
        slot, whose Jacobian is read from the base's current one."""
        s = self.slots.get(t)
        root = t._base  # (views get their base above the dispatch mode: read it here)
        if s is None or root is None or self.last_write.get(root, 0) <= self.slot_epoch[s]:
            return
        from ._tracer import _alias

        alias = _alias(t)
        if alias is None or root not in self.slots:
            self._fail("a view of a tensor written in place, whose layout the propagation "
                       "cannot follow")
            return
        s_root = self.slots[root]
        D = self._dep_of(t)
        s_new, step = self._alias_slot(t, s, self.tainted[s] or self.tainted[s_root], D)
        if D is not None:
            self.rules.append(("move", s_new, step, ([(s_root, 0, root.numel())], alias[1])))

    def _in_place(self, func, name, args, kwargs, inputs):
        """An in-place write into ``args[0]`` (a tensor or a view of one): the write is
        replayed as it is; its new values get a slot (with the rule of the functional
        operation), and so does the written tensor's base, whose Jacobian takes those rows
        where the write landed and keeps the others."""
        from ._tracer import _alias

        dst = args[0]
        if dst._base is None:
            root, ids = dst, np.arange(dst.numel(), dtype=np.int64)
        else:
            alias = _alias(dst)
            if alias is None:
                self._fail(f"aten.{name} writes into a view of a non-contiguous tensor")
                return
            root, ids = alias
        if root not in self.slots:
            if dst is not root:
                self._fail(f"aten.{name} writes into a view of a tensor made outside the "
                           f"function")
                return
            self._alias_slot(root, None, False, None)  # a tensor from outside: by reference
            self.steps[-1] = (_same, [root], {}, self.steps[-1][3])
        if dst not in self.slots:
            self._fail(f"aten.{name} writes into a tensor made outside torch's operations")
            return
        read = [self.slots[a] for a in inputs if a in self.slots]
        if any(s in self.uninitialized for s in read[1:]):
            self._fail(f"aten.{name} reads a tensor filled outside torch's operations")
            return
        tainted = any(self.tainted[s] for s in read)
        s_dst = self.slots[dst]
        step = len(self.steps)
        self.steps.append((func, _template(args, self.slots), _template(kwargs, self.slots),
                           [s_dst]))
        self.has_writes = True
        # the written values
        written = self._written
        D_new = _int64_sorted(written[1]) if written is not None and written[1] is not None \
            else None
        s_new, _ = self._alias_slot(dst, s_dst, tainted, D_new)
        self.slots[dst] = s_dst  # dst itself is rebound below, through its base
        if D_new is not None:
            if name == "copy_":
                src = args[1]
                s_src = self._slot(src, f"the source of aten.{name}")
                if self.reason is not None:
                    return
                if s_src is not None:
                    self.rules.append(("move", s_new, step, (
                        [(s_src, 0, src.numel())], _bcast_ids(src, tuple(dst.shape)))))
            else:
                covered = set()
                for rec in self._pending:
                    covered |= self._rule(rec, step, func, args, [dst], out_slot=s_new)
                    if self.reason is not None:
                        return
                if s_new not in covered:
                    self._fail(f"no propagation rule for the in-place aten.{name}")
                    return
        # the base's new version
        s_root = self.slots[root]
        D_root = self._dep_of(root)
        s_base, base_step = self._alias_slot(root, s_root, tainted or self.tainted[s_root],
                                             D_root)
        self.writes += 1
        self.last_write[root] = self.writes
        if D_root is not None:
            n = root.numel()
            gid = np.arange(n, dtype=np.int64)
            gid[ids] = n + np.arange(len(ids), dtype=np.int64)
            self.rules.append(("move", s_base, base_step,
                               ([(s_root, 0, n), (s_new, n, len(ids))], gid)))
        if dst is not root:  # the view now reads its base's new version
            self.slot_epoch[s_dst] = -1

    def _dep_of(self, o):
        if not (o.is_floating_point() or o.is_complex()):
            return None
        D = self.dep(o)
        if D is None:
            return None
        if o.is_complex():
            self._fail("complex intermediate values")
        return _int64_sorted(D)

    def _slot(self, t, what):
        """The slot of operand ``t``, ``None`` for a constant; a variable computed outside the
        recorded operations (its slot, if any, holds no dependencies) fails the recording."""
        s = self.slots.get(t)
        if s in self.detached:
            return None
        if (s is None or self.D[s] is None) and self._is_var(t):
            self._fail(f"{what} is computed outside torch's aten operations (a custom "
                       f"autograd Function, such as spgrad's sparse products)")
            return None
        return s if s is not None and self.D[s] is not None else None

    def _rule(self, rec, step, func, args, outs, out_slot=None):
        """Turn a pending hook call into a rule on slots; the output slots it covers
        (``out_slot``: the slot of the values an in-place operation writes)."""
        kind, name = rec[0], rec[1]
        if kind == "matmul":
            return self._matmul_rule(rec, step, args, outs)
        if kind == "move":
            _, _, outs, sources, id_outs = rec
            if name == "detach":  # the derivative stops here: constant outputs
                for o in outs:
                    self.D[self.slots[o]] = None
                    self.detached.add(self.slots[o])
                return {self.slots[o] for o in outs}
            for a in _flat(list(args)):
                if isinstance(a, torch.Tensor) and not (a.is_floating_point() or
                                                        a.is_complex()):
                    s = self.slots.get(a)
                    if s is not None and self.tainted[s]:
                        self._fail(f"aten.{name} with indices computed from the variables")
                        return set()
            srcs = []
            for t, offset in sources:
                s = self._slot(t, f"an operand of aten.{name}")
                if s is None:
                    self._fail(f"an operand of aten.{name} is computed outside torch's aten "
                               f"operations")
                    return set()
                srcs.append((s, offset, t.numel()))
            covered = set()
            for o, ido in zip(outs, id_outs):
                so = self.slots[o] if out_slot is None else out_slot
                if self.D[so] is None:
                    continue
                ids = ido.reshape(-1).to(torch.int64).numpy() - 1
                self.rules.append(("move", so, step, (srcs, ids)))
                covered.add(so)
            return covered
        if kind == "elementwise":
            _, _, operands, out = rec
            so = self.slots[out] if out_slot is None else out_slot
            if self.D[so] is None:
                return set()
            terms = []
            for i, a in enumerate(args):
                if not isinstance(a, torch.Tensor) or (name == "where" and i == 0):
                    continue
                s = self._slot(a, f"an operand of aten.{name}")
                if self.reason is not None:
                    return set()
                if s is None:
                    continue
                terms.append((i, s, _bcast_ids(a, out.shape)))
            if any(self._is_var(a) and not any(a is b for b in args) for a in operands):
                self._fail(f"aten.{name} with a variable keyword operand")
                return set()
            self.rules.append(("elementwise", so, step, (name, func, terms)))
            return {so}
        _, _, x, outs, group_of, n_groups = rec
        if name not in ("sum", "mean"):
            self._fail(f"no propagation rule for the reduction aten.{name}")
            return set()
        s = self._slot(x, f"the operand of aten.{name}")
        if s is None:
            self._fail(f"the operand of aten.{name} is computed outside torch's aten "
                       f"operations")
            return set()
        so = self.slots[outs[0]]
        scale = 1.0 if name == "sum" else n_groups / max(x.numel(), 1)
        self.rules.append(("reduce", so, step, (s, group_of, scale)))
        return {so}


    def _matmul_rule(self, rec, step, args, outs):
        _, name, left, right, bias, out_idx, out_shape = rec
        name = name if name.startswith("spgrad") else f"{name}"
        so = self.slots[outs[0]]
        terms = []
        for (t, idx), (other, other_idx) in ((left, right), (right, left)):
            s = self._slot(t, f"a factor of {name}")
            if self.reason is not None:
                return set()
            if s is None:
                continue
            o = self.slots.get(other)
            if o is not None and self.D[o] is None and self.tainted[o]:
                # the tracer left out the terms through zeros of this factor at x
                self._fail(f"{name} with a factor computed from the variables without "
                           f"depending on them")
                return set()
            pos = next((i for i, a in enumerate(args) if a is other), None)
            if pos is None:
                self._fail(f"{name} with a factor that is not an argument")
                return set()
            terms.append(("product", s, out_idx, idx, pos, other_idx))
        if bias is not None:
            s = self._slot(bias, f"the bias of {name}")
            if self.reason is not None:
                return set()
            if s is not None:
                n_out = int(np.prod(out_shape)) if len(out_shape) else 1
                terms.append(("bias", s, np.arange(n_out, dtype=np.int64),
                              _bcast_ids(bias, out_shape)))
        self.rules.append(("matmul", so, step, (name, terms)))
        return {so}


def record_jacobian(f, x):
    """Trace ``f`` once at ``x``: the Jacobian's dependency pattern (SciPy CSR, or ``None``
    for a constant output), the output, and a :class:`Program` (``None`` with a reason when
    the trace cannot be propagated)."""
    from ._evaluate import _example_point

    x = _example_point(x)[0].detach().clone().requires_grad_()
    rec = _Recorder(x)
    with torch.enable_grad(), rec:
        y = f(x)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"f must return a torch.Tensor, got {type(y).__name__}")
    D = rec.dep(y)
    if y.ndim != 1:
        raise ValueError(f"f must return a 1-D tensor for a Jacobian, got shape "
                         f"{tuple(y.shape)}")
    if D is not None and (y not in rec.slots or rec.D[rec.slots[y]] is None):
        rec._fail("the output is computed outside torch's aten operations")
    program, reason = None, rec.reason
    if reason is None:
        try:
            program = Program(rec, y, x.dtype)
        except _Unsupported as e:
            reason = str(e)
    return D, y, program, reason


# --------------------------------------------------------------------------------------------
# the program
# --------------------------------------------------------------------------------------------

def _contributions(D_out, D_in, k, b):
    """For each pair ``t`` (row ``k[t]`` of the output gets row ``b[t]`` of the input): every
    stored entry of that input row, as ``(dst, src, pair)`` — its position in ``D_out``, in
    ``D_in`` and the pair number. Entries with no place in ``D_out`` are dropped (the tracer
    leaves out dependencies through constant zero factors). Both patterns have int64 indices
    and sorted rows (see :meth:`_Recorder._dep_of`)."""
    k = np.ascontiguousarray(k, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    if len(k) and (k.min() < 0 or k.max() >= D_out.shape[0] or b.min() < 0
                   or b.max() >= D_in.shape[0]):
        raise AssertionError("propagation map out of range")  # a recorder bug, never input
    room = int((D_in.indptr[b + 1] - D_in.indptr[b]).sum())
    dst, src, pair = (np.empty(room, dtype=np.int64) for _ in range(3))
    m = _kernels.match_rows(D_out.indptr, D_out.indices, D_in.indptr, D_in.indices, k, b,
                            dst, src, pair)
    return dst[:m], src[:m], pair[:m]


class _Ref:
    """The Jacobian of a slot: ``scale * buffers[buf][idx]`` (``idx`` ``None``: in order)."""

    __slots__ = ("buf", "idx", "scale")

    def __init__(self, buf, idx, scale):
        self.buf, self.idx, self.scale = buf, idx, scale

    def through(self, src):
        """Positions in the buffer of the slot's entries ``src``."""
        return src if self.idx is None else self.idx[src]


class Program:
    """A recorded function's Jacobian as replay steps and propagation kernels.

    Built by :func:`record_jacobian`. :meth:`values` gives the Jacobian's stored values at a
    point, in the order of the entries of the output's dependency pattern ``D_y``.
    """

    def __init__(self, rec, y, dtype):
        if dtype not in (torch.float32, torch.float64):
            raise _Unsupported(f"dtype {dtype}")
        self._dtype = np.dtype(str(dtype).removeprefix("torch."))
        self._torch_dtype = dtype
        self.n = rec.n
        self.y_slot = rec.slots.get(y)
        self.D_y = rec.D[self.y_slot] if self.y_slot is not None else None
        self._nslots = len(rec.D)
        self._build(rec)

    # -- building ----------------------------------------------------------------------------
    def _build(self, rec):
        refs = {0: _Ref(0, None, 1.0)}  # x: the identity, values in buffer 0 (ones)
        self._buffers = [rec.n]         # buffer sizes; buffer 0 holds the ones of x
        self._kernels = []              # (out buffer, [(dst, src, in buffer, scale, weight)])
        self._weights = []              # ("partial", ...) or ("factor", ...), see _weight_value
        self._weight_steps = []         # for each weight: (step index, "before" or "after")
        needed = set()                  # slots whose values the weights read
        useful = self._useful(rec)
        for kind, so, step, payload in rec.rules:
            if so not in useful:
                continue
            D_out = rec.D[so]
            if kind == "move":
                srcs, ids = payload
                parts = []
                for s, offset, size in srcs:
                    sel = np.nonzero((ids >= offset) & (ids < offset + size))[0]
                    if len(sel) and rec.D[s] is not None:
                        dst, src, _ = _contributions(D_out, rec.D[s], sel, ids[sel] - offset)
                        parts.append((s, dst, src, None, 1.0))
                refs[so] = self._combine(refs, parts, D_out.nnz)
            elif kind == "elementwise":
                name, func, terms = payload
                parts = []
                for i, s, b in terms:
                    dst, src, pair = _contributions(D_out, rec.D[s], np.arange(len(b)), b)
                    weight = self._weight(rec, step, name, func, i, needed)
                    parts.append((s, dst, src, pair, weight))
                refs[so] = self._combine(refs, parts, D_out.nnz)
            elif kind == "matmul":
                name, terms = payload
                kwargs = rec.steps[step][2]
                parts = []
                for term in terms:
                    if term[0] == "bias":
                        _, s, k, b = term
                        dst, src, _ = _contributions(D_out, rec.D[s], k, b)
                        parts.append((s, dst, src, None, float(kwargs.get("beta", 1))))
                        continue
                    _, s, k, b, pos, other_idx = term
                    dst, src, pair = _contributions(D_out, rec.D[s], k, b)
                    weight = self._factor_weight(rec, step, pos, kwargs.get("alpha", 1),
                                                 needed)
                    parts.append((s, dst, src, other_idx[pair], weight))
                refs[so] = self._combine(refs, parts, D_out.nnz)
            else:  # sum, mean
                s, group_of, scale = payload
                dst, src, _ = _contributions(D_out, rec.D[s], group_of,
                                             np.arange(len(group_of)))
                refs[so] = self._combine(refs, [(s, dst, src, None, scale)], D_out.nnz)
        self._result = refs.get(self.y_slot) if self.D_y is not None else None
        self._replay = self._replay_steps(rec, needed)
        # int32 maps where every buffer allows them: half the memory traffic of the kernels
        big = max(self._buffers) >= np.iinfo(np.int32).max
        idx = np.int64 if big else np.int32
        kernels = []
        for b, ops in self._kernels:
            # a first contribution that writes every entry once assigns: no zeroing
            dst0 = ops[0][0]
            assign = len(dst0) == self._buffers[b] and \
                np.array_equal(np.sort(dst0), np.arange(len(dst0)))
            kernels.append((b, assign, [(d.astype(idx), s.astype(idx), ib, sc,
                                         w if w is None else (w[0], w[1].astype(idx)))
                                        for d, s, ib, sc, w in ops]))
        self._kernels = kernels
        self._local = threading.local()  # evaluation buffers, reused, one set per thread

    def _useful(self, rec):
        """The slots whose Jacobians reach the output (the others are never computed)."""
        inputs = {}
        for kind, so, _, payload in rec.rules:
            if kind == "move":
                inputs[so] = [s for s, _, _ in payload[0]]
            elif kind == "elementwise":
                inputs[so] = [s for _, s, _ in payload[2]]
            elif kind == "matmul":
                inputs[so] = [term[1] for term in payload[1]]
            else:
                inputs[so] = [payload[0]]
        seen, stack = set(), [self.y_slot] if self.D_y is not None else []
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            stack.extend(inputs.get(s, ()))
        return seen

    def _combine(self, refs, parts, nnz):
        """The Jacobian of an operation from its operands' contributions ``(slot, dst, src,
        pair, weight)``: when it is one operand's entries rearranged and scaled by a constant,
        a new index map into the same buffer (no work at evaluation); else a new buffer,
        filled by kernels at evaluation."""
        parts = [p for p in parts if refs.get(p[0]) is not None and len(p[1])]
        if not parts:
            return None
        if len(parts) == 1 and isinstance(parts[0][4], float) and len(parts[0][1]) == nnz:
            s, dst, src, _, weight = parts[0]
            order = np.argsort(dst, kind="stable")
            if np.array_equal(dst[order], np.arange(nnz)):
                ref = refs[s]
                return _Ref(ref.buf, ref.through(src[order]), ref.scale * weight)
        ops = []
        for s, dst, src, pair, weight in parts:
            ref = refs[s]
            if isinstance(weight, float):
                scale, w = ref.scale * weight, None
            else:
                scale, w = ref.scale, (weight, pair)
            if scale != 0.0:
                ops.append((dst, ref.through(src), ref.buf, scale, w))
        if not ops:
            return None
        buf = len(self._buffers)
        self._buffers.append(nnz)
        self._kernels.append((buf, ops))
        return _Ref(buf, None, 1.0)

    def _weight(self, rec, step, name, func, i, needed):
        """The local derivative with respect to argument ``i`` of step ``step``: a float when
        it is a constant (folded into the maps), else the number of a weight computed at each
        evaluation from replayed values."""
        args, kwargs, outs = rec.steps[step][1], rec.steps[step][2], rec.steps[step][3]
        if name in _DTYPE_ONLY:
            return 1.0
        if name == "pow" and func._overloadname == "Tensor_Scalar":
            reads, fn = _POW_SCALAR
        elif name in _PARTIALS and "rounding_mode" not in kwargs:
            reads, fn = _PARTIALS[name]
        else:
            reads, fn = _reads_none, None  # the generic rule reads every argument
        read = set()
        dynamic = fn is None
        for p in reads(i):
            if p == "out":
                dynamic = True
                read.add(outs[0])
            elif isinstance(args[p], (_Slot, torch.Tensor)):
                dynamic = True
                read.update(_slots_in(args[p]))
        if fn is None:
            read.update(_slots_in(args))
            read.update(_slots_in(kwargs))
        if not dynamic:
            value = fn(args, kwargs, None, i)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _Unsupported(f"the derivative of aten.{name}")
            return float(value)
        entry = ("partial", args, kwargs, outs[0], tuple(rec.keep[outs[0]].shape), func, i, fn)
        try:  # once at the traced values: an operation without a derivative fails here
            self._weight_value(entry, rec.keep)
        except Exception as e:  # noqa: BLE001 - any failure means: not this operation
            raise _Unsupported(f"the derivative of aten.{name} ({type(e).__name__}: "
                               f"{e})") from e
        needed.update(read)
        # computed where the operation runs in the replay: after it, or for an in-place
        # operation before it, while its operand still holds the values it read
        in_place = any(a.alias_info is not None and a.alias_info.is_write
                       for a in func._schema.arguments)
        self._weights.append(entry)
        self._weight_steps.append((step, "before" if in_place and "out" not in reads(i)
                                   else "after"))
        return len(self._weights) - 1

    def _factor_weight(self, rec, step, pos, alpha, needed):
        """The weight of a matrix product's term: the other factor's elements (times
        ``alpha``), read at each evaluation."""
        arg = rec.steps[step][1][pos]
        entry = ("factor", arg, alpha)
        self._weight_value(entry, rec.keep)
        needed.update(_slots_in(arg))
        self._weights.append(entry)
        self._weight_steps.append((step, "after"))
        return len(self._weights) - 1

    def _weight_value(self, entry, values):
        """A weight at evaluation, as a contiguous NumPy vector of the program's dtype: a
        local derivative per output element, or a matrix product's other factor."""
        if entry[0] == "factor":
            _, arg, alpha = entry
            w = _fill(arg, values).detach().reshape(-1)
            if alpha != 1:
                w = w * alpha
        else:
            _, args, kwargs, out_slot, shape, func, i, fn = entry
            a, kw = _fill(args, values), _fill(kwargs, values)
            w = _generic_weight(func, a, kw, i) if fn is None else \
                fn(a, kw, values[out_slot], i)
            w = torch.broadcast_to(torch.as_tensor(w).detach(), shape).reshape(-1)
        if w.is_complex():
            raise _Unsupported("a complex derivative")
        return np.ascontiguousarray(w.to(self._torch_dtype).numpy())

    def _replay_steps(self, rec, needed):
        """The evaluation's schedule: the recorded steps that compute the slots in ``needed``
        (all of them once the function writes in place: a write changes what later reads of
        the written tensor see), in order, each weight computed where its operation runs."""
        need = set(needed)
        kept = set()
        for i in reversed(range(len(rec.steps))):
            func, args, kwargs, outs = rec.steps[i]
            if rec.has_writes or any(s in need for s in outs):
                need.update(_slots_in(args))
                need.update(_slots_in(kwargs))
                kept.add(i)
        at = {}
        for w, (i, when) in enumerate(self._weight_steps):
            at.setdefault((i, when), []).append(w)
        schedule = []
        for i, step in enumerate(rec.steps):
            schedule += [("weight", w) for w in at.get((i, "before"), ())]
            if i in kept:
                schedule.append(("step", step))
            schedule += [("weight", w) for w in at.get((i, "after"), ())]
        return schedule

    # -- evaluation --------------------------------------------------------------------------
    @property
    def nnz(self):
        """Stored entries of the output's dependency pattern."""
        return 0 if self.D_y is None else self.D_y.nnz

    def values(self, x):
        """The Jacobian's stored values at ``x`` (a 1-D torch tensor of the traced length and
        dtype), as a NumPy array in the order of ``D_y``'s entries."""
        P = [None] * self._nslots
        P[0] = x.detach()
        W = [None] * len(self._weights)
        with torch.no_grad():
            for kind, item in self._replay:
                if kind == "weight":
                    W[item] = self._weight_value(self._weights[item], P)
                    continue
                func, args, kwargs, outs = item
                res = func(*_fill(args, P), **_fill(kwargs, P))
                for s, o in zip(outs, (o for o in _flat([res]) if isinstance(o, torch.Tensor))):
                    P[s] = o
        bufs = getattr(self._local, "buffers", None)
        if bufs is None:
            bufs = [np.empty(size, dtype=self._dtype) for size in self._buffers]
            bufs[0].fill(1)
            self._local.buffers = bufs
        real = self._dtype.type
        for b, assign, ops in self._kernels:
            out = bufs[b]
            if not assign:
                out.fill(0)
            for dst, src, ib, scale, w in ops:
                if w is None:
                    _kernels.accumulate(out, dst, src, bufs[ib], real(scale), assign)
                else:
                    _kernels.accumulate_weighted(out, dst, src, bufs[ib], W[w[0]], w[1],
                                                 real(scale), assign)
                assign = False
        r = self._result
        if r is None:
            return np.zeros(self.nnz, dtype=self._dtype)
        vals = bufs[r.buf].copy() if r.idx is None else bufs[r.buf][r.idx]
        if r.scale != 1.0:
            vals *= r.scale
        return vals
