import sys

from weerthuis.monitor.command import main

sys.exit(main())
