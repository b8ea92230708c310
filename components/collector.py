"""The cyclic garbage collector while the program is evaluated: paused.

Evaluating the program builds one graph that lives until the evaluation ends: every resource, its
`Output`s and the futures behind them. The collector has nothing to free in it, yet each of its
passes walks what has been built so far, so its cost grows faster than the graph: under mocks, 200
triggers took 13.6 s with the collector on and 6.4 s with it paused (`make bench`, 2 cores).
Reference counting still frees everything that is not part of a cycle.
"""

from __future__ import annotations

import gc
from collections.abc import Callable


def pause_during_evaluation() -> Callable[[], None]:
    """Pause the collector; return the call that puts it back as it was.

    `__main__.py` never calls it: the language host's process ends with the evaluation. Harnesses
    that evaluate the program many times in one process (tests, the sandbox, `make bench`) do.
    """
    was_enabled = gc.isenabled()
    gc.disable()

    def resume() -> None:
        if was_enabled:
            gc.enable()

    return resume
