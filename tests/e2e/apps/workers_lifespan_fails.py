"""Worker-pool test app: imports fine, but its lifespan startup fails in every worker."""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed",
                    "message": "workers_lifespan_fails: database unreachable"})
        return
    raise RuntimeError("never serves")
