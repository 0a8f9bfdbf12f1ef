"""``python -m wattbit.cli``: the ``wattbit`` command."""

from wattbit.cli import main

main()
