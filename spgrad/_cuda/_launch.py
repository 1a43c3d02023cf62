"""Kernel table, compilation and launching of spgrad's CUDA kernels.

Each kernel of ``spgrad/_cuda/*.cu`` is a template on the index type ``I`` and (for most) the
value type ``T``. ``KERNELS`` lists every kernel with the kinds of its parameters, which is all
that is needed to

- enumerate the instantiations (``name_expressions()``, e.g.
  ``"spgrad_csr_matvec<long long, spgrad::complex<double>>"``) for NVRTC;
- pack the arguments of a launch (scalars as ``int64``, arrays as device pointers);
- generate the C wrappers of the CPU emulation used by the test suite.

A *launch backend* runs a kernel: :class:`CupyBackend` (the default) compiles the sources once
per device with ``cupy.RawModule`` and launches on CuPy arrays; the tests install a backend
that runs the same ``.cu`` source compiled as C++ on NumPy arrays (:func:`set_backend`). The
launchers in ``spgrad._cuda._kernels`` are written against this module only, so the same
launcher code runs in both.
"""

from pathlib import Path

import numpy as np

SOURCES = ("csr.cu",)
SOURCE_DIR = Path(__file__).resolve().parent

#: NumPy index dtype -> C++ type
INDEX_TYPES = {np.dtype(np.int32): "int", np.dtype(np.int64): "long long"}
#: NumPy value dtype -> C++ type
VALUE_TYPES = {
    np.dtype(np.float32): "float",
    np.dtype(np.float64): "double",
    np.dtype(np.complex64): "spgrad::complex<float>",
    np.dtype(np.complex128): "spgrad::complex<double>",
}

#: kernel -> parameter kinds: "n" a 64-bit integer, "I" an index array, "T" a value array,
#: "S" a value array of any strides (the kernel takes its strides as "n" parameters), "L" an
#: int64 array
KERNELS = {
    "csr_matvec": ("n", "I", "I", "T", "T", "T"),
    "csr_matvecs": ("n", "n", "I", "I", "T", "T", "T"),
    "csr_matvec_transpose": ("n", "I", "I", "T", "T", "T"),
    "csr_matvecs_transpose": ("n", "n", "I", "I", "T", "T", "T"),
    "csr_sddmm": ("n", "n", "I", "I", "T", "T", "T"),
    "expand_indptr": ("n", "I", "I"),
    "csr_diagonal": ("n", "n", "n", "I", "I", "T", "T"),
    "csr_row_sums": ("n", "I", "T", "T"),
    "csr_col_sums": ("n", "I", "T", "T"),
    "csr_line_reduce": ("n", "n", "n", "n", "I", "T", "T"),
    "csr_line_argreduce": ("n", "n", "n", "n", "I", "I", "T", "L"),
    "csr_todense": ("n", "n", "n", "I", "I", "T", "S"),
    "csr_band_count": ("n", "n", "n", "I", "I", "I"),
    "csr_band_fill": ("n", "n", "n", "I", "I", "T", "I", "I", "T"),
    "csr_masked_dot": ("n", "I", "I", "I", "I", "T", "I", "I", "T", "I", "T"),
    "csr_union_count": ("n", "I", "I", "I", "I", "I"),
    "csr_union_fill": ("n", "n", "n", "I", "I", "I", "I", "I", "I", "L", "L"),
    "segment_sum": ("n", "L", "T", "T"),
    "coo_todense": ("n", "n", "n", "I", "I", "T", "S"),
    "dia_matvec": ("n", "n", "n", "n", "I", "T", "T", "T"),
    "csr_row_gather": ("n", "n", "n", "I", "I", "I", "I", "I", "T", "T", "I"),
    "csr_binop_rows": ("n", "n", "n", "I", "I", "T", "I", "I", "T", "I", "I", "I", "T"),
    "csr_kron": ("n", "n", "n", "I", "I", "T", "I", "I", "T", "I", "I", "T"),
    "csr_hstack": ("n", "n", "I", "I", "I", "T", "L", "I", "I", "T"),
    "csr_column_select": ("n", "n", "n", "I", "I", "I", "I", "I", "I", "T", "T", "I"),
    "csr_submatrix": ("n", "n", "n", "n", "n", "n", "I", "I", "I", "I", "T", "T", "I"),
    "csr_lookup": ("n", "n", "n", "I", "I", "I", "I", "L", "L", "I", "L", "L"),
    "csr_lookup_values": ("n", "n", "I", "I", "T", "I", "I", "T"),
    "spgemm_expand": ("n", "n", "I", "I", "T", "I", "I", "T", "L", "I", "I", "T"),
}

#: kernels that only copy values, also instantiated for int64 "values": differentiable mode
#: moves the positions of the entries through them and gathers the values in the graph
POSITION_KERNELS = ("csr_band_fill", "csr_hstack")

#: threads per block of the one-thread-per-item kernels
BLOCK = 128


def templated_on_values(kernel):
    return "T" in KERNELS[kernel] or "S" in KERNELS[kernel]


def name_expression(kernel, index_dtype, value_dtype=None):
    """The NVRTC name expression of one instantiation, e.g.
    ``spgrad_csr_matvec<int, double>``."""
    itype = INDEX_TYPES[np.dtype(index_dtype)]
    if not templated_on_values(kernel):
        return f"spgrad_{kernel}<{itype}>"
    return f"spgrad_{kernel}<{itype}, {value_types(kernel)[np.dtype(value_dtype)]}>"


def value_types(kernel):
    """NumPy value dtype -> C++ type of the instantiations of ``kernel``."""
    if kernel in POSITION_KERNELS:
        return {**VALUE_TYPES, np.dtype(np.int64): "long long"}
    return VALUE_TYPES


def instantiations():
    """Every ``(kernel, index dtype, value dtype or None)`` the sources are compiled for."""
    out = []
    for kernel in KERNELS:
        for idx in INDEX_TYPES:
            values = value_types(kernel) if templated_on_values(kernel) else (None,)
            out.extend((kernel, idx, val) for val in values)
    return out


def name_expressions():
    return [name_expression(*inst) for inst in instantiations()]


def source():
    """The CUDA C++ source of every kernel, as one translation unit."""
    return "\n".join((SOURCE_DIR / name).read_text(encoding="utf-8") for name in SOURCES)


def grid_for(items, block=BLOCK):
    """Blocks needed to give one thread to each of ``items`` (at least one block)."""
    return max(1, -(-int(items) // block))


class CupyBackend:
    """Compiles the sources with NVRTC through ``cupy.RawModule`` (once per device, on first
    use) and launches on CuPy arrays, on CuPy's current stream."""

    def __init__(self):
        self._modules = {}

    @staticmethod
    def _cupy():
        try:
            import cupy
        except ImportError as e:
            raise ImportError("spgrad's GPU kernels need CuPy: pip install 'spgrad[cuda]'") from e
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except cupy.cuda.runtime.CUDARuntimeError as e:
            raise RuntimeError(f"spgrad's GPU kernels need a CUDA device; CuPy reports: {e}") \
                from e
        if count == 0:
            raise RuntimeError("spgrad's GPU kernels need a CUDA device; none was found")
        return cupy

    def module(self):
        cupy = self._cupy()
        device = cupy.cuda.runtime.getDevice()
        if device not in self._modules:
            self._modules[device] = cupy.RawModule(code=source(), options=("-std=c++17",),
                                                   name_expressions=name_expressions())
        return self._modules[device]

    def launch(self, kernel, index_dtype, value_dtype, grid, block, args):
        cupy = self._cupy()
        function = self.module().get_function(name_expression(kernel, index_dtype, value_dtype))
        packed = []
        for kind, a in zip(KERNELS[kernel], args):
            if kind == "n":
                packed.append(np.int64(a))
            else:
                if not isinstance(a, cupy.ndarray):
                    raise TypeError(f"spgrad_{kernel} expected CuPy arrays on the GPU, got "
                                    f"{type(a).__module__}.{type(a).__name__}")
                packed.append(a)
        function((grid,), (block,), tuple(packed))


_backend = CupyBackend()


def set_backend(backend):
    """Install a launch backend (an object with ``launch(kernel, index_dtype, value_dtype,
    grid, block, args)``); returns the previous one. The test suite uses this to run the
    launchers on a CPU emulation of the kernels."""
    global _backend
    previous, _backend = _backend, backend
    return previous


def launch(kernel, index_dtype, value_dtype, items, args):
    """Launch ``kernel`` with one thread per each of ``items`` (at least one block)."""
    if np.dtype(index_dtype) not in INDEX_TYPES:
        raise TypeError(f"spgrad_{kernel}: index arrays must be int32 or int64, got "
                        f"{np.dtype(index_dtype)}")
    if value_dtype is not None and np.dtype(value_dtype) not in value_types(kernel):
        raise TypeError(f"spgrad_{kernel}: the GPU kernels take float32, float64, complex64 "
                        f"or complex128 values, got {np.dtype(value_dtype)}")
    if len(args) != len(KERNELS[kernel]):
        raise TypeError(f"spgrad_{kernel} takes {len(KERNELS[kernel])} arguments, got "
                        f"{len(args)}")
    _backend.launch(kernel, index_dtype, value_dtype, grid_for(items), BLOCK, args)
