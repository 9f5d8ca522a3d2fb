"""The diagnostics console: stations connect over OCPP, operators and scripts drive it
through one HTTP JSON API (`tools/bin/console --help`; README, "The diagnostics console").

What is where: app.py (the process; `Parts` wires the pieces), stations.py (OCPP
endpoint, the one module that knows the CSMS implementation underneath), inbound.py
(what stations send), service.py (operations and role checks), schedules.py, api.py
(HTTP), auth.py (hashes, tokens, roles), store.py / db.py / migrations.py (storage),
params.py (parameters against the catalog), events.py (live events), views.py (JSON
shapes), cli.py / cli_admin.py / client.py / render.py (the command line).

Building on it: a front end calls service.Console (and schedules.Schedules) with an
auth.Actor whose name becomes the runs' requestor ("mcp:<client>", "playbook:<name>")
and whose role is checked there; live progress comes from EventBus.subscribe() or, over
HTTP, GET /api/events as server-sent events.
"""
