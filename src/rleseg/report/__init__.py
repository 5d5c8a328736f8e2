"""Reports: colour overlays of masks on images (:mod:`.overlay`); HTML reports and plots come later."""

from rleseg.report.overlay import PALETTE, boundaries, colorize, overlay, palette, side_by_side

__all__ = ["PALETTE", "boundaries", "colorize", "overlay", "palette", "side_by_side"]
