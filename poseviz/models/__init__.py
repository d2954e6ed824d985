"""2D-to-3D lifting models: a registry (``register_model`` / ``create_model`` /
``list_models``) and one module per model family. Importing this package imports every
family module so that all models are registered."""

# Model families: importing each module registers its models.
from poseviz.models import (  # noqa: F401
    baselines,
    dgcnn,
    gla_gcn,
    lifting_by_image,
    repose,
    scotl,
)
from poseviz.models.registry import (
    LiftingModel,
    LiftOutput,
    ModelSpec,
    config_from_dict,
    config_from_yaml,
    config_to_dict,
    config_to_yaml,
    create_model,
    create_test_model,
    get_model_spec,
    list_models,
    register_model,
    register_wrapper,
)
from poseviz.models.summary import ModelSummary, count_macs, count_parameters, summarize
from poseviz.models.tta import flip_equivariance_error, flip_tta

__all__ = [
    "LiftOutput",
    "LiftingModel",
    "ModelSpec",
    "ModelSummary",
    "config_from_dict",
    "config_from_yaml",
    "config_to_dict",
    "config_to_yaml",
    "count_macs",
    "count_parameters",
    "create_model",
    "create_test_model",
    "flip_equivariance_error",
    "flip_tta",
    "get_model_spec",
    "list_models",
    "register_model",
    "register_wrapper",
    "summarize",
]
