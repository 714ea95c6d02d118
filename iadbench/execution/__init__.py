"""Layer 5, execution: the registry, planning a run, running, training, predicting, matrices."""
