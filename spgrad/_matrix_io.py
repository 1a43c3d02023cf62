"""Saving and loading sparse arrays in SciPy's ``.npz`` layout.

A file holds one array per storage array of the format (``indices``/``indptr`` for CSR, CSC
and BSR; ``offsets`` for DIA; ``row``/``col`` for 2-D COO, or ``coords`` for n-D COO) plus
``data``, ``shape``, ``format`` (the format name as ASCII bytes) and, for the sparse-array
family only, ``_is_array=True``. The layout is SciPy's, so files move freely between
``scipy.sparse.save_npz``/``load_npz`` and the functions here.
"""

import numpy as np
import scipy.sparse as _sps

from . import _backend

__all__ = ["load_npz", "save_npz"]

_INDEX_KEYS = {"csr": ("indices", "indptr"), "csc": ("indices", "indptr"),
               "bsr": ("indices", "indptr"), "dia": ("offsets",)}


def save_npz(file, matrix, compressed=True):
    """Save a sparse array or matrix to ``file`` in ``.npz`` format (SciPy's layout).

    Parameters
    ----------
    file : str, path-like or file-like object
        File name (``.npz`` is appended when missing) or an open binary file.
    matrix : sparse array or matrix (spgrad's or SciPy's)
        Formats ``csr``, ``csc``, ``coo``, ``dia`` and ``bsr``.
    compressed : bool, optional
        Compress the archive (default True).

    Raises
    ------
    NotImplementedError
        For LIL and DOK, which have no array storage (convert them first), as in SciPy.

    Notes
    -----
    Values that are a torch tensor are saved detached (as plain NumPy values): the file holds
    numbers, not an autograd graph.

    Examples
    --------
    >>> import io
    >>> import spgrad as sp
    >>> buf = io.BytesIO()
    >>> sp.save_npz(buf, sp.csr_array([[0, 0, 3], [4, 0, 0]]))
    >>> _ = buf.seek(0)
    >>> A = sp.load_npz(buf)
    >>> type(A).__name__, A.toarray().tolist()
    ('csr_array', [[0, 0, 3], [4, 0, 0]])
    """
    if not _sps.issparse(matrix) and not hasattr(matrix, "format"):
        raise TypeError(f"save_npz expected a sparse array or matrix, got "
                        f"{type(matrix).__name__}")
    if getattr(matrix, "_on_gpu", False):
        matrix._require_cpu("save_npz")
    fmt = matrix.format
    if fmt in _INDEX_KEYS:
        arrays = {key: getattr(matrix, key) for key in _INDEX_KEYS[fmt]}
    elif fmt == "coo":
        if matrix.ndim == 2:
            arrays = {"row": matrix.row, "col": matrix.col}
        else:
            arrays = {"coords": matrix.coords}
    else:
        raise NotImplementedError(
            f"Save is not implemented for sparse matrix of format {fmt}: save_npz stores "
            f"csr, csc, coo, dia and bsr; convert first (e.g. A.tocsr())."
        )
    arrays["format"] = fmt.encode("ascii")
    arrays["shape"] = matrix.shape
    arrays["data"] = _backend.to_numpy(matrix.data)
    from ._base import sparray

    if isinstance(matrix, (sparray, _sps.sparray)):
        arrays["_is_array"] = True
    (np.savez_compressed if compressed else np.savez)(file, **arrays)


def load_npz(file):
    """Load a sparse array or matrix saved by :func:`save_npz` or ``scipy.sparse.save_npz``.

    Parameters
    ----------
    file : str, path-like or file-like object
        File name or an open binary file.

    Returns
    -------
    csr, csc, coo, dia or bsr array or matrix
        spgrad's class of the saved format and family (``*_array`` when the file was written
        from a sparse array, ``*_matrix`` otherwise).

    Raises
    ------
    OSError
        If the file does not exist or cannot be read.
    ValueError
        If the file holds no sparse array, names an unknown format, or holds pickled data.
    NotImplementedError
        If the file names a format without array storage (``lil``, ``dok``).

    Examples
    --------
    >>> import io
    >>> import scipy.sparse
    >>> import spgrad as sp
    >>> buf = io.BytesIO()
    >>> scipy.sparse.save_npz(buf, scipy.sparse.coo_matrix([[1, 0], [0, 2]]))
    >>> _ = buf.seek(0)
    >>> type(sp.load_npz(buf)).__name__
    'coo_matrix'
    """
    import spgrad

    with np.load(file, allow_pickle=False) as loaded:
        if "format" not in loaded.files:
            raise ValueError(f"The file {file} does not contain a sparse array or matrix "
                             f"(no 'format' entry; found {sorted(loaded.files)}).")
        fmt = loaded["format"].item()
        if not isinstance(fmt, str):
            fmt = fmt.decode("ascii")
        family = "array" if "_is_array" in loaded.files and loaded["_is_array"] else "matrix"
        cls = getattr(spgrad, f"{fmt}_{family}", None)
        if cls is None:
            raise ValueError(f'Unknown format "{fmt}_{family}" in {file}; expected one of '
                             f"csr, csc, coo, dia, bsr")
        shape = tuple(int(s) for s in loaded["shape"])
        data = loaded["data"]
        if fmt in ("csr", "csc", "bsr"):
            return cls((data, loaded["indices"], loaded["indptr"]), shape=shape)
        if fmt == "dia":
            return cls((data, loaded["offsets"]), shape=shape)
        if fmt == "coo":
            if "coords" in loaded.files:
                return cls((data, tuple(loaded["coords"])), shape=shape)
            return cls((data, (loaded["row"], loaded["col"])), shape=shape)
        raise NotImplementedError(f"Load is not implemented for sparse matrix of format "
                                  f"{fmt}: files hold csr, csc, coo, dia or bsr.")
