"""One module per ``anim3d`` subcommand (discovered by ``anim3d.cli``)."""
