import sys

from anim3d.cli import main

sys.exit(main())
