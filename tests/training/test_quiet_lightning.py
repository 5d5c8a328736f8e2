"""Lightning's advert and a deprecation warning it triggers are silenced; everything else still shows."""

from __future__ import annotations

import logging
import warnings

from rleseg.training.build import quiet_lightning


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("lightning.pytorch.utilities.rank_zero", logging.INFO, __file__, 1, message, None, None)


def test_the_litlogger_advert_is_dropped_and_real_information_kept() -> None:
    quiet_lightning()
    quiet_lightning()  # idempotent: one filter, not two
    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    assert len(log.filters) == len({type(f) for f in log.filters})
    assert not log.filter(record("💡 Tip: ... try installing [litlogger](https://pypi.org/project/litlogger/) ..."))
    assert log.filter(record("GPU available: False, used: False"))


def test_only_the_leafspec_deprecation_is_ignored() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_lightning()
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use X instead.", FutureWarning, stacklevel=1)
        warnings.warn("something else is deprecated", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something else is deprecated"]
