"""A chunk of store events handled in one transaction, with its rows loaded up front.

Before a chunk is handled, the contacts, checkouts, orders and flow runs its events can touch
are read in a few queries. While it is handled, look-ups answer from memory (a key that was
loaded and is not there does not exist) and new rows wait in the session: they are written in
one flush at the end, a few statements instead of several per event. On PostgreSQL a row whose
id is needed at once (a new contact, a consent statement) takes it from its sequence and waits
too; the chunk's new contacts are written before anything else, since other rows refer to them.

What stays true: a look-up sees every row created or changed earlier in the chunk (contacts
are indexed again whenever an identifying field is set); whatever needs to read the database
back flushes first. If two workers race on the same key, the chunk's flush fails on a unique
constraint and the caller replays its events one per transaction, without this.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached, object_session

from automations.models import Checkout, ConsentEvent, Contact, FlowRun, Order, OutboundWrite

_KEY = "parlons.chunk"
_Row = TypeVar("_Row")
CONTACT_KEYS = ("shopify_customer_id", "hubspot_contact_id", "phone_e164", "email")


@dataclass
class Wanted:
    """The keys a chunk's events refer to, per shop."""

    contacts: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in CONTACT_KEYS})
    checkout_tokens: set[str] = field(default_factory=set)
    order_gids: set[str] = field(default_factory=set)
    subjects: set[str] = field(default_factory=set)


class Chunk:
    def __init__(self) -> None:
        self.contacts: dict[tuple[int, str, str], list[Contact]] = defaultdict(list)
        self.contact_keys: set[tuple[int, str, str]] = set()  # loaded: absent here, absent there
        self.rows: dict[tuple[type, int, str], Checkout | Order | None] = {}
        self.runs_by_subject: dict[tuple[int, str], list[FlowRun]] = defaultdict(list)
        self.runs_by_contact: dict[int, list[FlowRun]] = defaultdict(list)
        self.run_keys: set[tuple[int, str]] = set()  # (rule, subject) of every run, ended ones too
        self.subjects: set[tuple[int, str]] = set()  # (shop, subject) whose runs were all loaded
        self.run_contacts: set[int] = set()  # contacts whose runs, consent and writes were loaded
        self.last_consent: dict[tuple[int, str], ConsentEvent] = {}  # (contact, source) → newest
        self.last_write: dict[tuple[int, str], OutboundWrite] = {}  # (contact, target) → newest consent push
        self._ids: dict[type, list[int]] = defaultdict(list)  # drawn from a sequence, not used yet
        self.new_contacts: list[Contact] = []  # with their ids, written before any other row

    # --- contacts ------------------------------------------------------------------------

    def index_contact(self, contact: Contact, name: str | None = None, value: Any = None) -> None:
        for key in (name,) if name else CONTACT_KEYS:
            current = value if name else getattr(contact, key)
            if current:
                bucket = self.contacts[(contact.shop_id, key, current)]
                if contact not in bucket:
                    bucket.append(contact)

    def contact(self, shop_id: int, name: str, value: str) -> tuple[bool, Contact | None]:
        """(known, contact): the oldest live contact with this key, and whether the answer is
        certain without asking the database."""
        live = [c for c in self.contacts.get((shop_id, name, value), ())
                if getattr(c, name) == value and c.deleted_at is None and c.shop_id == shop_id]
        if live:
            return True, min(live, key=lambda c: c.id if c.id is not None else float("inf"))
        return (shop_id, name, value) in self.contact_keys, None

    def write_contact(self, session: Session, contact: Contact) -> Contact:
        """Give a new contact its id now (rows made next refer to it). On PostgreSQL the id comes
        from the sequence and the contact is written, with every other new contact of the chunk,
        before anything else is (`_contacts_first`); elsewhere it is inserted at once."""
        if session.get_bind().dialect.name == "postgresql":
            contact.id = self._take_id(session, Contact)
            _fill_defaults(contact)
            contact._parlons_chunk = self  # indexed again when changed, though not in the session yet
            self.new_contacts.append(contact)
            written = contact
        else:
            written = write_now(session, contact)
        self.index_contact(written)
        self.run_contacts.add(written.id)  # a contact just created has no flow runs yet
        return written

    def write_new_contacts(self, session: Session) -> None:
        """Insert the chunk's new contacts in one statement, and keep them in the session as written."""
        contacts, self.new_contacts = self.new_contacts, []
        if not contacts:
            return
        table = Contact.__table__
        session.connection().execute(sa.insert(table), [
            {column.key: sa.inspect(c).dict[column.key] for column in table.columns} for c in contacts
        ])
        for contact in contacts:
            del contact._parlons_chunk
            make_transient_to_detached(contact)
            session.add(contact)

    def newest_consent(self, contact_id: int, source: str) -> tuple[bool, ConsentEvent | None]:
        """(known, the contact's newest statement from this source)."""
        return contact_id in self.run_contacts, self.last_consent.get((contact_id, source))

    def add_consent(self, entry: ConsentEvent) -> None:
        key = (entry.contact_id, entry.source)
        held = self.last_consent.get(key)
        if held is None or (entry.occurred_at, entry.id) >= (held.occurred_at, held.id):
            self.last_consent[key] = entry

    def newest_write(self, contact_id: int, target: str) -> tuple[bool, OutboundWrite | None]:
        """(known, the newest consent push to this target written before the chunk)."""
        return contact_id in self.run_contacts, self.last_write.get((contact_id, target))

    def give_id(self, session: Session, row: _Row) -> _Row:
        """Give a new row its id now and keep it in the session, to be written with the rest of
        the chunk (it may refer to contacts: they are written first). On PostgreSQL the id comes
        from the table's sequence; elsewhere the row is inserted at once."""
        if session.get_bind().dialect.name != "postgresql":
            return write_now(session, row)
        row.id = self._take_id(session, type(row))
        session.add(row)
        return row

    def _take_id(self, session: Session, model: type) -> int:
        """The next id of the model's sequence, drawn a few dozen at a time."""
        pool = self._ids[model]
        if not pool:
            pool.extend(reversed(_next_ids(session, model, 64)))
        return pool.pop()

    # --- checkouts and orders --------------------------------------------------------------

    def row(self, model: type, shop_id: int, value: str) -> tuple[bool, Checkout | Order | None]:
        key = (model, shop_id, value)
        return (key in self.rows), self.rows.get(key)

    def add_row(self, row: Checkout | Order, value: str) -> None:
        self.rows[(type(row), row.shop_id, value)] = row

    # --- flow runs ---------------------------------------------------------------------------

    def add_run(self, run: FlowRun) -> None:
        self.runs_by_subject[(run.shop_id, run.subject_key)].append(run)
        self.runs_by_contact[run.contact_id].append(run)
        self.run_keys.add((run.rule_id, run.subject_key))

    def knows_subject(self, shop_id: int, subject: str, contact_id: int | None = None) -> bool:
        return (shop_id, subject) in self.subjects or (
            contact_id is not None and subject == f"contact:{contact_id}" and contact_id in self.run_contacts
        )

    def run_started(self, shop_id: int, rule_id: int, subject: str, contact_id: int) -> bool | None:
        """Whether a run of this rule exists for this subject; None when not known here."""
        if not self.knows_subject(shop_id, subject, contact_id):
            return None
        return (rule_id, subject) in self.run_keys

    def active_runs(self, shop_id: int, subjects: Iterable[str], contact_id: int | None) -> list[FlowRun] | None:
        """Active runs for any of these subjects or this contact; None when not all known here."""
        subjects = list(subjects)
        if any((shop_id, s) not in self.subjects for s in subjects):
            return None
        if contact_id is not None and contact_id not in self.run_contacts:
            return None
        found = [r for s in subjects for r in self.runs_by_subject.get((shop_id, s), ())]
        if contact_id is not None:
            found += self.runs_by_contact.get(contact_id, ())
        return [r for r in dict.fromkeys(found) if r.status == "active" and r.shop_id == shop_id]


def write_now(session: Session, row: _Row) -> _Row:
    """Insert a new row at once, on its own (its id is needed now), and keep it in the session as
    written. Nothing else pending is written."""
    table = type(row).__table__
    state = sa.inspect(row).dict
    _fill_defaults(row)
    values = {column.key: state[column.key] for column in table.columns if column.key in state}
    row.id = session.connection().execute(sa.insert(table).returning(table.c.id), values).scalar_one()
    make_transient_to_detached(row)
    session.add(row)
    return row


def _fill_defaults(row: Any) -> None:
    """Set what an insert would store for the columns not set yet, on the object too, so that
    nothing is read back once it is written."""
    state = sa.inspect(row).dict
    for column in type(row).__table__.columns:
        if column.key not in state and not column.primary_key:
            arg = column.default.arg if column.default is not None else None
            setattr(row, column.key, arg(None) if callable(arg) else arg)


def ready_to_write(session: Session) -> None:
    """Before the chunk's flush: its new contacts written, and on PostgreSQL its other new rows
    given their ids from their sequences, one query per table (rows whose ids are known are
    written by the driver as one prepared statement run for every row, rather than as one very
    long multi-row statement it must parse each time)."""
    loaded = active(session)
    if loaded is not None:
        loaded.write_new_contacts(session)
    if session.get_bind().dialect.name != "postgresql":
        return
    waiting: dict[type, list[Any]] = defaultdict(list)
    for row in session.new:
        if getattr(row, "id", 0) is None:
            waiting[type(row)].append(row)
    for model, rows in waiting.items():
        for row, new_id in zip(rows, _next_ids(session, model, len(rows)), strict=True):
            row.id = new_id


def _next_ids(session: Session, model: type, count: int) -> list[int]:
    return list(session.execute(
        sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": model.__tablename__, "n": count},
    ).scalars())


def active(session: Session) -> Chunk | None:
    return session.info.get(_KEY)


def begin(session: Session, wanted: dict[int, Wanted]) -> Chunk:
    """Load what the chunk's events refer to, and handle the chunk from memory from now on."""
    chunk = Chunk()
    for shop_id, keys in wanted.items():
        _load_contacts(session, chunk, shop_id, keys)
        _load_rows(session, chunk, Checkout, Checkout.token, shop_id, keys.checkout_tokens)
        _load_rows(session, chunk, Order, Order.gid, shop_id, keys.order_gids)
        _load_runs(session, chunk, shop_id, keys.subjects)
    session.info[_KEY] = chunk
    return chunk


def end(session: Session) -> None:
    session.info.pop(_KEY, None)


def _load_contacts(session: Session, chunk: Chunk, shop_id: int, keys: Wanted) -> None:
    match = [getattr(Contact, name).in_(sorted(values)) for name, values in keys.contacts.items() if values]
    if not match:
        return
    for contact in session.scalars(
        sa.select(Contact).where(Contact.shop_id == shop_id, Contact.deleted_at.is_(None), sa.or_(*match))
    ):
        chunk.index_contact(contact)
    chunk.contact_keys.update((shop_id, name, v) for name, values in keys.contacts.items() for v in values)


def _load_rows(session: Session, chunk: Chunk, model: type, column: Any, shop_id: int, values: set[str]) -> None:
    if not values:
        return
    for value in values:
        chunk.rows.setdefault((model, shop_id, value), None)
    for row in session.scalars(sa.select(model).where(model.shop_id == shop_id, column.in_(sorted(values)))):
        chunk.add_row(row, getattr(row, column.key))


def _load_runs(session: Session, chunk: Chunk, shop_id: int, subjects: set[str]) -> None:
    contact_ids = {c.id for (s, _, _), bucket in chunk.contacts.items() if s == shop_id for c in bucket}
    match = []
    if subjects:
        match.append(FlowRun.subject_key.in_(sorted(subjects)))
    if contact_ids:
        match.append(FlowRun.contact_id.in_(sorted(contact_ids)))
    if not match:
        return
    # active runs whole (exits end them); of the others, which exist is all that is asked
    for run in session.scalars(
        sa.select(FlowRun).where(FlowRun.shop_id == shop_id, FlowRun.status == "active", sa.or_(*match))
    ):
        chunk.add_run(run)
    chunk.run_keys.update(session.execute(
        sa.select(FlowRun.rule_id, FlowRun.subject_key)
        .where(FlowRun.shop_id == shop_id, FlowRun.status != "active", sa.or_(*match))
    ).tuples())
    if contact_ids:
        _load_consent(session, chunk, sorted(contact_ids))
    chunk.subjects.update((shop_id, s) for s in subjects)
    chunk.run_contacts.update(contact_ids)


def _newest(model: type, partition: list[Any], order: list[Any], *where: Any) -> sa.Select:
    rank = sa.func.row_number().over(partition_by=partition, order_by=order).label("rank")
    ranked = sa.select(model.id, rank).where(*where).subquery()
    return sa.select(model).join(ranked, ranked.c.id == model.id).where(ranked.c.rank == 1)


def _load_consent(session: Session, chunk: Chunk, contact_ids: list[int]) -> None:
    """Each contact's newest statement per source and newest consent push per target (what
    consent.record compares a new statement with)."""
    for entry in session.scalars(_newest(
        ConsentEvent, [ConsentEvent.contact_id, ConsentEvent.source],
        [ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc()], ConsentEvent.contact_id.in_(contact_ids),
    )):
        chunk.last_consent[(entry.contact_id, entry.source)] = entry
    for write in session.scalars(_newest(
        OutboundWrite, [OutboundWrite.contact_id, OutboundWrite.target], [OutboundWrite.id.desc()],
        OutboundWrite.contact_id.in_(contact_ids), OutboundWrite.action == "consent",
    )):
        chunk.last_write[(write.contact_id, write.target)] = write


def _reindex(name: str):  # noqa: ANN202 - an attribute event listener
    def listener(target: Contact, value: Any, _old: Any, _initiator: Any) -> None:
        session = object_session(target)
        chunk = session.info.get(_KEY) if session is not None else getattr(target, "_parlons_chunk", None)
        if chunk is not None and value:
            chunk.index_contact(target, name, value)

    return listener


for _name in CONTACT_KEYS:
    sa.event.listen(getattr(Contact, _name), "set", _reindex(_name))


@sa.event.listens_for(Session, "before_flush")
def _contacts_first(session: Session, _context: Any, _instances: Any) -> None:
    """Whatever flushes while a chunk is handled, its new contacts are written first: the rows
    being flushed may refer to them."""
    loaded = session.info.get(_KEY)
    if loaded is not None and loaded.new_contacts:
        loaded.write_new_contacts(session)
