"""Shared heavy machinery: visibility (exact isovists, visibility queries) and the street network.

The compiled kernels run on numba's OpenMP threads. Unless ``OMP_WAIT_POLICY`` is set, they are
told to sleep between parallel regions instead of spinning: GNU OpenMP's spinning threads took
the cores from the serial work around the kernels and from the other thread of the same kernel.
On a busy 2-core machine, metric centrality of a site graph ran 2-3x slower on 2 threads than on 1
(issue 18); with passive waiting 2 threads are the faster. (Read by libgomp when the kernels'
threads start: at the first parallel kernel of the process.)
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# numba stamps a cached kernel with its own file only; these kernels call each other across files
# (see _stale.py).
from cpted.engines._stale import drop_stale_kernels as _drop_stale_kernels  # noqa: E402
from pathlib import Path as _Path  # noqa: E402

_drop_stale_kernels(_Path(__file__).parent)
