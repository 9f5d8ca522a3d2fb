# TLS client context for wss:// (security profile 2): the CSMS certificate is
# verified against the CA named in the config, and its host name checked.
# MicroPython's TLS takes DER only, so a PEM file is decoded here.
import binascii


def read_ca(path):
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"-----BEGIN"):
        lines = [l for l in data.split(b"\n") if l and not l.startswith(b"-----")]
        data = binascii.a2b_base64(b"".join(lines))
    return data


def client_context(ca_path):
    import tls
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED  # the default is CERT_NONE
    ctx.load_verify_locations(read_ca(ca_path))
    return ctx
