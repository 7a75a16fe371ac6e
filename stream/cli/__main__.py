import sys

from cursorprint.stream.cli.root import main

sys.exit(main())
