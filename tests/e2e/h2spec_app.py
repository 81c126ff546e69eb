"""The ASGI app h2spec runs against (tests/e2e/test_h2spec.py).

It reads the whole request body before it answers, and answers with a body: so
a stream stays open while h2spec is still sending on it (the stream-state cases
expect the server's reaction to the frame, not a finished response), and a
response has DATA frames (the flow-control cases wait for them; with a zero
window they keep the stream open, as the concurrency case needs).
"""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"Hello, h2spec!"})
