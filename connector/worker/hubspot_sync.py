"""Contacts in step between a shop and its HubSpot portal, both ways, resumable.

Pull: page through HubSpot's contacts (all of them, or those changed since the last run) and
match each to a contact we hold, by HubSpot id, then E.164 phone, then email; new ones are
created. Phones that do not parse are counted and listed; two HubSpot contacts with one phone
(or one email) are listed as duplicates and the second is not linked. Each page is applied in
its own transaction and the cursor saved with it, so an interrupted sync resumes where it
stopped. The next page is fetched while one is applied, so the sync runs at the rate limit.

Push: our contacts with a phone that HubSpot lacks are upserted in batches of 100 keyed on
`parlons_phone_e164`, and linked to what HubSpot answers.

A page is matched in bulk (three lookups per page) rather than contact by contact, with the
rules of `automations.contacts`: never two contacts for one person, never a phone stolen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import consent
from automations.contacts import normalise_phone
from automations.events import CONSENT_STATES, ConsentData
from automations.models import Contact, Shop, SyncState, utcnow
from connector import clients
from connector.runtime import Runtime
from integrations.errors import ApiError
from integrations.hubspot.client import HubSpotClient

log = logging.getLogger("parlons.sync.hubspot")
SOURCE = "hubspot"
LISTED_MAX = 500  # problems listed in the sync state (all are counted)
SLACK = timedelta(minutes=5)  # incremental runs start this long before the last run started


@dataclass
class SyncReport:
    pulled: int = 0
    created: int = 0
    linked: int = 0
    invalid_phones: int = 0
    duplicates: int = 0
    pushed: int = 0
    push_failed: int = 0
    resumed: bool = False
    full: bool = True
    problems: list[dict] = field(default_factory=list)


def sync_hubspot(runtime: Runtime, shop_id: int, *, full: bool = False, push: bool = True,
                 progress: Callable[[int], None] | None = None, client: HubSpotClient | None = None) -> SyncReport:
    """Pull then push; resumes an interrupted run unless `full` asks to start over."""
    progress = progress or (lambda n: None)
    with runtime.db.transaction() as session:
        shop = session.get(Shop, shop_id)
        client = client or clients.hubspot_for(runtime, session, shop)
        if client is None:
            raise ApiError("HubSpot is not connected for this shop")
        state = _start(session, shop_id, full)
        report = SyncReport(resumed=state.cursor is not None, full=state.since is None,
                            problems=list(state.invalid or []))
        cursor, since = state.cursor, state.since
    try:
        _pull(runtime, client, shop_id, cursor, since, report, progress)
        if push:
            _push(runtime, client, shop_id, report, progress)
    except Exception as exc:
        with runtime.db.transaction() as session:
            state = _state(session, shop_id)
            state.status, state.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        raise
    with runtime.db.transaction() as session:
        state = _state(session, shop_id)
        state.status, state.cursor, state.error, state.finished_at = "done", None, None, utcnow()
        state.since = state.started_at - SLACK
    return report


def _state(session: Session, shop_id: int) -> SyncState:
    return session.scalars(
        sa.select(SyncState).where(SyncState.shop_id == shop_id, SyncState.source == SOURCE)
    ).one()


def _start(session: Session, shop_id: int, full: bool) -> SyncState:
    state = session.scalars(
        sa.select(SyncState).where(SyncState.shop_id == shop_id, SyncState.source == SOURCE)
    ).first()
    if state is None:
        state = SyncState(shop_id=shop_id, source=SOURCE, invalid=[], processed=0)
        session.add(state)
        full = True
    resuming = state.cursor is not None and state.status in ("running", "failed") and not full
    if not resuming:
        state.cursor, state.processed, state.invalid, state.started_at = None, 0, [], utcnow()
        if full:
            state.since = None
    state.status, state.error, state.finished_at = "running", None, None
    session.flush()
    return state


def _pull(runtime: Runtime, client: HubSpotClient, shop_id: int, cursor: str | None, since: datetime | None,
          report: SyncReport, progress: Callable[[int], None]) -> None:
    limit = 100 if since is None else 200

    def fetch(after: str | None):
        return client.contacts_page(after=after, modified_since=since, limit=limit)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hubspot-page") as pool:
        ahead = pool.submit(fetch, cursor)
        while ahead is not None:
            records, nxt = ahead.result()
            ahead = pool.submit(fetch, nxt) if nxt else None
            with runtime.db.transaction() as session:
                shop = session.get(Shop, shop_id)
                problems = apply_page(session, shop, records, report)
                state = _state(session, shop_id)
                state.cursor, state.processed = nxt, state.processed + len(records)
                if problems and len(state.invalid or []) < LISTED_MAX:
                    state.invalid = [*(state.invalid or []), *problems][:LISTED_MAX]
            report.problems = (report.problems + problems)[:LISTED_MAX]
            progress(len(records))


def _phone_of(props: dict) -> str | None:
    return props.get("parlons_phone_e164") or props.get("mobilephone") or props.get("phone")


def apply_page(session: Session, shop: Shop, records: list[dict], report: SyncReport) -> list[dict]:
    """Match, link or create each HubSpot contact of a page; return the problems found."""
    now, problems, rows = utcnow(), [], []
    for record in records:
        props = record["properties"]
        raw = _phone_of(props)
        phone = normalise_phone(raw, shop.default_region)
        email = (props.get("email") or "").strip().lower() or None
        if raw and phone.e164 is None:
            report.invalid_phones += 1
            problems.append({"hubspot_id": record["id"], "problem": "invalid phone", "phone": raw,
                             "detail": phone.error})
        rows.append((record, props, raw, phone.e164, email))
    by_hubspot, by_phone, by_email = _lookup(session, shop.id, rows)
    new_rows: list[dict] = []  # plain new contacts, inserted in one statement
    for record, props, raw, e164, email in rows:
        hubspot_id = record["id"]
        contact = by_hubspot.get(hubspot_id)
        if isinstance(contact, dict):
            continue  # the same contact twice in a page: already on its way in
        if contact is None:
            contact = (by_phone.get(e164) if e164 else None) or (by_email.get(email) if email else None)
            if isinstance(contact, dict) or contact is not None and (
                    contact.deleted_at is not None or contact.hubspot_contact_id not in (None, hubspot_id)):
                report.duplicates += 1
                other = (contact["hubspot_contact_id"] if isinstance(contact, dict)
                         else contact.hubspot_contact_id or "a contact deleted from HubSpot")
                problems.append({"hubspot_id": hubspot_id, "problem": "duplicate", "phone": e164, "email": email,
                                 "detail": f"same phone or email as {other}; not linked"})
                continue
        if contact is None and not _stated_consent(props):
            new_rows.append(_new_row(shop, props, hubspot_id, raw, e164, email))
            for key, index in ((hubspot_id, by_hubspot), (e164, by_phone), (email, by_email)):
                if key:
                    index.setdefault(key, new_rows[-1])
            continue
        if contact is None:
            contact = Contact(**_new_row(shop, props, hubspot_id, raw, e164, email))
            session.add(contact)
            report.created += 1
        elif contact.hubspot_contact_id != hubspot_id:
            report.linked += 1
        contact.hubspot_contact_id = hubspot_id
        _fill(contact, props, raw, e164, email, by_phone)
        for key, index in ((hubspot_id, by_hubspot), (e164, by_phone), (email, by_email)):
            if key:
                index.setdefault(key, contact)
        _consent(session, contact, props, record, now)
    if new_rows:
        session.execute(sa.insert(Contact), new_rows)
        report.created += len(new_rows)
    report.pulled += len(records)
    session.flush()
    return problems


def _stated_consent(props: dict) -> bool:
    return props.get("parlons_sms_consent") in CONSENT_STATES and props.get("parlons_sms_consent") != "not_subscribed"


def _new_row(shop: Shop, props: dict, hubspot_id: str, raw: str | None, e164: str | None,
             email: str | None) -> dict:
    properties = {"created_from": SOURCE}
    if props.get("lifecyclestage"):
        properties["hubspot_lifecyclestage"] = props["lifecyclestage"]
    return {"shop_id": shop.id, "hubspot_contact_id": hubspot_id, "phone_e164": e164,
            "phone_raw": raw[:64] if raw else None, "phone_error": None if e164 or not raw else "not a valid phone number",
            "email": email, "first_name": props.get("firstname"), "last_name": props.get("lastname"),
            "tags": [], "properties": properties, "consent_status": "not_subscribed"}


def _lookup(session: Session, shop_id: int, rows) -> tuple[dict, dict, dict]:  # noqa: ANN001
    ids = [r[0]["id"] for r in rows]
    phones = [r[3] for r in rows if r[3]]
    emails = [r[4] for r in rows if r[4]]
    found: dict[int, Contact] = {}
    for column, values in ((Contact.hubspot_contact_id, ids), (Contact.phone_e164, phones), (Contact.email, emails)):
        if values:  # one indexed lookup each (an OR of the three would scan)
            found.update((c.id, c) for c in session.scalars(
                sa.select(Contact).where(Contact.shop_id == shop_id, column.in_(values))))
    found = [found[k] for k in sorted(found)]
    by_hubspot = {c.hubspot_contact_id: c for c in found if c.hubspot_contact_id and c.deleted_at is None}
    by_phone: dict[str, Contact] = {}
    by_email: dict[str, Contact] = {}
    for c in found:
        if c.phone_e164:  # deleted ones too: a phone stays theirs
            by_phone.setdefault(c.phone_e164, c)
        if c.email and c.deleted_at is None:
            by_email.setdefault(c.email, c)
    return by_hubspot, by_phone, by_email


def _fill(contact: Contact, props: dict, raw: str | None, e164: str | None, email: str | None,
          by_phone: dict) -> None:
    """What HubSpot knows and we do not (nothing we hold is overwritten by a sync)."""
    contact.email = contact.email or email
    contact.first_name = contact.first_name or props.get("firstname")
    contact.last_name = contact.last_name or props.get("lastname")
    if e164 and not contact.phone_e164 and by_phone.get(e164) in (None, contact):
        contact.phone_e164, contact.phone_raw, contact.phone_error = e164, (raw or "")[:64], None
    if props.get("lifecyclestage"):
        contact.properties = {**(contact.properties or {}), "hubspot_lifecyclestage": props["lifecyclestage"]}


def _consent(session: Session, contact: Contact, props: dict, record: dict, now: datetime) -> None:
    """A consent a CRM user set in HubSpot (not one we wrote there) goes into the ledger."""
    status = props.get("parlons_sms_consent")
    if status not in CONSENT_STATES or props.get("parlons_sms_consent_source") not in (None, "", SOURCE):
        return
    if status == contact.consent_status:
        return
    stamp = props.get("parlons_sms_consent_updated_at")
    try:
        occurred = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else record["updated_at"]
    except ValueError:
        occurred = record["updated_at"]
    session.flush()
    consent.record(session, contact, ConsentData(status, SOURCE, occurred or now, {
        "via": "sync", "hubspot_contact_id": record["id"], "property": "parlons_sms_consent"}), now)


def _push(runtime: Runtime, client: HubSpotClient, shop_id: int, report: SyncReport,
          progress: Callable[[int], None]) -> None:
    last_id = 0
    while True:
        with runtime.db.session() as session:
            batch = session.scalars(sa.select(Contact).where(
                Contact.shop_id == shop_id, Contact.id > last_id, Contact.phone_e164.is_not(None),
                Contact.hubspot_contact_id.is_(None), Contact.deleted_at.is_(None), Contact.redacted_at.is_(None),
            ).order_by(Contact.id).limit(100)).all()
        if not batch:
            return
        last_id = batch[-1].id
        ids = {}
        if not report.full:  # an incremental pull has not seen every HubSpot contact: look first
            for contact in batch:
                found = client.find_contact(phone_e164=contact.phone_e164, email=contact.email)
                if found is not None:
                    ids[contact.phone_e164] = found["id"]
        missing = [c for c in batch if c.phone_e164 not in ids]
        try:
            answer = client.batch_upsert([_properties(c) for c in missing]) if missing else []
            ids.update({r["properties"].get("parlons_phone_e164"): r["id"] for r in answer})
        except ApiError as error:
            if error.retryable:
                raise
            ids.update(_one_by_one(client, missing, report, error))
        with runtime.db.transaction() as session:
            for contact in batch:
                if ids.get(contact.phone_e164):
                    session.get(Contact, contact.id).hubspot_contact_id = ids[contact.phone_e164]
                    report.pushed += 1
        progress(len(batch))


def _properties(contact: Contact) -> dict:
    props = {"parlons_phone_e164": contact.phone_e164, "phone": contact.phone_e164, "email": contact.email,
             "firstname": contact.first_name, "lastname": contact.last_name,
             "parlons_sms_consent": contact.consent_status,
             "parlons_sms_consent_source": contact.consent_source or "",
             "parlons_sms_consent_updated_at": contact.consent_updated_at.isoformat()
             if contact.consent_updated_at else None}
    return {k: v for k, v in props.items() if v}


def _one_by_one(client: HubSpotClient, batch: list[Contact], report: SyncReport, error: ApiError) -> dict:
    """A batch HubSpot refused (a contact it has under another key, say): link each contact to
    the one HubSpot holds for its phone or email, or list it with the reason."""
    ids = {}
    for contact in batch:
        found = client.find_contact(phone_e164=contact.phone_e164, email=contact.email)
        if found is not None:
            ids[contact.phone_e164] = found["id"]
            continue
        try:
            ids[contact.phone_e164] = client.batch_upsert([_properties(contact)])[0]["id"]
        except ApiError as single:
            if single.retryable:
                raise
            report.push_failed += 1
            report.problems = (report.problems + [{"contact_id": contact.id, "problem": "push refused",
                                                   "detail": f"{single.status}: {single}"}])[:LISTED_MAX]
    log.info("HubSpot refused a batch (%s); %d of %d contacts linked one by one", error.status, len(ids), len(batch))
    return ids


def enqueue(runtime: Runtime, shop_id: int, full: bool = False) -> None:
    """Run a sync in a worker (after install, or on demand)."""
    runtime.queue("sync").enqueue(run_job, shop_id, full, job_timeout=6 * 3600)


def run_job(shop_id: int, full: bool = False) -> dict:
    from dataclasses import asdict

    from connector.runtime import current

    report = asdict(sync_hubspot(current(), shop_id, full=full))
    report["problems"] = report["problems"][:20]
    return report
