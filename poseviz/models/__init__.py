"""2D-to-3D lifting models: a registry (``register_model`` / ``create_model`` /
``list_models``) and one module per model family. Importing this package imports every
family module so that all models are registered."""

from poseviz.models.registry import (
    LiftingModel,
    LiftOutput,
    ModelSpec,
    config_from_dict,
    config_to_dict,
    create_model,
    get_model_spec,
    list_models,
    register_model,
    register_wrapper,
)

# Family modules register their models on import.
from poseviz.models import dgcnn, lifting_by_image, scotl  # noqa: E402,F401  isort: skip

__all__ = [
    "LiftOutput",
    "LiftingModel",
    "ModelSpec",
    "config_from_dict",
    "config_to_dict",
    "create_model",
    "get_model_spec",
    "list_models",
    "register_model",
    "register_wrapper",
]
