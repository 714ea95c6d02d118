"""Where a method puts per-image artefacts: the one rule that writers and readers share.

It lives in the contract because methods (AprilGAN's ``save_maps``) write maps and may import only
the contract; the run dir's layout (:mod:`iadbench.runs.layout`) and the readers (``iadbench
predict``, the HTML report) use the same function.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

#: Folder of anomaly-map PNGs inside an artefacts dir.
MAPS = "maps"


def map_path(artifacts_dir: Path, sample_id: str) -> Path:
    """Where a method writes the anomaly-map PNG of an image: ``<artifacts>/maps/<id>.png``.

    The sample id with its suffix replaced by ``.png``.

    Raises:
        ValueError: An id that would lead outside the maps folder (``..``, absolute).

    Example:
        >>> map_path(Path("/run/artifacts"), "bottle/test/crack/001.jpg").as_posix()
        '/run/artifacts/maps/bottle/test/crack/001.png'
    """
    relative = PurePosixPath(sample_id).with_suffix(".png")
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"sample id {sample_id!r} would write outside {artifacts_dir}")
    return artifacts_dir / MAPS / relative
