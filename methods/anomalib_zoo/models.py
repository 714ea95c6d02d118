"""One iadbench method per catalogue entry (the ``iadbench.methods`` entry points name these).

Importing this module reads the catalogue and anomalib's version from its metadata; it imports
neither torch nor anomalib.
"""

from .adapter import zoo_adapter
from .catalogue import ZOO

Padim = zoo_adapter(ZOO["anomalib-padim"])
Patchcore = zoo_adapter(ZOO["anomalib-patchcore"])
