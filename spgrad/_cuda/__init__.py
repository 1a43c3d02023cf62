"""CUDA kernels (CUDA C++ in ``*.cu``, compiled by NVRTC through CuPy's ``RawModule``).

The launchers have the names and signatures of ``spgrad._cpu``'s kernels and fill
preallocated CuPy arrays. Importing this module needs neither CuPy nor a GPU: CuPy is imported,
and the sources compiled (once per device), at the first launch; without CuPy or without a
device that launch raises an error naming the cause.

Every CPU kernel has a launcher here except the sparse triangular solve (cuSPARSE's, through
``cupyx``, on the GPU: :mod:`spgrad._cuda._vendor`, which also reaches cuSOLVER's sparse QR for
``spsolve``) and the graph colourings of ``spgrad.ad`` (sequential, on the host).
SpGEMM is an expansion-sort-compression that reproduces the CPU kernel's output bitwise (column
order of first appearance, products summed in occurrence order); cuSPARSE's SpGEMM may replace
it where it is faster. The containers of GPU arrays (``A.to("cuda")``) dispatch here through
``spgrad._backend.kernels``.
"""

from ._kernels import *  # noqa: F403
from ._kernels import __all__ as __all__
