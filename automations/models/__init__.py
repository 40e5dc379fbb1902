"""The data the product keeps, as SQLAlchemy 2 models, one module per domain.

The database is the system of record for shops, contacts and their consent ledger, store events,
rules, messages, conversations, links and the outbox of writes to the CRM. Schema changes go
through Alembic migrations (connector/migrations). A new domain is a module of its own
that lists its tables in `__all__`, plus one line below: the package exports them and
`Base.metadata` knows them.
"""

from automations.models.access import *  # noqa: F403
from automations.models.base import *  # noqa: F403
from automations.models.commerce import *  # noqa: F403
from automations.models.contacts import *  # noqa: F403
from automations.models.flows import *  # noqa: F403
from automations.models.growth import *  # noqa: F403
from automations.models.marketing import *  # noqa: F403
from automations.models.messaging import *  # noqa: F403
from automations.models.outbox import *  # noqa: F403
from automations.models.sending import *  # noqa: F403
from automations.models.shops import *  # noqa: F403
from automations.models.sync import *  # noqa: F403
from automations.models.webhooks import *  # noqa: F403
