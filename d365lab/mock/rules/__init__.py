"""Table rules: state machines, computed columns and process-flow semantics.

The tenant calls these hooks around every write, whichever handler caused it (CRUD,
bulk messages, QualifyLead, ``$batch``), so a rule is enforced once for all paths.
"""
