"""``python -m iadbench`` runs the CLI."""

from iadbench.cli import main

main()
