import fixture_ops

fixture_ops.IMPORTS.append("ping")
REQ = ()


def handle(agent, p):
    return {}
