"""Every instantiation of spgrad's CUDA kernels compiles to CUBIN with NVRTC for sm_70, sm_80
and sm_90 (NVRTC needs no GPU; the ``nvidia-cuda-nvrtc-cu12`` wheel of the test extra provides
it)."""

import pytest
from cuda_support import compile_cubin, nvrtc

from spgrad._cuda import _launch

LIB = nvrtc()
needs_nvrtc = pytest.mark.skipif(LIB is None, reason="libnvrtc not found (pip install "
                                                     "nvidia-cuda-nvrtc-cu12)")


@needs_nvrtc
@pytest.mark.parametrize("arch", ["sm_70", "sm_80", "sm_90"])
def test_every_instantiation_compiles(arch):
    names = _launch.name_expressions()
    cubin, lowered = compile_cubin(LIB, _launch.source(), names, arch)
    assert cubin[:4] == b"\x7fELF"
    assert set(lowered) == set(names)
    # one distinct symbol per instantiation, each in the CUBIN
    assert len(set(lowered.values())) == len(names)
    for symbol in lowered.values():
        assert symbol.encode() in cubin


def test_instantiation_table():
    names = _launch.name_expressions()
    assert "spgrad_csr_matvec<long long, spgrad::complex<double>>" in names
    assert "spgrad_expand_indptr<int>" in names
    assert "spgrad_csr_hstack<int, long long>" in names  # entry positions moved as values
    assert "spgrad_csr_matvec<int, long long>" not in names
    # 24 kernels templated on (index, value) types (2 of them also on int64 "values"), 5 on
    # the index type only
    assert len(names) == len(set(names)) == 24 * 2 * 4 + 2 * 2 + 5 * 2
