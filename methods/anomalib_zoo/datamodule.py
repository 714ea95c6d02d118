"""iadbench's samples as anomalib's input: a torch Dataset of ``ImageItem`` (no image copied).

One decoding rule serves anomalib's ``Engine`` (training, and ``Engine.predict`` in the
faithfulness test) and the bridge's own prediction (the runner's DataLoader): :class:`Decode`.
It reads ``sample.image_path`` with iadbench's decoder (``load_rgb``: RGB, 8-bit), turns it into
a float tensor in [0, 1] as anomalib's ``read_image(as_tensor=True)`` does
(anomalib/data/utils/image.py: ``to_dtype(to_image(image), float32, scale=True)``), and resizes
it to ``side × side`` with bilinear antialiasing — the operation of the default pre-processor's
``Resize`` (anomalib/models/components/base/anomalib_module.py, ``configure_pre_processor``).

Why resize here: anomalib's ``ImageBatch.collate`` resizes a batch of mixed sizes to its largest
image first (anomalib/data/dataclasses/generic.py), so a batch's content would change with its
neighbours. Resized here, every batch stacks, and the pre-processor's own ``Resize`` then leaves
the tensor untouched (torchvision returns an image already at the requested size unchanged,
transforms/v2/functional/_geometry.py ``resize_image``): the model sees what anomalib's
pre-processor alone would give it for a batch of equal sizes. Heavy module: import lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from iadbench.contract.images import load_rgb
from iadbench.contract.records import Sample


@dataclass(frozen=True)
class Decode:
    """Picklable: sample → float tensor ``(3, side, side)`` in [0, 1] (see the module)."""

    side: int

    def __call__(self, sample: Sample) -> torch.Tensor:
        """The sample's image, decoded and resized."""
        from torchvision.transforms.v2.functional import resize, to_dtype, to_image

        image = to_dtype(to_image(load_rgb(sample.image_path)), torch.float32, scale=True)
        resized: torch.Tensor = resize(image, [self.side, self.side], antialias=True)
        return resized.as_subclass(torch.Tensor)


class SampleDataset(Dataset[Any]):
    """Map-style dataset: item i → anomalib ``ImageItem`` of ``samples[i]`` (image, path)."""

    def __init__(self, samples: Sequence[Sample], side: int) -> None:
        """Read ``samples`` (in this order), each resized to ``side``."""
        self.samples = list(samples)
        self.decode = Decode(side)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Any:
        from anomalib.data.dataclasses.torch import ImageItem
        from torchvision.tv_tensors import Image

        sample = self.samples[index]
        # gt_label 0: the bridge feeds normal images to training; prediction ignores labels.
        return ImageItem(
            image=Image(self.decode(sample)),
            gt_label=torch.tensor(0),
            image_path=str(sample.image_path),
        )


def sample_loader(samples: Sequence[Sample], side: int, batch_size: int) -> DataLoader[Any]:
    """Batches of ``samples`` as anomalib's ``ImageBatch``, in order (seeded runs: same batches)."""
    from anomalib.data.dataclasses.torch import ImageBatch

    return DataLoader(
        SampleDataset(samples, side),
        batch_size=batch_size,
        shuffle=False,
        num_workers=0,
        collate_fn=ImageBatch.collate,
    )
