"""`python -m lendshield.cli`."""

from lendshield.cli.main import main

main()
