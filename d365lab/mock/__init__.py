"""The embedded mock tenant: a local Dataverse Web API emulator over real HTTP.

Imports only :mod:`d365lab.models`, never the client. See ``docs/mock-tenant.md``.
"""
