"""A CJK font for Chinese plot labels, from the system's Debian packages (never downloaded).

:func:`cjk_font` returns the first installed font of :data:`CANDIDATES` (``fonts-wqy-microhei``,
``fonts-noto-cjk``; ``scripts/ensure-cjk-font.sh`` installs the first when run as root), registered with
matplotlib, or ``None``: callers then label in English and log one warning, since matplotlib would draw
the Chinese characters as empty boxes.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)


@cache
def cjk_font() -> str | None:
    """The family name of an installed CJK font, registered with matplotlib; ``None`` (warned once) if none."""
    for path in CANDIDATES:
        if path.is_file():
            from matplotlib import font_manager

            font_manager.fontManager.addfont(str(path))
            return font_manager.FontProperties(fname=str(path)).get_name()
    log.warning("no CJK font installed (apt-get install fonts-wqy-microhei): Chinese plot labels fall back to "
                "English")
    return None


def plot_lang(lang: str) -> str:
    """``lang`` when the plot can show it, else ``en`` (Chinese needs :func:`cjk_font`)."""
    return lang if lang == "en" or cjk_font() is not None else "en"
