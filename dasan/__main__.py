"""``python -m dasan`` is the ``dasan`` command."""

from dasan.cli import main

main()
