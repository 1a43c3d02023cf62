"""Assembly formats: ``bsr_array``/``bsr_matrix``, ``lil_array``/``lil_matrix``,
``dok_array``/``dok_matrix``.

These formats exist to build or store a matrix, not to compute with it, so spgrad does not
re-implement them and they are not differentiable: each class *is* SciPy's class (a subclass,
so ``scipy.sparse.issparse``, ``isspmatrix_lil`` and SciPy's own functions accept it), with
spgrad's family marker (``spgrad.sparray`` or ``spgrad.spmatrix``) mixed in and a boundary
around every public method, operator and property:

- **operands in**: spgrad containers passed to a method or constructor are handed to SciPy as
  SciPy objects (torch values detached to NumPy);
- **results out**: a sparse result that SciPy returns as CSR/CSC/COO/DIA comes back as spgrad's
  native container of the same format and family (sharing the arrays); a BSR/LIL/DOK result
  comes back as the class of this module.

The boundary applies only to calls from outside SciPy: when SciPy's own code calls a method
of these objects (``self.tocsr()`` inside ``lil_array.__add__``, or ``csgraph`` converting its
input), it gets SciPy's objects, exactly as if the object were SciPy's.
"""

import functools
import inspect
import sys

import scipy.sparse as _sps

from . import _backend
from ._base import _register, _spbase, sparray
from ._matrix import spmatrix

__all__ = ["bsr_array", "bsr_matrix", "dok_array", "dok_matrix", "lil_array", "lil_matrix",
           "isspmatrix_bsr", "isspmatrix_dok", "isspmatrix_lil"]

_ASSEMBLY = ("bsr", "lil", "dok")
_NATIVE = ("csr", "csc", "coo", "dia")

# format -> {family: class}; filled at the bottom of this module
_CLASSES = {}


# ------------------------------------------------------------------------ boundary helpers
def _called_from_scipy(depth=2):
    """True when the code calling the boundary method belongs to SciPy."""
    name = sys._getframe(depth).f_globals.get("__name__", "")
    return name == "scipy" or name.startswith("scipy.")


def _scipy_of(A):
    """The SciPy object of a spgrad native container, with torch values detached to NumPy."""
    from ._interop import to_scipy

    if getattr(A, "_is_torch", False):
        A = A._with_data(_backend.to_numpy(A.data), copy=False)
    return to_scipy(A)


def _plain(x):
    """An operand as SciPy understands it: spgrad containers become SciPy objects, torch
    tensors NumPy arrays (detached); tuples and lists are converted element by element."""
    if isinstance(x, _spbase):
        return _scipy_of(x)
    if _backend.is_tensor(x):
        return _backend.to_numpy(x)
    if type(x) in (tuple, list):
        return type(x)(_plain(v) for v in x)
    return x


def _adopt(S, array=None):
    """The spgrad class of the SciPy BSR/LIL/DOK object ``S``, sharing its storage."""
    if array is None:
        array = isinstance(S, _sps.sparray)
    cls = _CLASSES[S.format][array]
    if isinstance(S, cls):
        return S
    if isinstance(S, _sps.sparray) == array:
        A = cls.__new__(cls)
        A.__dict__.update(S.__dict__)
        return A
    return cls(S)


def _native(x):
    """A result of SciPy's code as spgrad returns it (see the module docstring)."""
    if isinstance(x, _spbase) or not _sps.issparse(x):
        if type(x) is tuple:
            return tuple(_native(v) for v in x)
        return x
    if x.format in _ASSEMBLY:
        return _adopt(x)
    if x.ndim != 2:
        # spgrad's containers are 2-D today (n-D COO is issue 3): keep SciPy's object
        return x
    from ._interop import from_scipy

    return from_scipy(x)


def _boundary(method):
    """Wrap a SciPy method: operands converted in, results converted out (not for SciPy)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if _called_from_scipy():
            return method(self, *args, **kwargs)
        args = tuple(_plain(a) for a in args)
        kwargs = {k: _plain(v) for k, v in kwargs.items()}
        return _native(method(self, *args, **kwargs))

    return wrapper


def _boundary_property(prop):
    def fget(self):
        value = prop.fget(self)
        return value if _called_from_scipy() else _native(value)

    return property(fget, prop.fset, prop.fdel, prop.__doc__)


# Methods that are SciPy bookkeeping or cannot return or take a sparse object.
_UNWRAPPED = {"__init__", "__iter__", "__len__", "__bool__", "__class_getitem__", "__repr__",
              "__str__", "__contains__", "__reversed__", "__getstate__", "__setstate__",
              "fromkeys", "check_format", "getformat", "getmaxprint", "get_shape",
              "set_shape", "getnnz", "count_nonzero"}
# SciPy's private operator hooks that spgrad's own operators call on the other operand
# (``dia + lil`` ends in ``lil._add_sparse(dia)``): at the boundary too.
_WRAPPED_HOOKS = {"_add_sparse", "_sub_sparse", "_add_dense", "_sub_dense", "_rsub_dense",
                  "_mul_scalar", "_matmul_sparse", "_matmul_dispatch", "_rmatmul_dispatch",
                  "_divide", "_multiply_2d_with_broadcasting", "_real", "_imag"}
_WRAPPED_PROPERTIES = ("T", "real", "imag")
_COMPARISONS = ("__eq__", "__ne__", "__lt__", "__gt__", "__le__", "__ge__")


def _methods_to_wrap(scipy_cls):
    for name in dir(scipy_cls):
        if name in _UNWRAPPED:
            continue
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")) \
                and name not in _WRAPPED_HOOKS:
            continue
        static = inspect.getattr_static(scipy_cls, name)
        if not inspect.isfunction(static):
            continue
        if name.startswith("__") and name not in _COMPARISONS and hasattr(object, name):
            continue
        yield name, static


def _to_scipy(self):
    """The SciPy object of the same format and family, sharing this one's storage.

    Examples
    --------
    >>> import spgrad as sp
    >>> S = sp.lil_array([[1, 0], [0, 2]]).to_scipy()
    >>> type(S).__module__, type(S).__name__
    ('scipy.sparse._lil', 'lil_array')
    """
    cls = getattr(_sps, f"{self.format}_{'array' if isinstance(self, sparray) else 'matrix'}")
    S = cls.__new__(cls)
    S.__dict__.update(self.__dict__)
    return S


def _make_init(scipy_cls):
    def __init__(self, arg1, *args, **kwargs):
        scipy_cls.__init__(self, _plain(arg1), *args,
                           **{k: _plain(v) for k, v in kwargs.items()})

    __init__.__doc__ = scipy_cls.__init__.__doc__
    return __init__


_EXAMPLES = {
    "bsr": """
    >>> import numpy as np
    >>> import spgrad as sp
    >>> A = sp.{name}(np.arange(1, 17).reshape(4, 4), blocksize=(2, 2))
    >>> A.blocksize, A.nnz
    ((2, 2), 16)
    >>> type(A.tocsr()).__name__
    'csr_{family}'
""",
    "lil": """
    >>> import spgrad as sp
    >>> A = sp.{name}((3, 3))
    >>> A[0, 1] = 2.0
    >>> A[2, 0] = -1.0
    >>> B = A.tocsr()
    >>> type(B).__name__, B.nnz
    ('csr_{family}', 2)
""",
    "dok": """
    >>> import spgrad as sp
    >>> A = sp.{name}((3, 3))
    >>> A[1, 2] = 5.0
    >>> dict(A.items())
    {{(1, 2): np.float64(5.0)}}
    >>> type(A.tocoo()).__name__
    'coo_{family}'
""",
}

_FULL_NAMES = {"bsr": "Block Sparse Row", "lil": "List of Lists (row-based linked list)",
               "dok": "Dictionary Of Keys"}


def _class_doc(fmt, family):
    name = f"{fmt}_{family}"
    return f"""{_FULL_NAMES[fmt]} sparse {family}: SciPy's ``scipy.sparse.{name}`` in spgrad.

    Construction, attributes, indexing and methods are SciPy's (see the SciPy documentation of
    ``scipy.sparse.{name}``); the object is an instance of SciPy's class as well as of
    ``spgrad.{'sparray' if family == 'array' else 'spmatrix'}``. Spgrad containers are accepted
    wherever SciPy accepts sparse input, and conversions (``tocsr``, ``tocsc``, ``tocoo``,
    ``todia``, ``asformat``) and sparse results of arithmetic come back as spgrad containers of
    the {family} family. ``to_scipy()`` gives SciPy's own object, sharing the storage.

    This format is not differentiable: torch values given to it are detached and stored as
    NumPy arrays. Convert to CSR (``tocsr()``) and call ``requires_grad_()`` there.

    Examples
    --------{_EXAMPLES[fmt].format(name=name, family=family)}"""


def _make_class(fmt, family):
    scipy_cls = getattr(_sps, f"{fmt}_{family}")
    marker = sparray if family == "array" else spmatrix
    namespace = {
        "__module__": __name__,
        "__doc__": _class_doc(fmt, family),
        "__init__": _make_init(scipy_cls),
        "to_scipy": _to_scipy,
    }
    for name, method in _methods_to_wrap(scipy_cls):
        namespace[name] = _boundary(method)
    for name in _WRAPPED_PROPERTIES:
        namespace[name] = _boundary_property(inspect.getattr_static(scipy_cls, name))
    # SciPy's class first so that its behaviour wins over the marker's defaults.
    cls = type(f"{fmt}_{family}", (scipy_cls, marker), namespace)
    cls.__qualname__ = cls.__name__
    return cls


for _fmt in _ASSEMBLY:
    _array_cls = _make_class(_fmt, "array")
    _matrix_cls = _make_class(_fmt, "matrix")
    _CLASSES[_fmt] = {True: _array_cls, False: _matrix_cls}
    _register(_fmt, _array_cls, _matrix_cls)

bsr_array, bsr_matrix = _CLASSES["bsr"][True], _CLASSES["bsr"][False]
lil_array, lil_matrix = _CLASSES["lil"][True], _CLASSES["lil"][False]
dok_array, dok_matrix = _CLASSES["dok"][True], _CLASSES["dok"][False]
del _fmt, _array_cls, _matrix_cls


def _predicate(fmt):
    scipy_matrix = getattr(_sps, f"{fmt}_matrix")

    def predicate(x):
        return isinstance(x, scipy_matrix)

    predicate.__name__ = predicate.__qualname__ = f"isspmatrix_{fmt}"
    predicate.__module__ = __name__
    predicate.__doc__ = f"""True if ``x`` is a ``{fmt}_matrix`` (spgrad's or SciPy's), not
    a ``{fmt}_array``.

    Examples
    --------
    >>> import spgrad as sp
    >>> sp.isspmatrix_{fmt}(sp.{fmt}_matrix((2, 2))), sp.isspmatrix_{fmt}(sp.{fmt}_array((2, 2)))
    (True, False)
    """
    return predicate


isspmatrix_bsr = _predicate("bsr")
isspmatrix_dok = _predicate("dok")
isspmatrix_lil = _predicate("lil")


def convert_native(A, method, *args, **kwargs):
    """``A.<method>(...)`` computed by SciPy on the SciPy object of the spgrad container
    ``A`` (torch values detached), result converted back: how the native formats implement
    ``tobsr``, ``tolil`` and ``todok``."""
    return _native(getattr(_scipy_of(A), method)(*args, **kwargs))
