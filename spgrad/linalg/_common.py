"""What every solver in ``spgrad.linalg`` does at its boundary.

Plain mode hands the work to ``scipy.sparse.linalg``: spgrad containers become the SciPy
objects that share their arrays (:func:`to_scipy`), and sparse results come back as spgrad
containers of the family SciPy chose (:func:`from_scipy_result`), so values, ``info`` codes,
callbacks, warnings and errors are SciPy's own. Differentiable mode is chosen as soon as a
sparse operand holds torch values or a dense operand is a torch tensor
(:func:`is_differentiable`).
"""

import functools

from .. import _backend
from .._assembly import _native, _plain
from .._base import _spbase

__all__ = []


def is_differentiable(*operands, gpu=False):
    """True when any operand is a torch tensor or an spgrad container with torch values, or
    a linear operator that declares torch support (attribute ``_spgrad_torch``).

    ``gpu`` says that the caller handles operands on a GPU itself (every differentiable
    function of ``spgrad.linalg`` does when its matrix is there).

    Raises
    ------
    ValueError
        In differentiable mode without ``gpu``, when an operand is on a GPU: the caller's
        matrix is on the CPU, so the operands are on different devices.
    """
    differentiable = any(
        _backend.is_tensor(x) or getattr(x, "_spgrad_torch", False)
        or (isinstance(x, _spbase) and _backend.is_tensor(getattr(x, "data", None)))
        for x in operands)
    if differentiable and not gpu:
        for x in operands:
            on_gpu = (x.device.type == "cuda" if _backend.is_tensor(x)
                      else isinstance(x, _spbase) and x._on_gpu)
            if on_gpu:
                raise ValueError(f"operands on different devices: cpu and "
                                 f"{_backend.device_of(x)}; move them to one device "
                                 f"(.cpu(), or .to('cuda') for the matrix)")
    return differentiable


def _gpu_device(x):
    """The GPU an operand lives on (an spgrad array there, a CuPy array, or an operator of
    one), else None."""
    if isinstance(x, _spbase) and x._on_gpu:
        return x.device
    if _backend.is_device_array(x):
        return _backend.device_of(x)
    inner = getattr(x, "A", None)  # a MatrixLinearOperator
    if inner is not None and inner is not x and not isinstance(inner, type):
        return _gpu_device(inner)
    if type(x) in (tuple, list):
        return next((d for d in map(_gpu_device, x) if d is not None), None)
    return None


def to_scipy(x, what=None):
    """An operand as SciPy's solvers take it: spgrad containers become SciPy objects sharing
    their arrays, torch tensors NumPy arrays (detached); anything else is returned as is.

    Raises
    ------
    NotImplementedError
        For an operand on a GPU: SciPy runs on the host, and spgrad never computes on a
        silent copy (``what`` names the function in the message).
    """
    device = _gpu_device(x)
    if device is not None:
        raise NotImplementedError(
            f"{what or 'this function of spgrad.linalg'} does not run on the GPU yet, and an "
            f"operand is on {device}; move the operands to the CPU (A.cpu(), x.get()), or see "
            f"the user guide's GPU section for the solvers that run there")
    return _plain(x)


def from_scipy_result(x):
    """A SciPy result with every sparse part (also inside tuples) as an spgrad container."""
    return _native(x)


def scipy_wrapper(function):
    """Wrap a ``scipy.sparse.linalg`` function for plain mode: operands converted in, sparse
    results converted out, SciPy's signature and docstring kept."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        what = f"spgrad.linalg.{function.__name__}"
        args = tuple(to_scipy(a, what) for a in args)
        kwargs = {k: to_scipy(v, what) for k, v in kwargs.items()}
        return from_scipy_result(function(*args, **kwargs))

    wrapper.__module__ = "spgrad.linalg"
    return wrapper
