"""HttpParseError: the one error type both request parsers report."""


class HttpParseError(Exception):
    """A request that cannot be served; the connection answers the status and closes."""

    status_code: int  # 400, 413, 414, 431, 501 or 505
    reason: str  # why, for the log line (never echoed raw to the client)

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(status_code, reason)
        self.status_code = status_code
        self.reason = reason

    def __repr__(self) -> str:
        return f"HttpParseError({self.status_code}, {self.reason!r})"
