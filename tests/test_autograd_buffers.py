"""The CPU cache of large autograd buffers (``spgrad._autograd._buffers``).

Memory is reused only once no array or tensor views it; the limit bounds the idle memory; the
gradients of repeated backward passes stay right whether the caller keeps, clears or accumulates
them. The tests lower ``MIN_BYTES`` so that small arrays take the cached path.
"""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import scipy.sparse

import spgrad
from spgrad._autograd import _buffers

torch = pytest.importorskip("torch")

SMALL = 1024  # bytes: the lowered threshold of the cached path


@pytest.fixture
def cache(monkeypatch):
    monkeypatch.setattr(_buffers, "MIN_BYTES", SMALL)
    previous = spgrad.set_cache_limit(1 << 20)
    spgrad.empty_cache()
    yield _buffers
    spgrad.set_cache_limit(previous)
    spgrad.empty_cache()


def address(a):
    return a.__array_interface__["data"][0]


def test_small_requests_are_plain_arrays():
    before = spgrad.cache_info()
    a = _buffers.empty((10, 3), np.float32)
    assert a.shape == (10, 3) and a.dtype == np.float32 and a.base is None
    after = spgrad.cache_info()
    assert (after["hits"], after["misses"]) == (before["hits"], before["misses"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_cached_arrays_behave_like_empty(cache, dtype):
    a = cache.empty((300, 2), dtype)
    assert a.shape == (300, 2) and a.dtype == dtype
    assert a.flags.c_contiguous and a.flags.writeable and a.flags.aligned
    a[...] = 3
    t = torch.from_numpy(a)
    assert t.dtype == getattr(torch, np.dtype(dtype).name) and float(t.real.sum()) == 1800


def test_memory_is_reused_only_after_the_last_view_is_gone(cache):
    a = cache.empty((1000,), np.float64)
    first = address(a)
    view = torch.from_numpy(a)[10:]  # a tensor over part of the buffer
    del a
    b = cache.empty((1000,), np.float64)
    assert address(b) != first  # the tensor still uses the first buffer
    view.fill_(1.0)
    b.fill(7.0)
    assert float(view.sum()) == 990.0
    del view
    c = cache.empty((1000,), np.float64)
    assert address(c) == first
    info = spgrad.cache_info()
    assert info["hits"] >= 1 and info["idle_bytes"] == 0


def test_a_buffer_serves_any_dtype_of_its_size(cache):
    a = cache.empty((1000,), np.float64)
    first = address(a)
    del a
    b = cache.empty((250, 2), np.complex128)
    assert address(b) == first and b.dtype == np.complex128 and b.flags.aligned
    del b
    c = cache.empty((999,), np.float64)  # another size: new memory
    assert address(c) != first and spgrad.cache_info()["idle_buffers"] == 1


def test_limit_bounds_idle_memory_oldest_first(cache):
    spgrad.set_cache_limit(16000)
    a0, a1, a2 = (cache.empty((1000,), np.float64) for _ in range(3))
    addresses = [address(a) for a in (a0, a1, a2)]
    del a0, a1, a2  # released in order: the first is dropped when the third comes back
    info = spgrad.cache_info()
    assert info["idle_buffers"] == 2 and info["idle_bytes"] == 16000
    newest = cache.empty((1000,), np.float64)
    assert address(newest) == addresses[2]  # the most recently released first
    del newest
    spgrad.set_cache_limit(4000)  # below one buffer: everything idle is freed
    assert spgrad.cache_info()["idle_bytes"] == 0
    a = cache.empty((1000,), np.float64)  # larger than the limit: never cached
    assert a.base is None


def test_zero_limit_turns_the_cache_off(cache):
    spgrad.set_cache_limit(0)
    a = cache.empty((1000,), np.float64)
    assert a.base is None
    del a
    assert spgrad.cache_info()["idle_bytes"] == 0


def test_empty_cache_frees_idle_memory_only(cache):
    kept = cache.empty((1000,), np.float64)
    kept.fill(5.0)
    released = cache.empty((1000,), np.float64)
    del released
    assert spgrad.cache_info()["idle_buffers"] == 1
    spgrad.empty_cache()
    assert spgrad.cache_info()["idle_buffers"] == 0
    assert np.all(kept == 5.0)
    del kept  # returns to the cache after the flush
    assert spgrad.cache_info()["idle_buffers"] == 1


def test_release_while_the_lock_is_held_frees_the_buffer(cache):
    a = cache.empty((1000,), np.float64)
    with cache._lock:  # as in a garbage collection during empty(): no deadlock
        del a
    assert spgrad.cache_info()["idle_buffers"] == 0


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), (True, TypeError),
                                        ("1024", TypeError)])
def test_set_cache_limit_rejects_bad_limits(bad, error):
    before = spgrad.cache_info()["limit"]
    with pytest.raises(error, match="set_cache_limit expected"):
        spgrad.set_cache_limit(bad)
    assert spgrad.cache_info()["limit"] == before


def test_set_cache_limit_returns_the_previous_limit():
    previous = spgrad.set_cache_limit(12345)
    try:
        assert spgrad.set_cache_limit(np.int64(777)) == 12345
        assert spgrad.cache_info()["limit"] == 777
    finally:
        spgrad.set_cache_limit(previous)


def test_environment_variable_sets_the_limit(tmp_path):
    # run outside the source tree, whose spgrad/ folder (no compiled kernels) would shadow the
    # installed package
    code = "import spgrad; print(spgrad.cache_info()['limit'])"
    env = dict(os.environ, SPGRAD_CACHE_LIMIT="4096")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    assert out.stdout.strip() == "4096"
    env["SPGRAD_CACHE_LIMIT"] = "1GB"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=tmp_path)
    assert bad.returncode != 0
    assert "SPGRAD_CACHE_LIMIT must be a number of bytes" in bad.stderr


def test_threads_never_share_a_live_buffer(cache):
    errors = []

    def work(tag):
        for _ in range(200):
            a = cache.empty((1000,), np.float64)
            a.fill(tag)
            if not np.all(a == tag):
                errors.append(tag)
            del a

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def _problem(rng, n=60):
    A = scipy.sparse.random(n, n, density=0.2, format="csr", random_state=rng)
    A.data = rng.standard_normal(A.nnz)
    A = (scipy.sparse.diags((np.arange(n) != 3).astype(float)) @ A).tocsr()  # an empty row
    A.eliminate_zeros()
    A.sort_indices()
    return A


@pytest.mark.parametrize("op", ["spmv", "spmm", "spgemm", "add", "sub"])
def test_repeated_backward_passes_keep_gradients_right(cache, op):
    rng = np.random.default_rng(5)
    As = _problem(rng)
    n = As.shape[0]
    x = torch.from_numpy(rng.standard_normal(n if op == "spmv" else (n, 4)))
    x.requires_grad_()
    A = spgrad.csr_array(As).requires_grad_()
    Bs = _problem(rng)
    B = spgrad.csr_array(Bs).requires_grad_()
    sign = -1.0 if op == "sub" else 1.0

    def product(A, B):
        if op in ("add", "sub"):
            return A + B if op == "add" else A - B
        return A @ x if op != "spgemm" else A @ A

    def loss():
        out = product(A, B)
        t = out.data if spgrad.issparse(out) else out
        return (t * t).sum()

    dense = torch.from_numpy(As.toarray()).requires_grad_()
    dense_b = torch.from_numpy(Bs.toarray())
    ref_out = product(dense, dense_b)
    torch.autograd.backward((ref_out * ref_out).sum())
    rows, cols = As.nonzero()
    ref = dense.grad[torch.from_numpy(rows), torch.from_numpy(cols)]
    order = np.lexsort((cols, rows))
    assert np.array_equal(order, np.arange(As.nnz))  # canonical: entries in (row, col) order

    loss().backward()
    kept = A.data.grad
    kept_copy = kept.clone()
    A.data.grad = None
    if op != "spgemm":
        x.grad = None
    loss().backward()  # the kept gradient must not be overwritten by the second pass
    assert kept.data_ptr() != A.data.grad.data_ptr()
    torch.testing.assert_close(kept, kept_copy, rtol=0, atol=0)
    torch.testing.assert_close(A.data.grad, ref)
    loss().backward()  # accumulation into the stored gradient
    torch.testing.assert_close(A.data.grad, 2 * ref)
    del kept
    hits = spgrad.cache_info()["hits"]
    for _ in range(3):  # a training loop that clears its gradients reuses the buffers
        A.data.grad = B.data.grad = None
        x.grad = None
        loss().backward()
        torch.testing.assert_close(A.data.grad, ref)
    assert spgrad.cache_info()["hits"] > hits
    if op in ("spmv", "spmm"):
        torch.testing.assert_close(x.grad, torch.autograd.grad(
            ((dense.detach() @ x) ** 2).sum(), x)[0])
    if op in ("add", "sub"):  # ∂B = sign · 2 (A ± B) on B's pattern
        rows_b, cols_b = Bs.nonzero()
        both = (dense.detach() + sign * dense_b)[torch.from_numpy(rows_b),
                                                   torch.from_numpy(cols_b)]
        torch.testing.assert_close(B.data.grad, 2 * sign * both)
