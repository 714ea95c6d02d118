"""anomalib's image models as iadbench methods (issue 21): ``anomalib-patchcore``, ...

:mod:`.catalogue` lists the models (no anomalib import), :mod:`.adapter` is the one bridge,
:mod:`.models` builds one method class per entry (the entry points name them). The bridge trains
through anomalib's own ``Engine`` (:mod:`.training`, :mod:`.datamodule`) and maps raw scores into
[0, 1] from held-out normal images (:mod:`.scoring`).
"""
