"""Shared facts about the Sales tables: option sets, state machines, table schema.

Imported by both the client and the mock tenant; imports neither.
"""
