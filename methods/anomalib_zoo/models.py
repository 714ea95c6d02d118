"""One iadbench method per catalogue entry (the ``iadbench.methods`` entry points name these).

Importing this module reads the catalogue and anomalib's version from its metadata; it imports
neither torch nor anomalib. ``tests/methods/anomalib_zoo/test_models.py`` checks that this file,
the catalogue and pyproject.toml's entry points name the same 30 models.
"""

from .catalogue import ZOO
from .classes import zoo_adapter

AnomalyDINO = zoo_adapter(ZOO["anomalib-anomalydino"])
AnomalyVFM = zoo_adapter(ZOO["anomalib-anomalyvfm"])
Cfa = zoo_adapter(ZOO["anomalib-cfa"])
Cflow = zoo_adapter(ZOO["anomalib-cflow"])
Csflow = zoo_adapter(ZOO["anomalib-csflow"])
Dfkde = zoo_adapter(ZOO["anomalib-dfkde"])
Dfm = zoo_adapter(ZOO["anomalib-dfm"])
Dinomaly = zoo_adapter(ZOO["anomalib-dinomaly"])
Draem = zoo_adapter(ZOO["anomalib-draem"])
Dsr = zoo_adapter(ZOO["anomalib-dsr"])
EfficientAd = zoo_adapter(ZOO["anomalib-efficientad"])
Fastflow = zoo_adapter(ZOO["anomalib-fastflow"])
FoundAD = zoo_adapter(ZOO["anomalib-foundad"])
Fre = zoo_adapter(ZOO["anomalib-fre"])
Ganomaly = zoo_adapter(ZOO["anomalib-ganomaly"])
GeneralAD = zoo_adapter(ZOO["anomalib-generalad"])
Glass = zoo_adapter(ZOO["anomalib-glass"])
InpFormer = zoo_adapter(ZOO["anomalib-inpformer"])
L2BT = zoo_adapter(ZOO["anomalib-l2bt"])
MHPatchcore = zoo_adapter(ZOO["anomalib-mhpatchcore"])
Padim = zoo_adapter(ZOO["anomalib-padim"])
Patchcore = zoo_adapter(ZOO["anomalib-patchcore"])
Patchflow = zoo_adapter(ZOO["anomalib-patchflow"])
Rad = zoo_adapter(ZOO["anomalib-rad"])
ReverseDistillation = zoo_adapter(ZOO["anomalib-reversedistillation"])
Stfpm = zoo_adapter(ZOO["anomalib-stfpm"])
SuperADD = zoo_adapter(ZOO["anomalib-superadd"])
Supersimplenet = zoo_adapter(ZOO["anomalib-supersimplenet"])
Uflow = zoo_adapter(ZOO["anomalib-uflow"])
UniNet = zoo_adapter(ZOO["anomalib-uninet"])
