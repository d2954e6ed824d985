"""Pure metric functions: torch in -> torch out (on the input's device, differentiable
where stated), numpy in -> numpy out. Poses are ``(..., J, 3)`` in metres; position errors
come back in millimetres. The accumulating classes in `poseviz.metrics` call the same code.
"""

from poseviz.metrics.functional.psim import (
    DEFAULT_WEIGHTS,
    DEFAULT_WINDOW,
    PSIMPlusResult,
    psim_plus,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "DEFAULT_WINDOW",
    "PSIMPlusResult",
    "psim_plus",
]
