"""SciPy's deprecated submodule namespaces (``scipy.sparse.csr``, ``scipy.sparse.construct``
…) as ``spgrad.csr``, ``spgrad.construct`` …, so that old imports such as ``from
scipy.sparse.csr import csr_matrix`` keep working after the import swap. Like SciPy's, each
name they offer is spgrad's public one, returned with a ``DeprecationWarning``.
"""

import sys
import types
import warnings

__all__ = ["install"]

# SciPy 1.17's deprecated submodules and the names each offers (their ``__all__``)
SUBMODULES = {
    "base": ("SparseEfficiencyWarning", "SparseWarning", "issparse", "isspmatrix", "spmatrix"),
    "bsr": ("bsr_matrix", "isspmatrix_bsr", "spmatrix"),
    "compressed": ("SparseEfficiencyWarning",),
    "construct": ("block_diag", "bmat", "bsr_matrix", "coo_matrix", "csc_matrix", "csr_matrix",
                  "dia_matrix", "diags", "eye", "get_index_dtype", "hstack", "identity",
                  "issparse", "kron", "kronsum", "rand", "random", "spdiags", "vstack"),
    "coo": ("SparseEfficiencyWarning", "coo_matrix", "isspmatrix_coo", "spmatrix"),
    "csc": ("csc_matrix", "isspmatrix_csc", "spmatrix"),
    "csr": ("csr_matrix", "isspmatrix_csr", "spmatrix"),
    "data": (),
    "dia": ("dia_matrix", "isspmatrix_dia", "spmatrix"),
    "dok": ("dok_matrix", "isspmatrix_dok", "spmatrix"),
    "extract": ("coo_matrix", "find", "tril", "triu"),
    "lil": ("isspmatrix_lil", "lil_array", "lil_matrix"),
    "sparsetools": (),
    "sputils": (),
}


def _module(package, name, names):
    full = f"{package.__name__}.{name}"
    mod = types.ModuleType(full, f"Deprecated alias of the ``{package.__name__}`` namespace "
                                 f"(SciPy's ``scipy.sparse.{name}``).")
    mod.__all__ = list(names)

    def __getattr__(attr):
        if attr not in names:
            raise AttributeError(f"`{full}` has no attribute `{attr}`; furthermore, `{full}` "
                                 f"is deprecated and will be removed in SciPy 2.0.0.")
        warnings.warn(f"Please import `{attr}` from the `{package.__name__}` namespace; the "
                      f"`{full}` namespace is deprecated and will be removed in SciPy 2.0.0.",
                      DeprecationWarning, stacklevel=2)
        return getattr(package, attr)

    mod.__getattr__ = __getattr__
    mod.__dir__ = lambda: list(names)
    return mod


def install(package_name):
    """Register the deprecated submodules of the package ``package_name`` (``spgrad``) in
    ``sys.modules`` and as its attributes."""
    package = sys.modules[package_name]
    for name, names in SUBMODULES.items():
        mod = _module(package, name, names)
        sys.modules[mod.__name__] = mod
        setattr(package, name, mod)
