"""Unlabeled images for ``iadbench predict``: files and folders → samples, outside any dataset.

Folders are walked by the one rule every dataset reader follows
(:func:`iadbench.data.traversal.image_files_below`): links to folders are followed, hidden entries
skipped, a link loop walked once, and only regular files are images — a FIFO named ``x.png``
would block the first read forever.

The category each image is presented under is the run's when it has one, not the folder the
images happen to lie in (:func:`told_categories`).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from iadbench.contract.errors import IADBenchError
from iadbench.contract.records import NORMAL, Sample
from iadbench.data.base import IMAGE_SUFFIXES
from iadbench.data.traversal import image_files_below, is_regular_file

#: Dataset name of unlabeled images in the samples handed to the adapter.
UNLABELED: Final = "unlabeled"


def unlabeled_samples(
    inputs: Sequence[Path], category: str | None = None, dataset: str = UNLABELED
) -> list[Sample]:
    """Samples for image files and the image files under folders (recursively, sorted).

    Ids are the images' paths relative to the deepest folder holding every input: distinct paths
    give distinct ids (two ``x.png`` in different folders differ by their folder), and they are
    safe as file names under a maps dir. ``image_path`` is the absolute path, with links below a
    given folder kept as spelled. The label is a placeholder that no output shows: adapters never
    read labels when they predict.

    Raises:
        IADBenchError: An input does not exist or is not a regular file (a FIFO, a device), or
            no image file is found.
    """
    files: list[Path] = []
    folders: list[Path] = []
    for given in inputs:
        path = given.expanduser().resolve()
        if path.is_dir():
            files.extend(image_files_below(path))
            folders.append(path)
        elif path.exists():
            # Named explicitly, any file is predicted (an unreadable one gets its error), but
            # only a regular file: opening a FIFO waits for a writer that never comes.
            if not is_regular_file(path):
                raise IADBenchError(
                    f"{given} is not a regular file (a FIFO, socket or device); name image files "
                    "or folders"
                )
            files.append(path)
            folders.append(path.parent)
        else:
            raise IADBenchError(f"{given} is neither an image file nor a folder")
    if not files:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise IADBenchError(f"no image file ({suffixes}) in {', '.join(map(str, inputs))}")
    base = Path(os.path.commonpath(folders))
    return [
        Sample(
            id=path.relative_to(base).as_posix(),
            dataset=dataset,
            category=category or path.parent.name,
            subset="test",
            label=NORMAL,
            image_path=str(path),
        )
        for path in dict.fromkeys(files)  # an image named twice is predicted once
    ]


def told_categories(
    samples: Sequence[Sample], given: str | None, known: Sequence[str], known_from: str = "run"
) -> tuple[list[Sample], str]:
    """The category each image is presented under, and one line saying which (issue 19 item 4).

    The category reaches the method (a text method's prompt, a per-category plugin's lookup), so
    an image's folder name (``incoming``) is told only when it means something:

    - ``given`` (``--category``) is told as given, with a note when ``known`` lacks it;
    - else the one category ``known`` holds, whatever folder the images lie in;
    - else each image's folder name, which must be one of ``known`` when ``known`` is not empty
      (a folder name a per-category method does not know made it fall back, silently).

    Args:
        samples: The images, with their folder names as category
            (:func:`unlabeled_samples` without ``category``).
        given: ``--category``, or None.
        known: The categories of the run or training the configuration comes from; empty when
            it names none (a zero-shot method named by flags).
        known_from: What ``known`` belongs to, for people (``run`` or ``training``).

    Returns:
        The samples with the category told, and the line that says which.

    Raises:
        IADBenchError: No ``given`` category, several known ones, and a folder name that is not
            one of them.
    """
    known = sorted(set(known))
    if given is not None:
        chosen = [dataclasses.replace(s, category=given) for s in samples]
        if not known or given in known:
            return chosen, f"Category told to the method: {given} (--category)."
        return chosen, (
            f"Category told to the method: {given} (--category), not one of the {known_from}'s "
            f"({_listing(known)}): a per-category method may fall back for it."
        )
    if len(known) == 1:
        only = known[0]
        return [dataclasses.replace(s, category=only) for s in samples], (
            f"Category told to the method: {only}, the {known_from}'s only category "
            "(--category NAME tells another)."
        )
    folders = Counter(s.category for s in samples)
    unknown = sorted(set(folders) - set(known)) if known else []
    if unknown:
        raise IADBenchError(
            f"the images' folder name{'s' if len(unknown) > 1 else ''} ({_listing(unknown)}) "
            f"{'are not categories' if len(unknown) > 1 else 'is not a category'} of the "
            f"{known_from} ({_listing(known)}), and the method is told each image's category: "
            "name the one they show with --category NAME, or put the images in folders named by "
            "category"
        )
    counted = ", ".join(f"{name} {n}" for name, n in sorted(folders.items()))
    where = f", all the {known_from}'s" if known else "; --category NAME tells one for all"
    return list(samples), f"Categories told to the method: the folder names ({counted}){where}."


def _listing(names: Sequence[str], most: int = 8) -> str:
    """``a, b, c`` — or the first ``most`` and how many in all (a dataset may have dozens)."""
    if len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:most])}, … {len(names)} in all"
