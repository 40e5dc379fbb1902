"""The data the product keeps, as SQLAlchemy 2 models, one module per domain.

The database is the system of record for shops, contacts and their consent ledger, store events,
rules, messages, conversations, links and the outbox of writes to the CRM. Schema changes go
through Alembic migrations (connector/migrations). A new domain gets its own module here, imported
below so that every table is known to `Base.metadata`.
"""

from automations.models.base import NAMING, Base, UTCDateTime, utcnow
from automations.models.commerce import Checkout, Order, StoreEvent
from automations.models.contacts import ConsentEvent, Contact
from automations.models.flows import FlowRun, Rule, RuleVersion, Template
from automations.models.messaging import Conversation, Link, LinkClick, Message
from automations.models.outbox import OutboundWrite, TimelineEntry
from automations.models.shops import Installation, Shop
from automations.models.sync import DataExport, SyncState

__all__ = [
    "NAMING", "Base", "Checkout", "ConsentEvent", "Contact", "Conversation", "DataExport", "FlowRun",
    "Installation", "Link", "LinkClick", "Message", "Order", "OutboundWrite", "Rule", "RuleVersion",
    "Shop", "StoreEvent", "SyncState", "Template", "TimelineEntry", "UTCDateTime", "utcnow",
]
