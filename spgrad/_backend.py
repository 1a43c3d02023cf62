"""Device dispatch: which kernel module serves an array's device.

Every kernel module (``spgrad._cpu`` now, ``spgrad._cuda`` with the GPU backend) exposes the
same function names and signatures, so the container layer asks this module for the kernels
that match its arrays and never imports a kernel module directly.
"""

import numpy as np

from . import _cpu


def kernels(*arrays):
    """Return the kernel module that serves ``arrays``.

    Raises
    ------
    TypeError
        If an array lives on a device without a kernel module.
    """
    for a in arrays:
        if a is not None and not isinstance(a, np.ndarray):
            raise TypeError(
                f"spgrad kernels expected NumPy arrays, got {type(a).__module__}."
                f"{type(a).__name__}"
            )
    return _cpu
