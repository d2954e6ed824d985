import pytest

import tests.training.tiny  # noqa: F401  (registers the tiny models)


def tiny_config(tmp_path, **sections):
    """A config mapping for the tiny model and data, run folder under tmp_path."""
    base = {
        "name": "tiny",
        "plugins": ["tests.training.tiny"],
        "model": {"name": "tiny_lifter"},
        "data": {"source": "tests.training.tiny:make_datasets", "batch_size": 16},
        "optim": {"name": "adam", "lr": 1e-3},
        "trainer": {"steps": 20, "out": str(tmp_path / "run"), "progress": False, "log_every": 5},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


@pytest.fixture
def make_config(tmp_path):
    return lambda **sections: tiny_config(tmp_path, **sections)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared 2-core CPU run far faster on one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
