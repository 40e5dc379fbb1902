"""The REST API's foundation: what every endpoint of `/api/v1` is built on.

An endpoint module is `connector/web/api_<resource>.py` with a blueprint made by `api_blueprint`:

    bp = api_blueprint("segments", "Segments of a shop's contacts")

    @bp.get("/segments")
    @bp.arguments(SegmentListArgs, location="query")      # a PageArgs subclass with its filters
    @bp.response(200, page_schema(SegmentSchema))
    def list_segments(args):
        with rt().db.session() as session:
            shop = request_shop(session)                   # the shop this caller may act on
            query = sa.select(Segment).where(Segment.shop_id == shop.id)
            return paginate(session, query, Segment.id, args)

    @bp.post("/segments")
    @bp.arguments(SegmentInSchema)
    @idempotent                                            # POSTs that send or create
    @bp.response(201, SegmentSchema)
    def create_segment(body): ...

Objects are looked up with their shop (`… where(Model.shop_id == shop.id)`): another shop's is
404. Refuse with `ApiError(status, {field: [...]})`. A POST that changes nothing is `@read_only`.
"""

from connector.web.rest.auth import Caller, caller, read_only, request_shop, write_scope
from connector.web.rest.errors import ApiError, ErrorSchema
from connector.web.rest.idempotency import idempotent
from connector.web.rest.openapi import api_blueprint, install
from connector.web.rest.paging import PageArgs, page_schema, paginate
from connector.web.rest.schemas import SHOP_FIELD, IdField, ShopBody, ShopQuery

__all__ = [
    "SHOP_FIELD", "ApiError", "IdField", "Caller", "ErrorSchema", "PageArgs", "ShopBody", "ShopQuery", "api_blueprint",
    "caller", "idempotent", "install", "page_schema", "paginate", "read_only", "request_shop", "write_scope",
]
