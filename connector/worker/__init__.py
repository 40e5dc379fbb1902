"""What RQ runs, one module per kind of work: events, dispatch, crm (timeline and consent
pushes), sync. `jobs` holds the entry points RQ names."""
