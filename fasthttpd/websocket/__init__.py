"""WebSocket (RFC 6455, RFC 7692): the frame codec lives in `codec`, permessage-deflate
in `deflate`."""
