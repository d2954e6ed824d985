"""Model tests run their tiny networks on one thread: small models are fastest that way and
do not fight over a shared CPU. The previous setting is restored after every test."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
