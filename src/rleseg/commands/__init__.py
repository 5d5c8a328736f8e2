"""The work behind the ``rleseg`` subcommands, one module per family; ``rleseg.cli`` only parses options.

``data`` (synth, check), ``train``, ``predict``, ``demo_run`` (the training demo). They print with rich and
raise :class:`~rleseg.commands.common.CommandError` for anything the user can fix.
"""
