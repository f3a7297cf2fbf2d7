"""Web API requests as values: :class:`Request`, the :class:`Sender` protocol, and the
functions that build every client operation's request (rows, bulk messages, actions, functions)."""

from d365lab.webapi.request import Answer, Request, Sender

__all__ = ["Answer", "Request", "Sender"]
