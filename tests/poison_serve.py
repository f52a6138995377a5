"""`python tests/poison_serve.py --port N`: the real server plus one feature module whose handler
kills the whole process (SIGABRT) on a marker text, as a crash in native code would."""
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core files in the repository

import handlers  # noqa: E402

handlers.MODULES.append("tests.poison_handler")

from bot.cli import main  # noqa: E402

sys.exit(main(["serve", *sys.argv[1:]]))
