"""Every GraphQL document the Shopify client sends, as module-level constants (so that each one
can be checked against Shopify's published Admin API schema and its access scopes)."""

import json

CUSTOMER_FIELDS = """
  id firstName lastName locale tags numberOfOrders updatedAt
  defaultEmailAddress { emailAddress }
  defaultPhoneNumber { phoneNumber marketingState marketingOptInLevel marketingUpdatedAt marketingCollectedFrom }
  amountSpent { amount currencyCode }
  lastOrder { createdAt }
  defaultAddress { countryCodeV2 }
"""

SHOP_QUERY = """query ShopInfo {
  shop { name currencyCode ianaTimezone myshopifyDomain shopAddress { countryCodeV2 } }
  shopLocales { locale primary }
}"""

CUSTOMERS_QUERY = (
    "query CustomersPage($first: Int!, $after: String, $query: String) {\n"
    "  customers(first: $first, after: $after, query: $query) {\n"
    "    edges { cursor node { " + CUSTOMER_FIELDS + " } }\n"
    "    pageInfo { hasNextPage endCursor }\n"
    "  }\n"
    "}"
)

CUSTOMERS_COUNT_QUERY = """query CustomersCount($query: String) {
  customersCount(query: $query, limit: null) { count precision }
}"""

BULK_RUN_MUTATION = """mutation StartBulkCustomers($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""

# What a bulk operation runs: a document without variables, so a filter is written into it.
BULK_CUSTOMERS_QUERY = "{ customers { edges { node { " + CUSTOMER_FIELDS + " } } } }"


def bulk_customers_query(search: str | None) -> str:
    """BULK_CUSTOMERS_QUERY limited to the customers matching `search` (Shopify's search syntax)."""
    if not search:
        return BULK_CUSTOMERS_QUERY
    return BULK_CUSTOMERS_QUERY.replace("{ customers ", f"{{ customers(query: {json.dumps(search)}) ", 1)


BULK_NODE_QUERY = """query BulkOperation($id: ID!) {
  node(id: $id) {
    ... on BulkOperation { id status errorCode objectCount url partialDataUrl createdAt completedAt }
  }
}"""

SMS_CONSENT_MUTATION = """mutation SmsConsentUpdate($input: CustomerSmsMarketingConsentUpdateInput!) {
  customerSmsMarketingConsentUpdate(input: $input) {
    customer { id }
    userErrors { field message code }
  }
}"""

WEBHOOKS_QUERY = """query WebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    edges { cursor node { id topic uri } }
    pageInfo { hasNextPage endCursor }
  }
}"""

WEBHOOK_CREATE_MUTATION = """mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}"""

ABANDONED_CHECKOUTS_QUERY = """query AbandonedCheckouts($first: Int!, $after: String) {
  abandonedCheckouts(first: $first, after: $after) {
    edges { cursor node {
      id name abandonedCheckoutUrl createdAt updatedAt completedAt
      totalPriceSet { shopMoney { amount currencyCode } }
      customer { id firstName lastName defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } }
      lineItems(first: 5) { edges { node { title quantity variantTitle product { id } } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""

# A single-use code for one new subscriber (needs `write_discounts`).
WELCOME_CODE_MUTATION = """mutation WelcomeCodeCreate($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}"""
