"""Apps whose lifespan misbehaves, for the server's exit-code tests."""


async def failing_startup(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"unreachable"})


async def no_lifespan(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("lifespan not supported")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
