"""``python -m rleseg.cli``: the ``rleseg`` command."""

from rleseg.cli import main

main()
