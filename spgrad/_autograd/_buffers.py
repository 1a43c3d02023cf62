"""Reused memory for the large CPU arrays that the autograd Functions fill.

A training loop allocates the same gradient arrays at every backward pass. The C allocator
reuses freed memory for small blocks, but glibc serves every block above 32 MiB from fresh
pages (``mmap``), which the operating system zeroes one by one on first write. On the 2-D
Poisson matrix (n = 10⁶, nnz = 5·10⁶) that zeroing was half of an SpMV backward: 9 of its 18 ms
went to the fresh 40 MB value gradient, while the kernel writing it took 7.5 ms.

:func:`empty` therefore keeps arrays of at least :data:`MIN_BYTES` once nothing uses them, and
hands them out again for a request of the same size. An array handed out is viewed through a
:class:`_Block`, which NumPy keeps as its base and which torch keeps alive through
``torch.from_numpy``. Its memory comes back only when the last array or tensor that views it is
gone (the block's ``__del__``), so an array that is still referenced is never reused. At most
:func:`set_cache_limit` bytes wait unused (1 GiB unless ``SPGRAD_CACHE_LIMIT`` says otherwise;
the oldest go first), and :func:`empty_cache` frees them. GPU arrays come from CuPy's memory
pool, which caches already.
"""

import os
import threading

import numpy as np

#: Arrays smaller than this are plain ``np.empty`` (the C allocator reuses their memory).
MIN_BYTES = 32 * 2**20

_lock = threading.Lock()
_idle = []  # raw uint8 arrays that no array views, oldest first
_state = {"limit": 2**30, "idle_bytes": 0, "hits": 0, "misses": 0}


def _parse_limit(text):
    try:
        limit = int(text)
    except ValueError:
        limit = -1
    if limit < 0:
        raise ValueError(
            f"SPGRAD_CACHE_LIMIT must be a number of bytes (an integer >= 0), got {text!r}"
        )
    return limit


if "SPGRAD_CACHE_LIMIT" in os.environ:
    _state["limit"] = _parse_limit(os.environ["SPGRAD_CACHE_LIMIT"])


class _Block:
    """The owner of one cached buffer while arrays view it: the array made from its
    ``__array_interface__`` keeps it as ``base``; once every view is gone, ``__del__`` returns
    the buffer to the cache."""

    __slots__ = ("_raw", "__array_interface__")

    def __init__(self, raw, shape, dtype):
        self._raw = raw
        self.__array_interface__ = {"shape": shape, "typestr": dtype.str, "version": 3,
                                    "data": (raw.ctypes.data, False)}

    def __del__(self):
        try:
            _release(self._raw)
        except Exception:  # interpreter shutdown: the module's globals may be gone
            pass


def _release(raw):
    # A block dies wherever its last view is dropped, possibly while this thread holds the lock
    # (a collection during empty()): then the buffer is simply freed instead of kept.
    if raw.nbytes > _state["limit"] or not _lock.acquire(blocking=False):
        return
    try:
        _idle.append(raw)
        _state["idle_bytes"] += raw.nbytes
        _trim(_state["limit"])
    finally:
        _lock.release()


def _trim(limit):
    # with the lock held: drop the oldest idle buffers until at most ``limit`` bytes are idle
    while _idle and _state["idle_bytes"] > limit:
        _state["idle_bytes"] -= _idle.pop(0).nbytes


def empty(shape, dtype):
    """An uninitialised C-contiguous NumPy array, reusing cached memory when it is large.

    Parameters
    ----------
    shape : tuple of int
    dtype : numpy dtype

    Returns
    -------
    ndarray
        Writable and aligned like ``np.empty(shape, dtype)``. Of at least :data:`MIN_BYTES`,
        its memory is a cached buffer of the same size that nothing views any longer, or a new
        one that returns to the cache when the array and every view of it are gone.
    """
    dtype = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes < MIN_BYTES or nbytes > _state["limit"]:
        return np.empty(shape, dtype=dtype)
    raw = None
    with _lock:
        for i in range(len(_idle) - 1, -1, -1):  # the most recently released first
            if _idle[i].nbytes == nbytes:
                raw = _idle.pop(i)
                _state["idle_bytes"] -= nbytes
                break
        _state["hits" if raw is not None else "misses"] += 1
    if raw is None:
        raw = np.empty(nbytes, dtype=np.uint8)
    return np.asarray(_Block(raw, shape, dtype))


def set_cache_limit(nbytes):
    """Set how many bytes of unused gradient memory spgrad keeps for reuse on the CPU.

    The autograd Functions take their large arrays (at least 32 MiB: gradients of the values
    and of the dense operands, products) from a cache of memory that nothing uses any more,
    which saves the operating system's zeroing of fresh pages at every backward pass (half of
    an SpMV backward on a 5·10⁶-entry matrix). Memory in use never counts and is never reused;
    the limit bounds what waits unused between passes. The default is 1 GiB, or the
    ``SPGRAD_CACHE_LIMIT`` environment variable (bytes) when it is set at import. GPU arrays
    come from CuPy's memory pool instead.

    Parameters
    ----------
    nbytes : int
        The new limit in bytes; 0 turns the cache off (and frees what it holds). A lower limit
        frees the oldest unused buffers at once.

    Returns
    -------
    int
        The previous limit.

    Raises
    ------
    TypeError
        If ``nbytes`` is not an integer.
    ValueError
        If ``nbytes`` is negative.

    See Also
    --------
    empty_cache, cache_info

    Examples
    --------
    >>> import spgrad
    >>> previous = spgrad.set_cache_limit(0)  # no cache: every gradient is fresh memory
    >>> spgrad.cache_info()["limit"]
    0
    >>> spgrad.set_cache_limit(previous)
    0
    """
    if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)):
        raise TypeError(f"set_cache_limit expected an integer number of bytes, got "
                        f"{type(nbytes).__name__}")
    if nbytes < 0:
        raise ValueError(f"set_cache_limit expected a number of bytes >= 0, got {nbytes}")
    with _lock:
        previous = _state["limit"]
        _state["limit"] = int(nbytes)
        _trim(_state["limit"])
    return previous


def empty_cache():
    """Free the unused gradient memory that spgrad keeps for reuse on the CPU.

    Arrays that are still in use (a gradient stored in ``.grad``, a product kept by the
    caller) are not affected; their memory returns to the cache when they are gone, up to the
    limit of :func:`set_cache_limit`. The CPU counterpart of ``torch.cuda.empty_cache()``.

    See Also
    --------
    set_cache_limit, cache_info

    Examples
    --------
    >>> import spgrad
    >>> spgrad.empty_cache()
    >>> spgrad.cache_info()["idle_bytes"]
    0
    """
    with _lock:
        _trim(0)


def cache_info():
    """What spgrad's CPU gradient-memory cache holds and how often it served a request.

    Returns
    -------
    dict
        ``limit`` (bytes, see :func:`set_cache_limit`), ``idle_bytes`` and ``idle_buffers``
        (memory waiting for reuse), ``hits`` and ``misses`` (requests of at least 32 MiB
        served from the cache, and served with new memory, since import).

    See Also
    --------
    set_cache_limit, empty_cache

    Examples
    --------
    >>> import spgrad
    >>> sorted(spgrad.cache_info())
    ['hits', 'idle_buffers', 'idle_bytes', 'limit', 'misses']
    """
    with _lock:
        return {"limit": _state["limit"], "idle_bytes": _state["idle_bytes"],
                "idle_buffers": len(_idle), "hits": _state["hits"],
                "misses": _state["misses"]}
