"""The client's GraphQL documents against Shopify's published Admin API schema, and the checker's
answers (validation errors, access scopes, deprecations) in Shopify's words."""

from __future__ import annotations

import gzip
import json

import pytest
from graphql import build_client_schema, validate_schema

from connector.config import Config
from integrations.shopify import queries as q
from integrations.shopify.admin_schema import AdminSchema, load_admin_schema, published_schema_path
from integrations.shopify.admin_schema.access import parse_required_access, widen
from integrations.shopify.client import API_VERSION
from integrations.shopify.webhooks import COMPLIANCE_TOPICS, SUPPORTED_TOPICS

NEXT_VERSION = "2026-04"
VERSIONS = [API_VERSION, NEXT_VERSION]
GID = "gid://shopify/Customer/1"
BULK_INNER = "{ customers { edges { node { " + q.CUSTOMER_FIELDS + " } } } }"

# Every document the client sends, with variables shaped as the client shapes them.
SENT = {
    "ShopInfo": (q.SHOP_QUERY, None),
    "CustomersPage": (q.CUSTOMERS_QUERY, {"first": 250, "after": None, "query": "updated_at:>'2026-01-01T00:00:00Z'"}),
    "CustomersCount": (q.CUSTOMERS_COUNT_QUERY, {"query": None}),
    "StartBulkCustomers": (q.BULK_RUN_MUTATION, {"query": BULK_INNER}),
    "BulkCustomers": (BULK_INNER, None),  # the query the bulk operation runs
    "BulkOperation": (q.BULK_NODE_QUERY, {"id": "gid://shopify/BulkOperation/1"}),
    "SmsConsentUpdate": (q.SMS_CONSENT_MUTATION, {"input": {"customerId": GID, "smsMarketingConsent": {
        "marketingState": "SUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN",
        "consentUpdatedAt": "2026-01-02T03:04:05Z"}}}),
    "WebhookSubscriptions": (q.WEBHOOKS_QUERY, {"first": 100, "after": None}),
    "WebhookSubscriptionCreate": (q.WEBHOOK_CREATE_MUTATION, {"topic": "ORDERS_CREATE", "uri": "https://app.example/w"}),
    "AbandonedCheckouts": (q.ABANDONED_CHECKOUTS_QUERY, {"first": 100, "after": None}),
}


@pytest.fixture(params=VERSIONS)
def schema(request) -> AdminSchema:
    return AdminSchema.published(request.param)


@pytest.fixture
def pinned() -> AdminSchema:
    return AdminSchema.published(API_VERSION)


def scopes_of(check) -> set[frozenset[str]]:
    return check.scope_clauses()


@pytest.mark.parametrize("name", SENT)
def test_every_document_the_client_sends_is_valid_for_the_pinned_and_the_next_version(schema, name):
    query, variables = SENT[name]
    check = schema.check(query, variables)
    assert check.errors == []


@pytest.mark.parametrize("topic", sorted(SUPPORTED_TOPICS - COMPLIANCE_TOPICS))
def test_every_webhook_topic_the_app_subscribes_to_exists(schema, topic):
    enum = topic.replace("/", "_").upper()
    check = schema.check(q.WEBHOOK_CREATE_MUTATION, {"topic": enum, "uri": "https://app.example/w"})
    assert check.errors == []


def test_the_published_schema_breaks_only_the_rule_graphql_core_added_on_deprecated_implementations():
    """Loaded with `assume_valid`: check once that nothing else is wrong with Shopify's schema."""
    body = json.loads(gzip.decompress(published_schema_path(API_VERSION).read_bytes()))
    errors = validate_schema(build_client_schema(body["data"]))
    assert errors and all("must not be deprecated" in error.message for error in errors)


def test_a_document_with_an_unknown_field_is_refused_as_shopify_refuses_it(pinned):
    check = pinned.check("query ShopInfo { shop { name billingCountry } }")
    assert check.errors == [{
        "message": "Field 'billingCountry' doesn't exist on type 'Shop'",
        "locations": [{"line": 1, "column": 30}],
        "path": ["query ShopInfo", "shop", "billingCountry"],
        "extensions": {"code": "undefinedField", "typeName": "Shop", "fieldName": "billingCountry"},
    }]


def test_an_unknown_argument_and_a_missing_required_one_are_named(pinned):
    check = pinned.check("query Q { customers(frist: 5) { nodes { id } } node { id } }")
    assert [e["extensions"] for e in check.errors] == [
        {"code": "argumentNotAccepted", "name": "customers", "typeName": "Field", "argumentName": "frist"},
        {"code": "missingRequiredArguments", "className": "Field", "name": "node", "arguments": "id"},
    ]
    assert check.errors[1]["message"] == "Field 'node' is missing required arguments: id"


def test_a_missing_required_variable_is_refused_with_its_problem(pinned):
    check = pinned.check(q.CUSTOMERS_QUERY, {"after": None})
    assert check.errors == [{
        "message": "Variable $first of type Int! was provided invalid value",
        "locations": [{"line": 1, "column": 21}],
        "extensions": {"value": None, "problems": [{"path": [], "explanation": "Expected value to not be null"}]},
    }]


def test_a_bad_input_object_names_each_problem_by_its_path(pinned):
    variables = {"input": {"customerId": GID, "smsMarketingConsent": {"marketingState": "OPTED_IN", "source": "sms"}}}
    check = pinned.check(q.SMS_CONSENT_MUTATION, variables)
    [error] = check.errors
    assert error["message"].startswith(
        "Variable $input of type CustomerSmsMarketingConsentUpdateInput! was provided invalid value"
        " for smsMarketingConsent.marketingState (Expected \"OPTED_IN\" to be one of: ")
    assert {"path": ["smsMarketingConsent", "source"],
            "explanation": "Field is not defined on CustomerSmsMarketingConsentInput"} in error["extensions"]["problems"]


def test_shop_info_needs_read_locales_or_read_markets_home_for_shop_locales(schema):
    check = schema.check(q.SHOP_QUERY)
    assert scopes_of(check) == {frozenset({"read_locales", "read_markets_home"})}
    [denied] = check.denied("read_customers,write_customers,read_orders")
    assert denied.coordinate == "QueryRoot.shopLocales"
    assert check.denied("read_locales") == [] and check.denied(["read_markets_home"]) == []


def test_abandoned_checkouts_need_read_products_for_the_line_items_product(schema):
    query, variables = SENT["AbandonedCheckouts"]
    check = schema.check(query, variables)
    assert frozenset({"read_products"}) in scopes_of(check)
    assert frozenset({"read_orders"}) in scopes_of(check)
    denied = check.denied("read_customers,write_customers,read_orders")
    assert [d.coordinate for d in denied] == ["AbandonedCheckoutLineItem.product"]
    assert denied[0].path[-3:] == ("edges", "node", "product")


def test_customers_need_read_orders_for_their_last_order(schema):
    query, variables = SENT["CustomersPage"]
    check = schema.check(query, variables)
    assert [d.coordinate for d in check.denied("read_customers")] == ["Customer.lastOrder"]


def test_a_write_scope_grants_its_read_scope():
    assert widen(["write_customers"]) == {"write_customers", "read_customers"}
    check_mutation = AdminSchema.published(API_VERSION).check(*SENT["SmsConsentUpdate"])
    assert check_mutation.denied("write_customers") == []
    assert [d.coordinate for d in check_mutation.denied("read_customers")] == [
        "Mutation.customerSmsMarketingConsentUpdate"]


def test_required_access_sentences_are_read_as_clauses_and_conditions():
    either = parse_required_access("Any of `write_content`, `write_online_store_pages` access scopes.")
    assert either.clauses == (frozenset({"write_content", "write_online_store_pages"}),)
    both = parse_required_access(
        "`write_products` access scope as well as any of `write_own_subscription_contracts`, "
        "`write_purchase_options` access scopes. Also: The user must have `manage_orders_information` permissions.",
        mutation=True)
    assert both.clauses == (frozenset({"write_products"}),
                            frozenset({"write_own_subscription_contracts", "write_purchase_options"}))
    assert both.conditions == ("The user must have `manage_orders_information` permissions.",)
    shipping = parse_required_access("Any of `shipping` access scopes or `manage_delivery_settings` user permission.")
    assert shipping.clauses == (frozenset({"read_shipping", "write_shipping"}),)
    assert not shipping.satisfied_by(["read_orders"]) and shipping.satisfied_by(["write_shipping"])
    prose = parse_required_access("Only accessible by supported access tokens: https://example.")
    assert prose.clauses == () and prose.satisfied_by([])


def test_deprecated_fields_are_reported_with_their_replacement(pinned):
    check = pinned.check("query { shop { billingAddress { countryCodeV2 } } customers(first: 1) { nodes {"
                         " email phone smsMarketingConsent { marketingState } defaultEmailAddress { emailAddress } } } }")
    used = {d.coordinate: d.reason for d in check.deprecations}
    assert set(used) == {"Customer.email", "Customer.phone", "Customer.smsMarketingConsent", "Shop.billingAddress"}
    assert used["Customer.email"] == "Use `defaultEmailAddress.emailAddress` instead."
    assert used["Customer.phone"] == "Use `defaultPhoneNumber.phoneNumber` instead."
    assert used["Shop.billingAddress"] == "Use `shopAddress` instead."
    assert "defaultPhoneNumber.marketingState" in used["Customer.smsMarketingConsent"]


def test_deprecated_arguments_are_reported_under_their_field(pinned):
    check = pinned.check('query { hooks: webhookSubscriptions(first: 1, callbackUrl: "https://a.example") '
                         "{ nodes { id } } }")
    assert [(d.coordinate, d.reason) for d in check.deprecations] == [
        ("QueryRoot.webhookSubscriptions(callbackUrl:)", "Use `uri` instead.")]


# In 2026-01 and 2026-04 the consent fields that replace `Customer.smsMarketingConsent`
# (`defaultPhoneNumber.marketingState`, ...) are deprecated in turn, in favour of
# `defaultPhoneNumber.smsMarketingConsent`, which only exists from 2026-10: they are the only way.
NO_UNDEPRECATED_WAY = {f"CustomerPhoneNumber.{name}" for name in (
    "marketingState", "marketingOptInLevel", "marketingUpdatedAt", "marketingCollectedFrom", "sourceLocation")}


def test_the_sms_consent_replacement_is_itself_deprecated_until_2026_10(schema):
    phone = schema.schema.get_type("CustomerPhoneNumber")
    assert {f"CustomerPhoneNumber.{name}" for name, field in phone.fields.items()
            if field.deprecation_reason} == NO_UNDEPRECATED_WAY
    assert "smsMarketingConsent" not in phone.fields


def test_the_client_uses_no_deprecated_field_that_has_an_undeprecated_replacement(pinned):
    used = {d.coordinate for query, variables in SENT.values() for d in pinned.check(query, variables).deprecations}
    assert used <= NO_UNDEPRECATED_WAY


def test_the_install_scopes_cover_every_document_the_client_sends(pinned):
    granted = Config().shopify_scopes
    denied = {d.coordinate for query, variables in SENT.values() for d in pinned.check(query, variables).denied(granted)}
    assert denied == set()


def test_webhook_topics_state_the_scope_they_need(pinned):
    assert pinned.access.webhook_topic("CHECKOUTS_CREATE").clauses == (frozenset({"read_orders"}),)
    assert pinned.access.webhook_topic("FULFILLMENTS_CREATE").clauses == (
        frozenset({"read_fulfillments", "read_marketplace_orders"}),)
    assert pinned.access.webhook_topic("APP_UNINSTALLED") is None


SHOP_DATA = {
    "shop": {"name": "Boutique", "currencyCode": "EUR", "ianaTimezone": "Europe/Paris",
             "myshopifyDomain": "boutique.myshopify.com", "shopAddress": {"countryCodeV2": "FR"}},
    "shopLocales": [{"locale": "fr", "primary": True, "name": "French"}],
}


def test_shop_info_without_read_locales_is_answered_access_denied_with_no_data(pinned):
    body = pinned.answer(q.SHOP_QUERY, None, SHOP_DATA, "read_customers,write_customers,read_orders", "ShopInfo")
    assert body == {"errors": [{
        "message": "Access denied for shopLocales field. Required access: "
                   "`read_locales` access scope or `read_markets_home` access scope.",
        "locations": [{"line": 3, "column": 3}],
        "path": ["shopLocales"],
        "extensions": {"code": "ACCESS_DENIED", "documentation": "https://shopify.dev/api/usage/access-scopes",
                       "requiredAccess": "`read_locales` access scope or `read_markets_home` access scope."},
    }], "data": None}


def test_with_the_scope_granted_only_the_selected_fields_come_back(pinned):
    body = pinned.answer(q.SHOP_QUERY, None, SHOP_DATA, "read_locales", "ShopInfo")
    assert body == {"data": {"shop": SHOP_DATA["shop"], "shopLocales": [{"locale": "fr", "primary": True}]}}


def test_a_denied_nullable_field_deep_in_a_list_is_null_there_alone(pinned):
    checkout = {"id": "gid://shopify/AbandonedCheckout/1", "name": "#1", "abandonedCheckoutUrl": "https://x/r",
                "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z", "completedAt": None,
                "totalPriceSet": {"shopMoney": {"amount": "10.0", "currencyCode": "EUR"}}, "customer": None,
                "lineItems": {"edges": [{"node": {"title": "Tee", "quantity": 1, "variantTitle": None,
                                                  "product": {"id": "gid://shopify/Product/9"}}}]}}
    root = {"abandonedCheckouts": {"edges": [{"cursor": "c1", "node": checkout}],
                                   "pageInfo": {"hasNextPage": False, "endCursor": "c1"}}}
    query, variables = SENT["AbandonedCheckouts"]
    body = pinned.answer(query, variables, root, "read_customers,read_orders", "AbandonedCheckouts")
    [error] = body["errors"]
    assert error["path"] == ["abandonedCheckouts", "edges", 0, "node", "lineItems", "edges", 0, "node", "product"]
    assert error["extensions"]["requiredAccess"] == "`read_products` access scope."
    line = body["data"]["abandonedCheckouts"]["edges"][0]["node"]["lineItems"]["edges"][0]["node"]
    assert line == {"title": "Tee", "quantity": 1, "variantTitle": None, "product": None}
    assert "errors" not in pinned.answer(query, variables, root, "read_customers,read_orders,read_products")


def test_a_connection_is_denied_without_its_nodes_scope_even_when_empty(pinned):
    root = {"customers": {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}
    body = pinned.answer(*SENT["CustomersPage"], root, "read_orders")
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("Access denied for customers field.")


def test_an_invalid_document_is_answered_with_errors_only(pinned):
    body = pinned.answer("{ shop { nom } }", None, SHOP_DATA, "read_locales")
    assert list(body) == ["errors"]
    assert body["errors"][0]["extensions"]["code"] == "undefinedField"


def test_a_schema_file_is_found_by_version_and_loaded_once():
    assert load_admin_schema(published_schema_path(API_VERSION)) is AdminSchema.published(API_VERSION)
    with pytest.raises(FileNotFoundError, match="2019-04"):
        published_schema_path("2019-04")
