"""Dataset readers: each turns files on disk into a :class:`~rleseg.data.sample.SegmentationSource`.

One module per format (``folder``, ``video``, ``coco_panoptic``, ``cityscapes``), shared file reading in
``files``, and :func:`open_dataset` which detects the format from the layout. Every reader checks file
pairing at open, decodes and checks each sample on read, and offers ``validate()`` which reads everything
and returns all problems, one line each naming the file. Malformed data raises :class:`DatasetError`
(a ``ValueError``) whose message starts with the file's path.
"""

from rleseg.data.formats.auto import FORMATS, detect_format, open_dataset
from rleseg.data.formats.base import CheckedSource
from rleseg.data.formats.cityscapes import CITYSCAPES_CLASSES, CITYSCAPES_LABELS, CityscapesDataset
from rleseg.data.formats.coco_panoptic import CocoPanopticDataset, decode_panoptic_rgb
from rleseg.data.formats.files import DatasetError, natural_key, read_label, read_rgb
from rleseg.data.formats.folder import FolderDataset
from rleseg.data.formats.video import VideoFolderDataset

__all__ = [
    "CITYSCAPES_CLASSES",
    "CITYSCAPES_LABELS",
    "FORMATS",
    "CheckedSource",
    "CityscapesDataset",
    "CocoPanopticDataset",
    "DatasetError",
    "FolderDataset",
    "VideoFolderDataset",
    "decode_panoptic_rgb",
    "detect_format",
    "natural_key",
    "open_dataset",
    "read_label",
    "read_rgb",
]
