"""Progress bars: on by default, off when the caller or TQDM_DISABLE says so."""

from __future__ import annotations

import pytest

from lrnn_course.progress import bars_disabled, progress_bar


@pytest.mark.parametrize(
    ("value", "disabled"),
    [
        (None, False),
        ("", False),
        ("0", False),
        ("False", False),
        ("no", False),
        ("1", True),
        ("true", True),
        ("yes", True),
    ],
)
def test_tqdm_disable_is_read_like_a_switch(monkeypatch, value, disabled):
    if value is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", value)
    assert bars_disabled() is disabled
    assert progress_bar(range(2)).disable is disabled


def test_a_caller_can_turn_its_bar_off_and_the_bar_still_iterates(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    bar = progress_bar(range(3), enabled=False)
    assert bar.disable and list(bar) == [0, 1, 2]
