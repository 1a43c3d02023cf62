"""Device dispatch and array-library interop.

Every kernel module (``spgrad._cpu``, and ``spgrad._cuda`` for CuPy arrays) exposes the same
function names and signatures, so the container layer asks this module for the kernels that
match its arrays (:func:`kernels`) and for the array module that allocates beside them
(:func:`array_module`: NumPy or CuPy), and never imports a kernel module directly. Devices are
named by strings: ``"cpu"``, or ``"cuda:N"`` for CuPy arrays and CUDA tensors on GPU ``N``.

This module also owns the zero-copy conversions between torch tensors and the kernels' arrays
used by the differentiable mode: NumPy views of CPU tensors, CuPy views of CUDA tensors through
DLPack (:func:`kernel_array`, :func:`tensor_of`), with the kernels launched on torch's current
stream (:func:`torch_stream`). torch is imported lazily, so plain NumPy use never loads it.
"""

import contextlib

import numbers
import sys

import numpy as np

from . import _cpu


def is_device_array(x):
    """True if ``x`` is a CuPy array (without importing CuPy when it is not loaded)."""
    cupy = sys.modules.get("cupy")  # CuPy arrays exist only if CuPy was imported
    return cupy is not None and isinstance(x, cupy.ndarray)


def _on_gpu(arrays):
    """Whether ``arrays`` (``None`` entries ignored) are CuPy arrays rather than NumPy arrays.

    Raises
    ------
    ValueError
        If some arrays are on the CPU and others on the GPU.
    TypeError
        If an array is neither a NumPy nor a CuPy array.
    """
    devices = set()
    for a in arrays:
        if a is None:
            continue
        if isinstance(a, np.ndarray):
            devices.add("cpu")
        elif is_device_array(a):
            devices.add("cuda")
        else:
            raise TypeError(
                f"spgrad kernels expected NumPy or CuPy arrays, got {type(a).__module__}."
                f"{type(a).__name__}"
            )
    if len(devices) > 1:
        raise ValueError("operands on different devices: cpu (NumPy arrays) and cuda (CuPy "
                         "arrays); move them to one device first")
    return "cuda" in devices


def kernels(*arrays):
    """Return the kernel module that serves ``arrays``: ``spgrad._cpu`` for NumPy arrays,
    ``spgrad._cuda`` for CuPy arrays (``None`` entries are ignored; the errors of
    :func:`_on_gpu` for mixed or foreign arrays)."""
    if _on_gpu(arrays):
        from . import _cuda

        return _cuda
    return _cpu


def dense_product(kernel, indptr, indices, data, X, Y, canonical):
    """Fill ``Y`` with the sparse-dense product of the kernel ``kernel`` (``csr_matvec``,
    ``csr_matvecs`` or their ``_transpose`` twins, with their arguments). On a GPU cuSPARSE
    computes it where it can and the policy allows (``spgrad._cuda._vendor.dense_product``);
    ``canonical()`` says whether the pattern is canonical, asked only then."""
    if indptr.__class__ is np.ndarray:
        getattr(_cpu, kernel)(indptr, indices, data, X, Y)
        return
    if _on_gpu((indptr,)):
        from ._cuda import _vendor

        if _vendor.dense_product(kernel, indptr, indices, data, X, Y, canonical):
            return
    getattr(kernels(indptr), kernel)(indptr, indices, data, X, Y)


def array_module(*arrays):
    """NumPy for NumPy arrays, CuPy for CuPy arrays: the module that allocates outputs beside
    ``arrays`` (same errors as :func:`kernels`)."""
    return sys.modules["cupy"] if _on_gpu(arrays) else np


def cupy_module():
    """Import and return CuPy, with a clear error when it is not installed."""
    try:
        import cupy
    except ImportError as e:
        raise ImportError("spgrad's GPU arrays need CuPy: pip install 'spgrad[cuda]'") from e
    return cupy


def parse_device(device):
    """The device name (``"cpu"`` or ``"cuda:N"``) of ``device``: a string such as ``"cpu"``,
    ``"cuda"`` (the current GPU) or ``"cuda:1"``, an integer GPU number, a ``torch.device`` or
    a ``cupy.cuda.Device``.

    Raises
    ------
    ValueError
        For anything else.
    """
    if isinstance(device, int) and not isinstance(device, bool):
        if device < 0:
            raise ValueError(f"a GPU number must be >= 0, got {device}")
        return f"cuda:{device}"
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(device, cupy.cuda.Device):
        return f"cuda:{device.id}"
    name = str(device) if type(device).__name__ == "device" else device  # torch.device
    if isinstance(name, str):
        kind, _, index = name.partition(":")
        if kind == "cpu" and not index:
            return "cpu"
        if kind == "cuda":
            if not index:
                return f"cuda:{cupy_module().cuda.runtime.getDevice()}"
            if index.isdigit():
                return f"cuda:{int(index)}"
    raise ValueError(f"expected a device such as 'cpu', 'cuda' or 'cuda:0', got {device!r}")


def _check_gpu(cupy, index):
    """Raise a clear error unless CUDA device ``index`` exists."""
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as e:
        raise RuntimeError(f"spgrad's GPU arrays need a CUDA device; CuPy reports: {e}") from e
    if count == 0:
        raise RuntimeError("spgrad's GPU arrays need a CUDA device; none was found")
    if index >= count:
        raise ValueError(f"there is no GPU cuda:{index}; this machine has {count} "
                         f"(cuda:0 to cuda:{count - 1})")


def to_device(a, device):
    """A NumPy or CuPy array (or a tuple of them) on ``device`` (a :func:`parse_device` name),
    copied only when it moves."""
    if isinstance(a, tuple):
        return tuple(to_device(c, device) for c in a)
    if device == "cpu":
        return a.get() if is_device_array(a) else a
    cupy = cupy_module()
    index = int(device.partition(":")[2])
    if is_device_array(a) and a.device.id == index:
        return a
    _check_gpu(cupy, index)
    with cupy.cuda.Device(index):
        return cupy.array(a, copy=True) if is_device_array(a) else cupy.asarray(a)


def repeat(a, counts):
    """``numpy.repeat(a, counts)`` for a 1-D ``a`` and an array of ``counts``, also for CuPy
    arrays: CuPy before v14 refuses an array of counts, so on the GPU each output position
    gathers the entry that owns it (a search in the cumulative counts)."""
    if not is_device_array(counts):
        return np.repeat(a, counts)
    xp = array_module(counts)
    ends = xp.cumsum(counts)
    total = int(ends[-1]) if len(ends) else 0
    return a[xp.searchsorted(ends, xp.arange(total), side="right")]


def stable_argsort(a):
    """Indices that sort ``a`` stably (CuPy's sorts are stable and take no ``kind``)."""
    return a.argsort() if is_device_array(a) else np.argsort(a, kind="stable")


def is_tensor(x):
    """True if ``x`` is a ``torch.Tensor`` (without importing torch when it is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_scalar_tensor(x):
    """True if ``x`` is a 0-d ``torch.Tensor``: a scalar operand, like a 0-d NumPy array."""
    return is_tensor(x) and x.ndim == 0


def tensor_device(t):
    """Device name of a torch tensor: ``"cpu"`` or ``"cuda:N"``."""
    device = t.device
    if device.type == "cuda":
        return f"cuda:{0 if device.index is None else device.index}"
    return str(device)


def device_of(x):
    """Device name of an operand: a tensor's or a CuPy array's device, a sparse container's
    device (where its index arrays live; its values live there too), or ``"cpu"`` for NumPy
    arrays, scalars and everything else."""
    if is_tensor(x):
        return tensor_device(x)
    if is_device_array(x):
        return f"cuda:{x.device.id}"
    if hasattr(x, "_array_names"):  # an spgrad container
        return device_of(x._index_array())
    return "cpu"


def check_same_device(a, b):
    """Raise ``ValueError`` naming both devices when two operands live on different devices
    (Python and NumPy scalars, 0-d NumPy arrays included, go anywhere)."""
    if (isinstance(b, (numbers.Number, np.generic)) or b is None
            or (isinstance(b, np.ndarray) and b.ndim == 0)):
        return
    da, db = device_of(a), device_of(b)
    if da != db:
        raise ValueError(f"operands on different devices: {da} and {db}")


def torch_module():
    """Import and return torch, with a clear error when it is not installed."""
    try:
        import torch
    except ImportError as e:  # pragma: no cover - exercised only without torch
        raise ImportError(
            "spgrad's differentiable mode needs PyTorch: pip install 'spgrad[torch]'"
        ) from e
    return torch


def numpy_dtype(dtype):
    """The NumPy dtype of a torch or NumPy dtype."""
    if isinstance(dtype, np.dtype):
        return dtype
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(dtype, torch.dtype):
        # a table, not torch.empty(0, dtype).numpy(): under torch.func transforms a new
        # tensor is a functorch wrapper without storage, which .numpy() refuses
        names = {torch.bool: "bool", torch.uint8: "uint8", torch.int8: "int8",
                 torch.int16: "int16", torch.int32: "int32", torch.int64: "int64",
                 torch.float16: "float16", torch.float32: "float32", torch.float64: "float64",
                 torch.complex64: "complex64", torch.complex128: "complex128"}
        if dtype not in names:
            raise TypeError(f"torch dtype {dtype} has no NumPy equivalent")
        return np.dtype(names[dtype])
    return np.dtype(dtype)


def torch_dtype(dtype):
    """The torch dtype of a NumPy dtype."""
    torch = torch_module()
    if isinstance(dtype, torch.dtype):
        return dtype
    return torch.from_numpy(np.empty(0, dtype=numpy_dtype(dtype))).dtype


def to_numpy(t):
    """A NumPy view of a CPU tensor's values (no autograd, no copy when possible)."""
    if not is_tensor(t):
        return np.asarray(t)
    t = t.detach()
    if t.device.type != "cpu":
        raise ValueError(
            f"spgrad's CPU kernels got a tensor on device {t.device}; GPU tensors need the "
            f"CUDA backend"
        )
    return t.resolve_conj().resolve_neg().numpy()


def as_tensor(x, like=None, dtype=None):
    """``x`` as a torch tensor (zero-copy from NumPy, and from CuPy through DLPack) on
    ``like``'s device, cast to ``dtype``."""
    torch = torch_module()
    if is_device_array(x):
        x = tensor_of(x)
    elif not is_tensor(x):
        x = np.asarray(x)  # (np.ascontiguousarray would make a 0-d array 1-d)
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        if not x.flags.writeable:  # e.g. a broadcast view; torch needs writable memory
            x = x.copy()
        x = torch.from_numpy(x)
    if like is not None and tensor_device(x) != tensor_device(like):
        raise ValueError(f"operands on different devices: {tensor_device(x)} and "
                         f"{tensor_device(like)}")
    if dtype is not None:
        x = x.to(torch_dtype(dtype))
    return x


def index_tensor(idx):
    """An int64 tensor of indices (for gathers and scatters) from a NumPy index array, or
    from a CuPy one (a CUDA tensor on its GPU, through DLPack)."""
    if is_device_array(idx):
        return tensor_of(idx.astype(np.int64, copy=False))
    torch = torch_module()
    return torch.from_numpy(np.ascontiguousarray(idx, dtype=np.int64))


def kernel_array(t, like):
    """The values of tensor ``t`` (no autograd, conjugate and negative bits resolved) as an
    array of the kernels serving ``like`` (an index array): a NumPy view of a CPU tensor, a
    CuPy view of a CUDA tensor through DLPack (zero copy).

    Raises
    ------
    ValueError
        If ``t`` is not on ``like``'s device.
    """
    if not is_tensor(t):
        return t
    if tensor_device(t) != device_of(like):
        raise ValueError(f"operands on different devices: {tensor_device(t)} (a tensor) and "
                         f"{device_of(like)} (a sparse matrix's arrays)")
    t = t.detach().resolve_conj().resolve_neg()
    if is_device_array(like):
        return sys.modules["cupy"].from_dlpack(t)
    return t.numpy()


def array_of(t):
    """A tensor's values on its own device, no autograd: a NumPy view of a CPU tensor, a CuPy
    view (through DLPack) of a CUDA tensor."""
    if t.device.type == "cuda":
        return cupy_module().from_dlpack(t.detach().resolve_conj().resolve_neg())
    return to_numpy(t)


def plain_bool(data):
    """``data`` itself, or torch bool values as a NumPy (CuPy) bool view: bool values carry no
    gradient, and torch's bool arithmetic is not NumPy's (a sum stays bool, ``-`` is refused),
    so a sparse matrix keeps them plain, as comparisons give them."""
    if is_tensor(data) and data.dtype == sys.modules["torch"].bool:
        return array_of(data)
    return data


def tensor_of(a):
    """A tensor sharing the memory of a kernel array: ``torch.from_numpy`` for NumPy,
    ``torch.from_dlpack`` for CuPy."""
    torch = torch_module()
    if is_device_array(a):
        return torch.from_dlpack(a)
    return torch.from_numpy(a)


def beside_values(values, arrays):
    """Index arrays (a tuple of NumPy arrays) on the device of ``values``: moved to the GPU
    of a tensor there (a sparse array's arrays live on one device), else as they are."""
    if is_tensor(values):
        device = tensor_device(values)
        if device != "cpu":
            return to_device(tuple(arrays), device)
    return tuple(arrays)


def move_tensor(t, device):
    """Tensor ``t`` on device ``device`` (a :func:`parse_device` name), differentiably (the
    gradient flows back to ``t``'s device); ``t`` itself when it is there."""
    if tensor_device(t) == device:
        return t
    return t.to(torch_module().device(device))


def torch_stream(like):
    """A context in which CuPy launches kernels on torch's current stream of ``like``'s
    GPU (a tensor), so they are ordered with torch's own work on it; no-op on the CPU."""
    if not (is_tensor(like) and like.device.type == "cuda"):
        return contextlib.nullcontext()
    torch = torch_module()
    stream = torch.cuda.current_stream(like.device)
    return sys.modules["cupy"].cuda.ExternalStream(stream.cuda_stream, like.device.index or 0)
