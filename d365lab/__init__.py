"""d365lab: a Python automation client for Dynamics 365 Sales (the Dataverse Web API).

>>> from d365lab import DataverseClient   # doctest: +SKIP
"""

__version__ = "0.1.0"
