"""Errors that every protocol shares (one definition, whichever protocol raises them)."""


class InvalidHeader(ValueError):
    """The application supplied a header or status that cannot be written.

    Raised by the HTTP/1.1 serializers (compiled and pure-Python) and by the HTTP/2
    header checks alike, so that the ASGI cycle catches one type.
    """
