"""`python -m pyconnector` is the same as `promscale-connector`."""

import sys

from .cli import main

sys.exit(main())
