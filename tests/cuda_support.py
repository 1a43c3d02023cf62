"""Test support for spgrad's CUDA kernels on machines without a GPU.

- ``build_emulation(directory)``: compiles ``spgrad/_cuda/*.cu`` as C++ (g++) against
  ``cuda_emulation/cuda_emulation.h`` with one C wrapper per instantiation, and returns an
  :class:`EmulatedBackend` that ``spgrad._cuda._launch.set_backend`` accepts: the production
  launchers then run on NumPy arrays, every thread of the grid in turn.
- ``real_cupy()``: CuPy when a GPU is there (the device-parametrised tests' ``cuda`` case).
- ``nvrtc()``: ``libnvrtc`` through ctypes (from the ``nvidia-cuda-nvrtc-cu12`` wheel, or the
  system), and ``compile_cubin(...)``: the low-level NVRTC calls, which need no GPU.
"""

import ctypes
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from spgrad._cuda import _launch

HERE = Path(__file__).resolve().parent
HEADER = HERE / "cuda_emulation" / "cuda_emulation.h"

_SHORT = {"int": "i32", "long long": "i64", "float": "f32", "double": "f64",
          "spgrad::complex<float>": "c64", "spgrad::complex<double>": "c128"}


def _symbol(kernel, index_dtype, value_dtype):
    parts = [kernel, _SHORT[_launch.INDEX_TYPES[np.dtype(index_dtype)]]]
    if value_dtype is not None:
        parts.append(_SHORT[_launch.value_types(kernel)[np.dtype(value_dtype)]])
    return "emu_" + "_".join(parts)


def _wrapper(kernel, index_dtype, value_dtype):
    itype = _launch.INDEX_TYPES[np.dtype(index_dtype)]
    vtype = _launch.value_types(kernel)[np.dtype(value_dtype)] if value_dtype is not None else None
    params, call = ["unsigned grid", "unsigned block"], []
    for i, kind in enumerate(_launch.KERNELS[kernel]):
        if kind == "n":
            params.append(f"long long a{i}")
            call.append(f"a{i}")
        else:
            params.append(f"void* a{i}")
            ctype = {"I": itype, "L": "long long"}.get(kind, vtype)  # 'T' and 'S': values
            call.append(f"({ctype}*)a{i}")
    targs = itype if vtype is None else f"{itype}, {vtype}"
    return (f'extern "C" void {_symbol(kernel, index_dtype, value_dtype)}({", ".join(params)}) '
            f"{{\n    emu_launch(grid, block, [&] {{ spgrad_{kernel}<{targs}>"
            f"({', '.join(call)}); }});\n}}\n")


def emulation_source():
    wrappers = "".join(_wrapper(*inst) for inst in _launch.instantiations())
    return f'#include "{HEADER}"\n{_launch.source()}\n{wrappers}'


class EmulatedBackend:
    """A launch backend running the C++-compiled kernels on NumPy arrays."""

    def __init__(self, library):
        self.lib = library
        self.launches = []

    def launch(self, kernel, index_dtype, value_dtype, grid, block, args):
        function = getattr(self.lib, _symbol(kernel, index_dtype, value_dtype))
        cargs = [ctypes.c_uint(grid), ctypes.c_uint(block)]
        for kind, a in zip(_launch.KERNELS[kernel], args):
            if kind == "n":
                cargs.append(ctypes.c_longlong(int(a)))
            else:
                expected = {"I": index_dtype, "L": np.int64}.get(kind, value_dtype)
                contiguous = kind == "S" or (isinstance(a, np.ndarray) and a.flags.c_contiguous)
                if not (isinstance(a, np.ndarray) and contiguous
                        and a.dtype == np.dtype(expected)):
                    raise TypeError(f"spgrad_{kernel}: expected a C-contiguous {expected} "
                                    f"array, got {type(a).__name__} "
                                    f"{getattr(a, 'dtype', '')}")
                cargs.append(ctypes.c_void_p(a.ctypes.data if a.size else 0))
        self.launches.append((kernel, grid, block))
        function(*cargs)


def real_cupy():
    """CuPy when it is installed and finds a CUDA device, else ``None``."""
    try:
        import cupy
    except ImportError:
        return None
    try:
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except cupy.cuda.runtime.CUDARuntimeError:
        return None


def real_cupy_or_skip():
    """:func:`real_cupy`, or skip the calling test when there is no GPU."""
    import pytest

    cupy = real_cupy()
    if cupy is None:
        pytest.skip("no CuPy with a CUDA device")
    return cupy


def build_emulation(directory):
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        return None
    directory = Path(directory)
    src = directory / "spgrad_cuda_emulation.cpp"
    lib = directory / "spgrad_cuda_emulation.so"
    src.write_text(emulation_source(), encoding="utf-8")
    subprocess.run([compiler, "-std=c++17", "-O1", "-shared", "-fPIC", "-o", str(lib), str(src)],
                   check=True, capture_output=True, text=True)
    return EmulatedBackend(ctypes.CDLL(str(lib)))


# --------------------------------------------------------------------------------------------
# NVRTC
# --------------------------------------------------------------------------------------------

def _nvrtc_candidates():
    for base in sys.path:
        yield from sorted(glob.glob(os.path.join(base, "nvidia", "cuda_nvrtc", "lib",
                                                 "libnvrtc.so*")))
    yield "libnvrtc.so.12"
    yield "libnvrtc.so"


def nvrtc():
    """``libnvrtc`` loaded through ctypes, or ``None``."""
    for path in _nvrtc_candidates():
        if "builtins" in path:
            continue
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


class NVRTCError(RuntimeError):
    pass


def compile_cubin(lib, source, name_expressions, arch):
    """Compile ``source`` for ``arch`` (e.g. ``"sm_90"``) with the given name expressions;
    returns ``(cubin bytes, {name expression: lowered name})``."""
    def check(status, what, prog=None):
        if status != 0:
            log = ""
            if prog is not None:
                size = ctypes.c_size_t()
                lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
                buf = ctypes.create_string_buffer(size.value)
                lib.nvrtcGetProgramLog(prog, buf)
                log = buf.value.decode(errors="replace")
            lib.nvrtcGetErrorString.restype = ctypes.c_char_p
            raise NVRTCError(f"{what} failed: {lib.nvrtcGetErrorString(status).decode()}\n{log}")

    prog = ctypes.c_void_p()
    check(lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), b"spgrad.cu", 0, None,
                                 None), "nvrtcCreateProgram")
    try:
        for name in name_expressions:
            check(lib.nvrtcAddNameExpression(prog, name.encode()), f"add {name}")
        options = [f"-arch={arch}".encode(), b"-std=c++17"]
        opts = (ctypes.c_char_p * len(options))(*options)
        check(lib.nvrtcCompileProgram(prog, len(options), opts), f"compile for {arch}", prog)
        size = ctypes.c_size_t()
        check(lib.nvrtcGetCUBINSize(prog, ctypes.byref(size)), "nvrtcGetCUBINSize")
        cubin = ctypes.create_string_buffer(size.value)
        check(lib.nvrtcGetCUBIN(prog, cubin), "nvrtcGetCUBIN")
        lowered = {}
        for name in name_expressions:
            out = ctypes.c_char_p()
            check(lib.nvrtcGetLoweredName(prog, name.encode(), ctypes.byref(out)),
                  f"lowered name of {name}")
            lowered[name] = out.value.decode()
        return cubin.raw, lowered
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


def gpu_fixtures(name):
    """The ``emulation`` (module-scoped C++ emulation of the kernels) and ``gpu`` (the CuPy
    module under test: ``emulated`` always, ``cuda`` when a GPU is present) fixtures of the
    device-parametrised test modules; ``emulation, gpu = gpu_fixtures("name")`` at module
    level."""
    import pytest

    import emulated_cupy

    @pytest.fixture(scope="module")
    def emulation(tmp_path_factory):
        backend = build_emulation(tmp_path_factory.mktemp(name))
        if backend is None:
            pytest.skip("no C++ compiler to build the CUDA emulation")
        return backend

    @pytest.fixture(params=["emulated", "cuda"])
    def gpu(request, monkeypatch):
        """The CuPy module of the device under test."""
        if request.param == "cuda":
            return real_cupy_or_skip()
        return emulated_cupy.install(monkeypatch, request.getfixturevalue("emulation"))

    return emulation, gpu
