import sys

from livedrum.cli import main

sys.exit(main())
