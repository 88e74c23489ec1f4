"""Small programs that run *inside* a lab's nodes (stdlib only, started as processes).

- :mod:`.proxy` — the userland proxy, in docker-proxy's role and with its command line.
- :mod:`.whoami` — a TCP server that answers with the address it sees the client at.
"""
