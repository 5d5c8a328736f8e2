"""``train.threads`` sets torch's CPU thread count for training; bad values are refused when the config loads."""

from __future__ import annotations

import pytest
import torch

from rleseg.config import TrainSection, load_config
from rleseg.training.build import apply_threads


def test_threads_set_and_left_alone() -> None:
    before = torch.get_num_threads()
    try:
        assert apply_threads(TrainSection(threads=2)) == 2 and torch.get_num_threads() == 2
        assert apply_threads(TrainSection(threads=None)) == 2, "None leaves the count as it is"
    finally:
        torch.set_num_threads(before)


def test_bad_thread_count_is_refused() -> None:
    with pytest.raises(ValueError, match="train.threads must be a positive"):
        load_config(None, ["train.threads=0"])
