"""The official releases iadbench reads in their own layout, by the name a command line uses.

One table (a module of its own, so that adding a release adds a row here and leaves the package
root's imports alone); any other dataset name is a folder dataset (:mod:`iadbench.data.folder`).
"""

from __future__ import annotations

from iadbench.data.base import DatasetReader
from iadbench.data.btad import BTAD
from iadbench.data.ksdd2 import KolektorSDD2
from iadbench.data.mpdd import MPDD
from iadbench.data.mvtec import MVTecAD as MVTecAD  # re-exported: the package root names it
from iadbench.data.mvtec_ad2 import MVTecAD2
from iadbench.data.mvtec_loco import MVTecLOCO
from iadbench.data.real_iad import RealIAD
from iadbench.data.visa import VisA as VisA  # re-exported: the package root names it

DATASET_READERS: dict[str, type[DatasetReader]] = {
    "btad": BTAD,
    "ksdd2": KolektorSDD2,
    "mpdd": MPDD,
    "mvtec": MVTecAD,
    "mvtec-ad2": MVTecAD2,
    "mvtec-loco": MVTecLOCO,
    "real-iad": RealIAD,
    "visa": VisA,
}
