"""Backlog tools for admins: import leads from CSV, triage open leads by rules, report the pipeline.

The jobs sit above the client facade (:mod:`d365lab.client`): they never reach the mock
tenant except over HTTP, so the same code runs against a real org.
"""
