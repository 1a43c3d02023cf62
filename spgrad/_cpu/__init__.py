"""CPU kernels (Cython). Python allocates every output array; kernels only fill them.

The function names and signatures here are shared with ``spgrad._cuda`` so that
``spgrad._backend`` can pick a kernel module by the device of the arrays.
"""

from ._parallel import get_num_threads, openmp_enabled, set_num_threads
from ._coloring import *  # noqa: F403
from ._csr_kernels import *  # noqa: F403
from ._elementwise import *  # noqa: F403
from ._index import *  # noqa: F403
from ._masked import *  # noqa: F403
from ._triangular import *  # noqa: F403
