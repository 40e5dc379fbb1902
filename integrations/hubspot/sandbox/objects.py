"""CRM object routes of the sandbox: list, create, read, update, search, batch read and upsert,
associations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, g, jsonify, request

from integrations.hubspot.sandbox.store import (
    COMMUNICATION_TO_CONTACT,
    CONTACT_DEFAULTS,
    CONTACT_TO_COMMUNICATION,
    Record,
    SandboxError,
    as_ms,
    iso,
    now_ms,
    page,
    paging,
    wanted_properties,
)

if TYPE_CHECKING:
    from integrations.hubspot.sandbox import HubSpotSandbox


def register_objects(app: Flask, sandbox: HubSpotSandbox) -> None:
    kinds = {"contacts", "communications"}

    def store(kind: str) -> dict[str, Record]:
        if kind not in kinds:
            raise SandboxError(404, f"unknown object type {kind}", "OBJECT_NOT_FOUND")
        return g.portal.contacts if kind == "contacts" else g.portal.communications

    def defaults(kind):
        return CONTACT_DEFAULTS if kind == "contacts" else ["hs_object_id", "hs_createdate", "hs_lastmodifieddate"]

    @app.get("/crm/v3/objects/<kind>")
    def list_objects(kind):
        limit = min(int(request.args.get("limit", 10)), 100)
        with sandbox._lock:
            records = sorted(store(kind).values(), key=lambda r: int(r.id))
            chunk, next_after = page(records, request.args.get("after"), limit)
            wanted = wanted_properties(defaults(kind))
            results = [r.to_json(wanted) for r in chunk]
        return jsonify(results=results, **paging(next_after, request.path))

    @app.post("/crm/v3/objects/<kind>")
    def create_object(kind):
        body = request.get_json(force=True)
        with sandbox._lock:
            store(kind)
            links = []
            for assoc in body.get("associations") or []:
                target = str(assoc["to"]["id"])
                type_ids = [t.get("associationTypeId") for t in assoc.get("types", [])]
                if kind != "communications" or target not in g.portal.contacts or type_ids != [COMMUNICATION_TO_CONTACT]:
                    raise SandboxError(400, f"invalid association to {target} with types {type_ids}")
                links.append(target)
            record = sandbox.write(g.portal, kind, body.get("properties") or {})
            g.portal.associations.update((record.id, target) for target in links)
            return jsonify(record.to_json(None)), 201

    @app.route("/crm/v3/objects/<kind>/<record_id>", methods=["GET", "PATCH"])
    def one_object(kind, record_id):
        with sandbox._lock:
            records = store(kind)
            if request.method == "PATCH":
                record = sandbox.write(g.portal, kind, request.get_json(force=True).get("properties") or {}, record_id)
                return jsonify(record.to_json(None))
            if record_id not in records:
                raise SandboxError(404, f"resource not found: {record_id}", "OBJECT_NOT_FOUND")
            return jsonify(records[record_id].to_json(wanted_properties(defaults(kind))))

    @app.post("/crm/v3/objects/<kind>/search")
    def search(kind):
        body = request.get_json(force=True) or {}
        limit, after = int(body.get("limit") or 10), int(body.get("after") or 0)
        if limit > 200:
            raise SandboxError(400, "limit must be at most 200")
        if after + limit > 10_000:
            raise SandboxError(400, "Search results are limited to 10,000 records")
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or any(len(gr.get("filters", [])) > 6 for gr in groups):
            raise SandboxError(400, "at most 5 filterGroups of at most 6 filters")
        with sandbox._lock:
            portal = g.portal
            found = [r for r in store(kind).values()
                     if not groups or any(all(sandbox.matches(portal, r, f) for f in gr.get("filters", []))
                                          for gr in groups)]
            found.sort(key=lambda r: int(r.id))
            for sort in reversed(body.get("sorts") or []):
                name = sort if isinstance(sort, str) else sort.get("propertyName")
                descending = not isinstance(sort, str) and sort.get("direction") == "DESCENDING"
                kind_of = sandbox._property_type(portal, name)
                found.sort(key=lambda r, n=name, k=kind_of: (as_ms(r.properties.get(n)) or 0) if k == "datetime"
                           else str(r.properties.get(n) or ""), reverse=descending)
            chunk, next_after = page(found, str(after), limit)
            wanted = body.get("properties") or defaults(kind)
            results = [r.to_json(wanted) for r in chunk]
        return jsonify(total=len(found), results=results, **paging(next_after, request.path))

    @app.post("/crm/v3/objects/contacts/batch/read")
    def batch_read():
        body = request.get_json(force=True)
        started = iso(now_ms())
        with sandbox._lock:
            ids = [str(i["id"]) for i in body.get("inputs", [])]
            if len(ids) > 100:
                raise SandboxError(400, "at most 100 inputs per batch")
            contacts = g.portal.contacts
            results = [contacts[i].to_json(body.get("properties") or CONTACT_DEFAULTS) for i in ids if i in contacts]
            missing = [i for i in ids if i not in contacts]
        out = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": iso(now_ms())}
        if missing:
            out.update(numErrors=1, errors=[{"status": "error", "category": "OBJECT_NOT_FOUND",
                                             "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
                                             "context": {"ids": missing}}])
            return jsonify(out), 207
        return jsonify(out)

    @app.post("/crm/v3/objects/contacts/batch/upsert")
    def batch_upsert():
        inputs = request.get_json(force=True).get("inputs", [])
        started = iso(now_ms())
        if len(inputs) > 100:
            raise SandboxError(400, "at most 100 inputs per batch")
        keys = [(i.get("idProperty"), str(i.get("id"))) for i in inputs]
        if len(set(keys)) != len(keys):
            raise SandboxError(400, "Duplicate IDs found in batch input")
        with sandbox._lock:
            portal, results = g.portal, []
            for (id_property, key), item in zip(keys, inputs, strict=True):
                if id_property not in sandbox._unique_names(portal):
                    raise SandboxError(400, f"{id_property} is not a unique property")
                existing = portal.unique_index.get((id_property, key.casefold()))
                props = {**(item.get("properties") or {}), id_property: key}
                record = sandbox.write(portal, "contacts", props, existing)
                results.append(record.to_json(None, {"new": existing is None}))
        return jsonify(status="COMPLETE", results=results, startedAt=started, completedAt=iso(now_ms()))

    @app.put("/crm/v4/objects/<from_kind>/<from_id>/associations/<to_kind>/<to_id>")
    def associate(from_kind, from_id, to_kind, to_id):
        types = [t.get("associationTypeId") for t in request.get_json(force=True) or []]
        with sandbox._lock:
            portal = g.portal
            pair = ((from_id, to_id) if (from_kind, to_kind) == ("communications", "contacts") else (to_id, from_id))
            expected = COMMUNICATION_TO_CONTACT if from_kind == "communications" else CONTACT_TO_COMMUNICATION
            if {from_kind, to_kind} != kinds or types != [expected] or pair[0] not in portal.communications \
                    or pair[1] not in portal.contacts:
                raise SandboxError(400, "unsupported association")
            portal.associations.add(pair)
        return jsonify(fromObjectTypeId=from_kind, fromObjectId=int(from_id), toObjectTypeId=to_kind,
                       toObjectId=int(to_id), labels=[]), 201

    @app.get("/crm/v4/objects/<from_kind>/<from_id>/associations/<to_kind>")
    def associations(from_kind, from_id, to_kind):
        with sandbox._lock:
            pairs = g.portal.associations
            if (from_kind, to_kind) == ("contacts", "communications"):
                ids, type_id = [c for c, p in pairs if p == from_id], CONTACT_TO_COMMUNICATION
            else:
                ids, type_id = [p for c, p in pairs if c == from_id], COMMUNICATION_TO_CONTACT
        results = [{"toObjectId": int(i), "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]} for i in sorted(ids, key=int)]
        return jsonify(results=results)
