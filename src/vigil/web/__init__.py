"""`vigil serve`: a read-only dashboard and JSON API over the store (see :mod:`.app`)."""

#: the names a loopback-only server answers to (``vigil serve`` without ``--public``)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
