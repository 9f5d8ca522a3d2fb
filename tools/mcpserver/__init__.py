"""The MCP server: the diagnostics console offered to AI agents (Model Context Protocol).

It is a client of the console's HTTP API, holding a console token: the token's name is
the agent's identity (it reaches the station as the StartDiagnostics requestor), the
token's role is what the agent may do, and the console enforces and records both.
This package adds the MCP face: tools with JSON Schemas built from the stations' live
catalogs, role-aware tool lists, errors an agent can act on, and a JSONL journal of
every call.

    upstream.py  the console API, asynchronously (one token per call)
    call.py      a call: who asks; checks of arguments and console replies
    schemas.py   catalog descriptors -> JSON Schemas of the tools' arguments
    tools.py     the tools: what each does, the role it needs, its handler
    playbook.py  playbooks and incident records (playbooks/*.json: the data);
                 playbook_tools.py their tools, watch.py runs them on console events
    audit.py     the JSONL journal of MCP calls
    server.py    the MCP server (lowlevel mcp.server.Server): list and call tools
    http_endpoint.py  streamable HTTP with a bearer token on the endpoint itself
    cli.py       `mcpserver stdio|http|watch`
"""
