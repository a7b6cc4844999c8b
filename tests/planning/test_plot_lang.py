"""``schedule.png`` in Chinese: drawn with the installed Debian CJK font (no missing glyphs); without one, the
plot falls back to English labels with one warning instead of drawing empty boxes."""

from __future__ import annotations

import logging
import warnings
from datetime import date

import pytest

from microgrid.i18n import fonts
from microgrid.planning import plan_day
from microgrid.planning.plot import plot_schedule


@pytest.fixture(scope="module")
def plan(small_site):
    return plan_day(small_site, date(2025, 7, 15))


def _texts(monkeypatch, plan, lang, path):
    """Render and return every text matplotlib drew (legend entries, labels, title)."""
    drawn: list[str] = []
    from matplotlib.text import Text

    original = Text.draw

    def spy(self, renderer):
        if self.get_visible() and self.get_text():
            drawn.append(self.get_text())
        return original(self, renderer)

    monkeypatch.setattr(Text, "draw", spy)
    plot_schedule(plan, path, lang)
    return drawn


def test_chinese_labels_with_the_cjk_font(monkeypatch, plan, tmp_path):
    if fonts.cjk_font() is None:
        pytest.skip("no CJK font installed (scripts/ensure-cjk-font.sh installs fonts-wqy-microhei)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)" for empty boxes
        drawn = _texts(monkeypatch, plan, "zh-CN", tmp_path / "zh.png")
    joined = "\n".join(drawn)
    for label in ("电网购电", "光伏", "储能放电", "关口净购电", "购电上限（对应净购电线）", "电价，\n元/kWh", "尖峰"):
        assert label in joined, label
    assert "grid import" not in joined and "price" not in joined
    assert (tmp_path / "zh.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_a_cjk_font_the_plot_says_so_and_labels_in_english(monkeypatch, plan, tmp_path, caplog):
    monkeypatch.setattr(fonts, "CANDIDATES", (tmp_path / "none.ttc",))
    fonts.cjk_font.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="microgrid.i18n.fonts"):
            drawn = _texts(monkeypatch, plan, "zh-CN", tmp_path / "fallback.png")
    finally:
        fonts.cjk_font.cache_clear()
    assert "no CJK font installed" in caplog.text
    joined = "\n".join(drawn)
    assert "grid import" in joined and "net grid import (PCC)" in joined and "电网" not in joined
