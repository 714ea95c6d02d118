"""Layer 3, run records: a run's configuration and its directory on disk (layout, seal, reader).

Imports only the contract and data layers; every module that reads a stored run reads it here.
"""
