"""``python -m server`` runs the ``evoselfcode`` command; the extension starts the server so."""

import sys

from server.cli import main

sys.exit(main())
