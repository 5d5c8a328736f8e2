"""The frames of a video dataset as a dataset of single images.

An image model (P2S-SEG) trained or evaluated on a video dataset sees every frame as one image: this is the
"static model on the same frames" that a video model (P2S-VIDSEG) is compared against.
"""

from __future__ import annotations

from collections.abc import Sequence

from rleseg.data.sample import Sample, SegmentationSource


def is_video_source(source: SegmentationSource) -> bool:
    """True when ``source`` yields clips: it says so (``num_frames``) or its first sample is a clip."""
    if len(source) == 0:
        return False
    if isinstance(getattr(source, "num_frames", None), int):
        return True
    return source[0].is_video


class VideoFrames:
    """Every frame of every video of ``source`` as a single-image :class:`Sample`.

    ``frames[i]`` is frame ``t`` of video ``v`` (videos in order, frames in order) with ``image (H, W, 3)``,
    ``mask (H, W)``, ``instances (H, W)`` or None, named ``<video>_f<t>`` (t zero-padded to 3 digits). The
    last video read is kept, so reading the frames in order reads each video once. Sources that state their
    ``num_frames`` are not read to count frames; others are read once, video by video, at the first ``len``.
    """

    def __init__(self, source: SegmentationSource) -> None:
        self.source = source
        self.classes: Sequence[str] = list(source.classes)
        self._index: list[tuple[int, int]] | None = None
        self._last: tuple[int, Sample] | None = None

    def _video(self, v: int) -> Sample:
        if self._last is None or self._last[0] != v:
            sample = self.source[v]
            if not sample.is_video:
                raise ValueError(f"sample {v} ({sample.name}) of the video dataset is a single image")
            self._last = (v, sample)
        return self._last[1]

    def _frames(self) -> list[tuple[int, int]]:
        if self._index is None:
            fixed = getattr(self.source, "num_frames", None)
            counts = [
                fixed if isinstance(fixed, int) else self._video(v).image.shape[0] for v in range(len(self.source))
            ]
            self._index = [(v, t) for v, n in enumerate(counts) for t in range(n)]
        return self._index

    def __len__(self) -> int:
        return len(self._frames())

    def __getitem__(self, index: int) -> Sample:
        frames = self._frames()
        if not -len(frames) <= index < len(frames):
            raise IndexError(f"frame {index} out of range: the dataset has {len(frames)} frames")
        v, t = frames[index]
        clip = self._video(v)
        inst = None if clip.instances is None else clip.instances[t]
        return Sample(clip.image[t], clip.mask[t], inst, f"{clip.name}_f{t:03d}")
