"""Request handlers of the mock: one module per Dataverse message or concern."""
