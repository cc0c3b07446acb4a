"""``python -m espace_sante`` runs the command line."""

from espace_sante.cli.main import main

main()
