"""``python -m rleseg``: the ``rleseg`` command."""

from rleseg.cli import main

main()
