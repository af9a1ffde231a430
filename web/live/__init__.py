"""The inbox's realtime: one WebSocket per open page, fed by the live bus (``core.bus``).

``visibility`` decides who may see an event, ``feed`` is one socket's queue of what
the bus brought, ``socket`` is the ``GET /ws`` endpoint that catches up and streams.
"""
