"""`vigil serve`: a read-only dashboard and JSON API over the store (see :mod:`.app`)."""
