"""Rows as the JSON the API, the CLI and the MCP server show (times as RFC 3339)."""
from datetime import datetime, timezone


def iso(t):
    if t is None:
        return None
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def station(row, connected, catalog=None):
    return {"id": row["id"], "connected": connected, "lastContact": iso(row["last_contact"]),
            "health": row["health"], "healthAt": iso(row["health_at"]),
            "boot": row["boot"] or {}, "hasPassword": bool(row["password_hash"]),
            "catalogVersion": catalog and catalog["catalog_version"],
            "catalogFetchedAt": catalog and iso(catalog["fetched_at"])}


def catalog(sid, row):
    return {"station": sid, "catalogVersion": row["catalog_version"],
            "fetchedAt": iso(row["fetched_at"]), "tests": row["tests"]}


def run(row, results=None):
    out = {"id": row["id"], "station": row["station_id"], "fleet": row["fleet_id"],
           "requestor": row["requestor"], "tests": row["tests"],
           "stopOnFailure": row["stop_on_failure"], "status": row["status"],
           "statusInfo": row["status_info"], "total": row["total"],
           "completed": row["completed"], "verdict": row["verdict"],
           "createdAt": iso(row["created_at"]), "updatedAt": iso(row["updated_at"])}
    if results is not None:
        out["results"] = [result(r) for r in results]
    return out


def result(row):
    return {"station": row["station_id"], "resultId": row["result_id"], "run": row["run_id"],
            "testId": row["test_id"], "verdict": row["verdict"],
            "healthStatus": row["health_status"], "requestor": row["requestor"],
            "trigger": row["trigger"], "endTime": row["end_time"],
            "receivedAt": iso(row["received_at"]), "checksumVerified": row["checksum_ok"],
            "result": row["payload"]}


def event(ev):
    return {"id": ev["id"], "time": iso(ev["time"]), "kind": ev["kind"],
            "station": ev["station_id"], "run": ev["run_id"], "data": ev["data"] or {}}


def health(row):
    return {"time": iso(row["time"]), "status": row["status"]}


def schedule(row):
    return {"id": row["id"], "name": row["name"], "stations": row["stations"],
            "tests": row["tests"], "intervalS": row["interval_s"], "nextAt": iso(row["next_at"]),
            "createdBy": row["created_by"], "enabled": row["enabled"]}


def token(row):
    return {"name": row["name"], "role": row["role"], "createdAt": iso(row["created_at"]),
            "createdBy": row["created_by"]}


def fleet(row, runs):
    summary = {"Passed": 0, "Failed": 0, "unreachable": 0, "rejected": 0, "pending": 0}
    for r in runs:
        if r["verdict"] in ("Passed", "Failed"):
            summary[r["verdict"]] += 1
        elif r["status"] in ("unreachable", "rejected"):
            summary[r["status"]] += 1
        else:
            summary["pending"] += 1
    return {"id": row["id"], "requestor": row["requestor"], "tests": row["tests"],
            "createdAt": iso(row["created_at"]), "summary": summary,
            "done": summary["pending"] == 0,
            "runs": [{"id": r["id"], "station": r["station_id"], "status": r["status"],
                      "verdict": r["verdict"], "statusInfo": r["status_info"]}
                     for r in sorted(runs, key=lambda r: r["station_id"])]}
