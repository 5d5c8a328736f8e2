"""Track ids for streaming video when a frame is cut into several windows.

A streaming family (e.g. Pix2Seq-D on video) conditions every window on its own prediction of the same window in
the previous frame, so an id it writes in a window continues that window's id of the previous frame. Those ids
mean nothing outside the window: two windows may give different cells the same id, and one cell seen by two
overlapping windows carries two ids. Each frame is therefore stitched like an image
(:class:`~rleseg.inference.instance_canvas.InstanceCanvas`: ids matched across windows, fresh canvas ids), and
:class:`TrackLinker` names every stitched instance with a track id: the track that the window ids merged into it
carried in the previous frame (the most frequent, when they disagree; larger instances choose first, and each
track goes to one instance per frame), else a new track.
"""

from __future__ import annotations

from collections import Counter

import numpy as np


class TrackLinker:
    """Turns each frame's stitched instance ids into track ids, frame after frame (see the module docstring)."""

    def __init__(self) -> None:
        self.tracks: dict[tuple[int, int], int] = {}  # (window index, window id) -> track id in the last frame
        self.next_track = 0

    def link(self, instances: np.ndarray, window_ids: list[dict[int, int]]) -> np.ndarray:
        """One frame: stitched instance ids ``(H, W)`` (0: none) and ``window_ids[i]``, the ``{window id: stitched
        id}`` of the frame's i-th window (windows in the same order every frame) -> the ids as tracks, ``(H, W)``
        int64. Stitched ids absent from ``instances`` are forgotten with their window ids."""
        present, area = np.unique(instances[instances > 0], return_counts=True)
        votes: dict[int, Counter[int]] = {int(c): Counter() for c in present}
        for w, ids in enumerate(window_ids):
            for k, c in ids.items():
                if c in votes and (w, k) in self.tracks:
                    votes[c][self.tracks[(w, k)]] += 1
        track: dict[int, int] = {}
        taken: set[int] = set()
        for c in present[np.argsort(-area, kind="stable")].tolist():
            earlier = [t for t, _ in sorted(votes[c].items(), key=lambda tv: (-tv[1], tv[0])) if t not in taken]
            if earlier:
                track[c] = earlier[0]
            else:
                self.next_track += 1
                track[c] = self.next_track
            taken.add(track[c])
        self.tracks = {(w, k): track[c] for w, ids in enumerate(window_ids) for k, c in ids.items() if c in track}
        table = np.zeros(int(instances.max(initial=0)) + 1, np.int64)
        for c, t in track.items():
            table[c] = t
        return table[instances]
