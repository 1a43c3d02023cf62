"""A stand-in for CuPy on machines without a GPU: "device" arrays that live in host memory but
behave like CuPy's where spgrad's GPU code could go wrong.

- :class:`ndarray` wraps a NumPy array. Like a CuPy array it refuses implicit conversion to
  NumPy (``np.asarray(a)`` raises ``TypeError``), reductions and integer indexing return 0-d
  device arrays, ``int(a)``/``float(a)``/``bool(a)`` read a scalar back (a synchronisation,
  counted), and ``a.get()``/``asnumpy(a)`` copy to the host (counted). Stricter than CuPy, it
  also refuses to mix host arrays into device operations (arithmetic, indexing, NumPy
  functions), so code that would silently copy a host array to the device fails here.
- The module functions (``empty``, ``zeros``, ``arange``, ``cumsum``, ``concatenate``, …) are
  NumPy's, taking and returning device arrays; ``asarray``/``array`` copy host data to the
  device (counted). ``repeat`` refuses an array of counts, as CuPy before v14 does.
- ``cupyx`` (the vendor routines spgrad calls: ``csr_matrix``, ``SuperLU``,
  ``spsolve_triangular``, ``spsolve``, ``eigsh``, ``svds``, ``lobpcg``,
  ``check_availability``) computes with SciPy on the device arrays' memory and
  mimics what spgrad relies on in cupyx: single-precision triangular results widened to
  float64, a warning (not an error) for a singular ``spsolve``, int32 indices only.
- :func:`install` puts this module in ``sys.modules["cupy"]`` and installs a launch backend
  that runs spgrad's CUDA kernels through the C++ emulation of ``cuda_support`` on the device
  arrays' memory; it refuses host arrays, as a real launch would. torch tensors then count as
  on the emulated GPU, sharing memory with device arrays through DLPack (``from_dlpack``,
  ``__dlpack__``; no transfer).

``transfers`` counts what crossed between host and device, so tests can assert that an
operation made no round trip.
"""

import sys
import types
from collections import Counter

import numpy as np

#: "h2d" / "d2h" array copies and "scalar" reads since the last reset
transfers = Counter()


class HostDeviceMixError(TypeError):
    pass


class Device:
    """``cupy.cuda.Device``: only device 0 exists."""

    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)
        if self.id != 0:
            raise ValueError(f"emulated CuPy has one device (0), got {self.id}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


def _unwrap(x):
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray):
        raise HostDeviceMixError(
            f"emulated CuPy: a NumPy array (shape {x.shape}, {x.dtype}) was mixed into a "
            f"device operation; move it with cupy.asarray first"
        )
    if isinstance(x, (tuple, list)):
        return type(x)(_unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    if isinstance(x, slice):
        return slice(_unwrap(x.start), _unwrap(x.stop), _unwrap(x.step))
    return x


def _wrap(x):
    if isinstance(x, np.ndarray):
        return ndarray(x)
    if isinstance(x, np.generic):  # CuPy's reductions and item reads give 0-d arrays
        return ndarray(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


def _device_call(function):
    def call(*args, **kwargs):
        return _wrap(function(*_unwrap(args), **_unwrap(kwargs)))

    call.__name__ = getattr(function, "__name__", "function")
    return call


class ndarray:
    """A device array (see the module docstring)."""

    __slots__ = ("_a",)

    def __init__(self, a):
        self._a = a

    # ----------------------------------------------------------------- attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray(self._a.T))
    real = property(lambda self: ndarray(self._a.real))
    imag = property(lambda self: ndarray(self._a.imag))
    device = property(lambda self: Device(0))
    #: the memory pointer (``.data.ptr``) that CuPy's low-level library bindings take
    data = property(lambda self: types.SimpleNamespace(ptr=self._a.ctypes.data))

    def __getattr__(self, name):
        if name.startswith("__"):  # no __array_interface__ & co: NumPy must not see memory
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):
            return _device_call(attr)
        return _wrap(attr)

    # ------------------------------------------------------------- host transfers
    def get(self):
        transfers["d2h"] += 1
        return self._a.copy()

    def __dlpack__(self, **kwargs):  # zero copy, as between CuPy and torch on one GPU
        return self._a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                        "`.get()` to construct a NumPy array explicitly.")

    def _scalar(self, convert):
        if self._a.size != 1:
            raise TypeError(f"only size-1 device arrays convert to Python scalars, got "
                            f"shape {self.shape}")
        transfers["scalar"] += 1
        return convert(self._a.reshape(()).item()) if convert is not bool else bool(self._a)

    def __int__(self):
        return self._scalar(int)

    def __index__(self):
        if self.dtype.kind not in "iub":
            raise TypeError(f"only integer device arrays are indices, got {self.dtype}")
        return self._scalar(int)

    def __float__(self):
        return self._scalar(float)

    def __complex__(self):
        return self._scalar(complex)

    def __bool__(self):
        return self._scalar(bool)

    def item(self):
        transfers["scalar"] += 1
        return self._a.item()

    def tolist(self):
        transfers["d2h"] += 1
        return self._a.tolist()

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for i in range(len(self._a)):
            yield ndarray(np.asarray(self._a[i]))

    def __repr__(self):
        return repr(self._a)

    # ---------------------------------------------------------- indexing, operators
    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key)])

    def __setitem__(self, key, value):
        self._a[_unwrap(key)] = _unwrap(value)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _wrap(getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs)))

    def __array_function__(self, func, types, args, kwargs):
        if func is np.repeat:  # CuPy's own repeat, with its restriction
            return _repeat(*args, **kwargs)
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    __hash__ = None


def _operator(name):
    def method(self, *args):
        return _wrap(getattr(self._a, name)(*_unwrap(args)))

    method.__name__ = name
    return method


for _name in ("add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "floordiv",
              "rfloordiv", "mod", "rmod", "pow", "rpow", "matmul", "rmatmul", "and", "rand",
              "or", "ror", "xor", "rxor", "lshift", "rshift", "eq", "ne", "lt", "le", "gt",
              "ge", "neg", "pos", "abs", "invert", "iadd", "isub", "imul", "itruediv"):
    setattr(ndarray, f"__{_name}__", _operator(f"__{_name}__"))


# ------------------------------------------------------------------ the module
module = types.ModuleType("cupy", __doc__)
module.ndarray = ndarray
module.transfers = transfers


def _asarray(a, dtype=None, order=None):
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == np.dtype(dtype) else a.astype(dtype)
    transfers["h2d"] += 1
    return ndarray(np.array(a, dtype=dtype, order=order, copy=True))


def _array(a, dtype=None, copy=True, order="K"):
    if isinstance(a, ndarray):
        return ndarray(np.array(a._a, dtype=dtype, copy=copy, order=order))
    transfers["h2d"] += 1
    return ndarray(np.array(a, dtype=dtype, copy=True, order=order))


def _asnumpy(a):
    return a.get() if isinstance(a, ndarray) else np.asarray(a)


def _getattr(name):
    if name.startswith("__"):
        raise AttributeError(name)
    attr = getattr(np, name)
    if callable(attr) and not isinstance(attr, type):
        wrapped = _device_call(attr)
        setattr(module, name, wrapped)
        return wrapped
    return attr


def _stable(sort):
    """CuPy's sorts are stable, and take no other ``kind``."""
    def call(a, axis=-1, kind=None):
        if kind not in (None, "stable"):
            raise NotImplementedError(f"emulated CuPy: sorts are stable only, got kind={kind!r}")
        return _wrap(sort(_unwrap(a), axis=axis, kind="stable"))

    return call


def _repeat(a, repeats, axis=None):
    """CuPy before v14 refuses an array of counts (NumPy takes one)."""
    if isinstance(repeats, ndarray):
        raise ValueError("cupy.ndaray cannot be specified as `repeats` argument.")
    return _wrap(np.repeat(_unwrap(a), repeats, axis))


module.repeat = _repeat
ndarray.repeat = lambda self, repeats, axis=None: _repeat(self, repeats, axis)
module.argsort = _stable(np.argsort)
module.sort = _stable(np.sort)
ndarray.argsort = lambda self, axis=-1, kind=None: module.argsort(self, axis, kind)
module.from_dlpack = lambda t: ndarray(np.from_dlpack(t))
module.asarray = _asarray
module.array = _array
module.asnumpy = _asnumpy
module.ascontiguousarray = lambda a, dtype=None: _wrap(
    np.ascontiguousarray(_unwrap(_asarray(a)), dtype=dtype))
module.__getattr__ = _getattr


class CUDARuntimeError(RuntimeError):
    pass


module.cuda = types.SimpleNamespace(
    Device=Device,
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1, getDevice=lambda: 0,
                                  deviceSynchronize=lambda: None,
                                  CUDARuntimeError=CUDARuntimeError),
)


# --------------------------------------------------------------------------------------------
# cupyx: the vendor routines spgrad calls (spgrad._cuda._vendor), computed by SciPy on the
# device arrays' memory, with the behaviour of cupyx that spgrad relies on
# --------------------------------------------------------------------------------------------

#: capabilities ``cupyx.cusparse/cusolver.check_availability`` report (tests may remove some)
available = {"spsm", "csrsm2", "csrlsvqr"}


class csr_matrix:
    """``cupyx.scipy.sparse.csr_matrix((data, indices, indptr), shape=...)`` on device arrays;
    stricter than cupyx, it refuses index arrays that are not int32 (cuSPARSE's only width,
    to which cupyx would cast silently)."""

    format = "csr"

    def __init__(self, arg, shape):
        data, indices, indptr = arg
        for name, a in (("data", data), ("indices", indices), ("indptr", indptr)):
            if not isinstance(a, ndarray):
                raise HostDeviceMixError(f"emulated cupyx: csr_matrix {name} is not a device "
                                         f"array")
        if indices.dtype != np.int32 or indptr.dtype != np.int32:
            raise TypeError(f"emulated cupyx: cuSPARSE takes int32 indices, got "
                            f"{indices.dtype}/{indptr.dtype}")
        self.data, self.indices, self.indptr, self.shape = data, indices, indptr, shape
        self.dtype = data.dtype

    def _scipy(self):
        import scipy.sparse

        return scipy.sparse.csr_array((self.data._a, self.indices._a, self.indptr._a),
                                      shape=self.shape)


def _spsolve_triangular(A, b, lower=True, overwrite_A=False, overwrite_b=False,
                        unit_diagonal=False):
    import scipy.sparse.linalg

    if not isinstance(A, csr_matrix) or not isinstance(b, ndarray):
        raise TypeError("emulated cupyx.spsolve_triangular takes a csr_matrix and a device b")
    x = scipy.sparse.linalg.spsolve_triangular(A._scipy(), b._a.astype(A.dtype), lower=lower,
                                               unit_diagonal=unit_diagonal)
    if x.dtype.char in "fF":  # cupyx widens single precision results
        x = x.astype(np.promote_types(x.dtype, np.float64))
    return ndarray(x)


def _spsolve(A, b):
    import warnings

    import scipy.sparse.linalg

    if not isinstance(A, csr_matrix) or not isinstance(b, ndarray):
        raise TypeError("emulated cupyx.spsolve takes a csr_matrix and a device b")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x = scipy.sparse.linalg.spsolve(A._scipy().tocsc(), b._a.astype(A.dtype))
    if x.ndim == 2:  # cupyx solves column by column into a Fortran-ordered result
        x = np.asfortranarray(x)
    if any(issubclass(w.category, scipy.sparse.linalg.MatrixRankWarning) for w in caught):
        # cuSOLVER reports a singular matrix; cupyx warns and returns what it computed
        warnings.warn("A is not positive definite or near singular under tolerance 0.0 "
                      "(singularity: [0])", stacklevel=2)
        x = np.zeros_like(x)
    return ndarray(x)


class _SuperLU:
    """``cupyx.scipy.sparse.linalg.SuperLU(obj)``: the GPU solver of a SciPy factorisation
    (its L, U and permutations copied to the device; cupyx solves with cuSPARSE's triangular
    solves); here SciPy's own solve on the device arrays' memory. Like cupyx, ``solve``
    takes device arrays only, casts the right-hand side to the factors' dtype and returns
    2-D results in Fortran order."""

    def __init__(self, obj):
        import scipy.sparse.linalg

        if not isinstance(obj, scipy.sparse.linalg.SuperLU):
            raise TypeError("obj must be scipy.sparse.linalg.SuperLU")
        transfers["h2d"] += 1  # the factors, copied to the device once
        self._obj = obj
        self.shape, self.nnz = obj.shape, obj.nnz
        self.dtype = obj.L.dtype

    def solve(self, rhs, trans="N"):
        if not isinstance(rhs, ndarray):
            raise TypeError("emulated cupyx.SuperLU.solve takes a device rhs")
        if rhs.ndim not in (1, 2):
            raise ValueError(f"rhs.ndim must be 1 or 2 (actual: {rhs.ndim})")
        if rhs.shape[0] != self.shape[0]:
            raise ValueError(f"shape mismatch (self.shape: {self.shape}, rhs.shape: "
                             f"{rhs.shape})")
        if trans not in ("N", "T", "H"):
            raise ValueError("trans must be 'N', 'T', or 'H'")
        x = self._obj.solve(rhs._a.astype(self.dtype), trans=trans)
        return ndarray(np.asfortranarray(x) if x.ndim == 2 else x)


def _host_operand(a):
    """The host counterpart of a cupyx operand (a csr_matrix, a device array, or None)."""
    if isinstance(a, csr_matrix):
        return a._scipy()
    if isinstance(a, ndarray):
        return a._a
    if a is not None:
        raise TypeError(f"emulated cupyx: expected a csr_matrix or a device array, got "
                        f"{type(a).__name__}")
    return None


def _check_eigen_operand(a, k, limit):
    if a.dtype.char not in "fdFD":
        raise TypeError(f"unsupprted dtype (actual: {a.dtype})")
    if not 0 < k < limit:
        raise ValueError(f"k must be between 1 and {limit - 1} (actual: {k})")


def _eigsh(a, k=6, *, which="LM", v0=None, ncv=None, maxiter=None, tol=0,
           return_eigenvectors=True):
    """cupyx's eigsh (thick-restart Lanczos): which 'LM', 'LA' or 'SA', eigenvalues in
    ascending order; here ARPACK's through SciPy, on the device arrays' memory."""
    import scipy.sparse.linalg

    _check_eigen_operand(a, k, a.shape[0])
    if which not in ("LM", "LA", "SA"):
        raise ValueError(f"which must be 'LM','LA'or'SA' (actual: {which})")
    w, V = scipy.sparse.linalg.eigsh(_host_operand(a), k=k, which=which, v0=_host_operand(v0),
                                     ncv=ncv, maxiter=maxiter, tol=tol)
    order = np.argsort(w)
    if not return_eigenvectors:
        return ndarray(w[order])
    return ndarray(w[order]), ndarray(np.ascontiguousarray(V[:, order]))


def _svds(a, k=6, *, ncv=None, tol=0, which="LM", maxiter=None, return_singular_vectors=True):
    """cupyx's svds (Lanczos on AᴴA): which='LM' only, singular values ascending; here
    ARPACK's through SciPy."""
    import scipy.sparse.linalg

    _check_eigen_operand(a, k, min(a.shape))
    if which != "LM":
        raise ValueError(f"which must be 'LM' (actual: {which})")
    u, s, vh = scipy.sparse.linalg.svds(_host_operand(a), k=k, ncv=ncv, tol=tol,
                                        maxiter=maxiter)
    order = np.argsort(s)
    if not return_singular_vectors:
        return ndarray(s[order])
    return (ndarray(np.ascontiguousarray(u[:, order])), ndarray(s[order]),
            ndarray(np.ascontiguousarray(vh[order])))


def _lobpcg(A, X, B=None, M=None, Y=None, tol=None, maxiter=None, largest=True,
            verbosityLevel=0, retLambdaHistory=False, retResidualNormsHistory=False):
    """cupyx's lobpcg (no restartControl); here SciPy's, on the device arrays' memory."""
    import scipy.sparse.linalg

    result = scipy.sparse.linalg.lobpcg(
        _host_operand(A), _host_operand(X), B=_host_operand(B), M=_host_operand(M),
        Y=_host_operand(Y), tol=tol, maxiter=maxiter, largest=largest,
        verbosityLevel=verbosityLevel, retLambdaHistory=retLambdaHistory,
        retResidualNormsHistory=retResidualNormsHistory)
    return tuple(ndarray(np.ascontiguousarray(r)) if isinstance(r, np.ndarray)
                 else [ndarray(np.asarray(h)) for h in r] for r in result)


def _check_availability(name):
    return name in available


cupyx = types.ModuleType("cupyx")
cupyx.scipy = types.ModuleType("cupyx.scipy")
cupyx.scipy.sparse = types.ModuleType("cupyx.scipy.sparse")
cupyx.scipy.sparse.csr_matrix = csr_matrix
cupyx.scipy.sparse.linalg = types.ModuleType("cupyx.scipy.sparse.linalg")
cupyx.scipy.sparse.linalg.spsolve_triangular = _spsolve_triangular
cupyx.scipy.sparse.linalg.spsolve = _spsolve
cupyx.scipy.sparse.linalg.SuperLU = _SuperLU
cupyx.scipy.sparse.linalg.eigsh = _eigsh
cupyx.scipy.sparse.linalg.svds = _svds
cupyx.scipy.sparse.linalg.lobpcg = _lobpcg
cupyx.cusparse = types.ModuleType("cupyx.cusparse")
cupyx.cusparse.check_availability = _check_availability
cupyx.cusolver = types.ModuleType("cupyx.cusolver")
cupyx.cusolver.check_availability = _check_availability
_CUPYX_MODULES = {"cupyx": cupyx, "cupyx.scipy": cupyx.scipy,
                  "cupyx.scipy.sparse": cupyx.scipy.sparse,
                  "cupyx.scipy.sparse.linalg": cupyx.scipy.sparse.linalg,
                  "cupyx.cusparse": cupyx.cusparse, "cupyx.cusolver": cupyx.cusolver}


def _emulated_tensor_device(t):
    return "cuda:0" if t.device.type == "cpu" else str(t.device)


class DeviceLaunchBackend:
    """Runs the launchers' kernels on the emulated device arrays' memory through the C++
    emulation (``cuda_support.EmulatedBackend``); host arrays are refused."""

    def __init__(self, emulation):
        self.emulation = emulation

    def launch(self, kernel, index_dtype, value_dtype, grid, block, args):
        from spgrad._cuda import _launch

        unwrapped = []
        for kind, a in zip(_launch.KERNELS[kernel], args):
            if kind != "n":
                if not isinstance(a, ndarray):
                    raise TypeError(f"spgrad_{kernel} expected CuPy arrays on the GPU, got "
                                    f"{type(a).__module__}.{type(a).__name__}")
                a = a._a
            unwrapped.append(a)
        self.emulation.launch(kernel, index_dtype, value_dtype, grid, block, unwrapped)


def install(monkeypatch, emulation):
    """Make ``import cupy`` give this module and run GPU launches on the emulation, until
    ``monkeypatch`` is undone.

    torch tensors then count as on the emulated GPU (``cuda:0``): device arrays and tensors
    share memory through DLPack as CuPy and CUDA tensors do, and a tensor made from a device
    array, or moved there, is a CPU tensor. (So CPU tensors cannot be told apart from
    "device" ones: tests that mix the two run on a real GPU only.)
    """
    from spgrad import _backend
    from spgrad._cuda import _launch

    monkeypatch.setattr(_backend, "tensor_device", _emulated_tensor_device)
    monkeypatch.setitem(sys.modules, "cupy", module)
    for name, mod in _CUPYX_MODULES.items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(_launch, "_backend", DeviceLaunchBackend(emulation))
    transfers.clear()
    return module
