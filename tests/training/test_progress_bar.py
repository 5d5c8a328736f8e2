"""The training progress bar names the epoch limit only when there is one."""

from __future__ import annotations

from types import SimpleNamespace

from rleseg.training.build import EpochProgressBar


def test_epoch_description_without_and_with_an_epoch_limit() -> None:
    bar = EpochProgressBar()
    bar._trainer = SimpleNamespace(max_epochs=-1)  # type: ignore[assignment]
    assert bar._get_train_description(28).strip() == "Epoch 28"
    bar._trainer = SimpleNamespace(max_epochs=100)  # type: ignore[assignment]
    assert bar._get_train_description(28).strip() == "Epoch 28/99"
