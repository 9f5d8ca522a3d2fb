"""The diagnostics console: stations connect over OCPP, operators and scripts drive
it through one HTTP JSON API (`python tools/console --help`).

What is where: app.py (the process), stations.py (OCPP endpoint), inbound.py (what
stations send), service.py (operations and role checks), schedules.py, api.py (HTTP),
auth.py (hashes, tokens, roles), store.py / db.py / migrations.py (storage),
params.py (parameters against the catalog), events.py (live events), views.py (JSON
shapes), cli.py / cli_admin.py / client.py (the command line).
"""
