"""The devices the engine's tests run on: the CPU always, a CUDA GPU where torch sees one."""

from __future__ import annotations

import pytest
import torch

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
