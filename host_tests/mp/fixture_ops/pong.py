import fixture_ops

fixture_ops.IMPORTS.append("pong")
REQ = ()


def handle(agent, p):
    return {}
