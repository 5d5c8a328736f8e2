"""Track ids across frames when a streaming family's frames are cut into windows: each window's ids continue its
own ids of the previous frame; windows reuse each other's ids for different cells."""

from __future__ import annotations

import numpy as np

from rleseg.inference.instance_canvas import InstanceCanvas
from rleseg.inference.track_linker import TrackLinker


def stitch(windows: list[tuple[np.ndarray, int]], width: int = 16) -> tuple[np.ndarray, list[dict[int, int]]]:
    """One frame of height 4 from windows ``(ids (4, 8), x)``: the stitched ids and each window's renaming."""
    canvas = InstanceCanvas((4, width))
    for ids, x in windows:
        canvas.paste(ids, 0, x)
    return canvas.canvas, canvas.window_ids


def cell(x0: int, x1: int, value: int = 1) -> np.ndarray:
    """A window ``(4, 8)`` with one instance ``value`` in columns ``x0:x1``."""
    ids = np.zeros((4, 8), np.int64)
    ids[1:3, x0:x1] = value
    return ids


def test_two_windows_that_reuse_an_id_give_two_tracks_that_last() -> None:
    linker = TrackLinker()
    seen = []
    for shift in range(3):  # both cells drift right by a pixel a frame; each window calls its cell 1
        frame, renamed = stitch([(cell(1 + shift, 3 + shift), 0), (cell(2 + shift, 4 + shift), 8)])
        tracks = linker.link(frame, renamed)
        seen.append((int(tracks[1, 1 + shift]), int(tracks[1, 10 + shift])))
    assert seen[0][0] != seen[0][1], "different cells with the same window id are different tracks"
    assert seen == [seen[0]] * 3, "each keeps its track from frame to frame"


def test_a_cell_seen_by_two_overlapping_windows_is_one_track() -> None:
    linker = TrackLinker()
    first = None
    for frame_index in range(3):
        left, right = np.zeros((4, 8), np.int64), np.zeros((4, 8), np.int64)
        left[1:3, 5:8] = 2  # columns 5-7 of the frame
        right[1:3, 1:4] = 7  # the same columns seen by the window at x = 4, with its own id
        frame, renamed = stitch([(left, 0), (right, 4)], width=12)
        tracks = linker.link(frame, renamed)
        assert np.unique(tracks[tracks > 0]).size == 1
        first = first or int(tracks.max())
        assert int(tracks.max()) == first, f"frame {frame_index}: the track changed"


def test_a_new_window_id_starts_a_new_track_and_a_vanished_one_is_forgotten() -> None:
    linker = TrackLinker()
    a = linker.link(*stitch([(cell(1, 3), 0)], width=8))
    assert int(a.max()) == 1
    b = linker.link(*stitch([(cell(1, 3) + cell(5, 7, 3), 0)], width=8))
    assert int(b[1, 1]) == 1 and int(b[1, 5]) == 2
    c = linker.link(*stitch([(cell(5, 7, 3), 0)], width=8))
    assert int(c[1, 5]) == 2 and set(np.unique(c).tolist()) == {0, 2}
    d = linker.link(*stitch([(cell(1, 3), 0)], width=8))
    assert int(d[1, 1]) == 3, "window id 1 vanished a frame ago: its track is not revived"


def test_a_track_goes_to_one_instance_the_larger() -> None:
    linker = TrackLinker()
    before = np.zeros((4, 8), np.int64)
    before[1:3, 1:7] = 1
    linker.link(before, [{1: 1}, {1: 1}])  # one cell, seen by two windows as their id 1
    after = np.zeros((4, 8), np.int64)
    after[1:3, 1:3], after[1:3, 4:7] = 1, 2  # it divided: each window now sees one half
    tracks = linker.link(after, [{1: 1}, {1: 2}])  # both halves claim the cell's track
    assert int(tracks[1, 4]) == 1, "the larger half keeps the track"
    assert int(tracks[1, 1]) == 2, "the smaller half starts a new one"
