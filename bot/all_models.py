"""Import every module that defines tables, so metadata (and Alembic) knows them all."""
import bot.models  # noqa: F401
import bot.ratelimit  # noqa: F401
import handlers.reports.models  # noqa: F401
import handlers.teams.models  # noqa: F401
import handlers.broadcast.models  # noqa: F401
import bot.webadmin.models  # noqa: F401
import bot.options  # noqa: F401
import bot.web_session  # noqa: F401
import knowledge.unanswered  # noqa: F401
import knowledge.feedback  # noqa: F401
import bot.channels.zalo_oa_models  # noqa: F401
