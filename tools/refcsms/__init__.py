"""The reference CSMS, by concern: transport (server, auth, subprotocols, records),
validation (frames, schemas), session (one station: the ocpp package's ChargePoint
with ocppdiag's DiagnosticsMixin), cli.  tools/csms.py re-exports the names."""
