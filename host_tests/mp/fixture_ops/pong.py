import fixture_ops

from fixture_ops.shape import REQ

fixture_ops.IMPORTS.append("pong")


def handle(agent, p):
    return {}
