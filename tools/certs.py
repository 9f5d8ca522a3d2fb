"""Throw-away test PKI made with the `openssl` command line (OpenSSL 3.0).

    ca = make_ca(tmpdir)                       # ca.cert, ca.key, ca.der
    srv = make_server_cert(tmpdir, ca)         # srv.cert, srv.key
    ctx = server_ssl_context(srv.cert, srv.key)  # for Csms(ssl=ctx)

The CA certificate is also written as DER because MicroPython's TLS
(mbedTLS) accepts only DER for `cadata`.  Keys are EC P-256: small and fast
to generate, and mbedTLS handles them.  Loopback test use only.
"""

import os
import ssl
import subprocess
from collections import namedtuple

# cert/key: PEM paths; der: the certificate as DER (set for CAs only).
Pki = namedtuple("Pki", "cert key der")

# OpenSSL 3.0 `x509` has no -not_before/-not_after (added in 3.4), so an
# expired certificate is signed with `openssl ca`, which takes explicit
# -startdate/-enddate.  That needs a minimal CA "database"; this config is
# only used for that one command.
_CA_CONF = """\
[ca]
default_ca = testca
[testca]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
"""


def _openssl(*args, cwd=None):
    res = subprocess.run(("openssl",) + args, cwd=cwd, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError("openssl %s failed: %s" % (args[0], res.stderr.strip()))
    return res.stdout


def _new_key(path):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", path)


def make_ca(dir, name="Test CA", days=365):
    """Self-signed CA in `dir`: returns Pki(cert=ca.pem, key=ca.key, der=ca.der).

    A fractional `days` (e.g. 4.5) gives an exact notAfter, so a test that
    counts whole days left does not depend on which second it runs in."""
    if days != int(days):
        import time
        fmt = lambda t: time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))
        now = time.time()
        return make_ca_dated(dir, name, fmt(now - 3600), fmt(now + days * 86400))
    os.makedirs(dir, exist_ok=True)
    key, cert, der = (os.path.join(dir, n) for n in ("ca.key", "ca.pem", "ca.der"))
    _new_key(key)
    _openssl("req", "-x509", "-new", "-key", key, "-out", cert, "-days", str(days),
             "-subj", "/CN=" + name,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("x509", "-in", cert, "-outform", "DER", "-out", der)
    return Pki(cert, key, der)


def make_server_cert(dir, ca, cn="localhost", san=("DNS:localhost", "IP:127.0.0.1"),
                     days=365, expired=False, name="server"):
    """Server certificate signed by `ca` (a Pki from make_ca).

    Returns Pki(cert=<name>.pem, key=<name>.key, der=None).  With expired=True
    the validity is a fixed window in 2020, so verification must fail.
    """
    os.makedirs(dir, exist_ok=True)
    key, csr, cert = (os.path.join(dir, name + ext) for ext in (".key", ".csr", ".pem"))
    _new_key(key)
    exts = ["-addext", "subjectAltName=" + ",".join(san)] if san else []
    exts += ["-addext", "basicConstraints=critical,CA:FALSE",
             "-addext", "extendedKeyUsage=serverAuth"]
    _openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + cn, *exts)
    if expired:
        _sign_with_dates(dir, ca, csr, cert, "20200101000000Z", "20200201000000Z")
    else:
        # -copy_extensions keeps the SAN etc. from the request (OpenSSL >= 3.0).
        _openssl("x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key,
                 "-CAcreateserial", "-CAserial", os.path.join(dir, "ca.srl"),
                 "-days", str(days), "-copy_extensions", "copy", "-out", cert)
    os.remove(csr)
    return Pki(cert, key, None)


def _sign_with_dates(dir, ca, csr, cert, start, end):
    db = os.path.join(dir, "ca-db")
    os.makedirs(db, exist_ok=True)
    open(os.path.join(db, "index.txt"), "a").close()
    serial = os.path.join(db, "serial")
    if not os.path.exists(serial):
        with open(serial, "w") as f:
            f.write("1000\n")
    conf = os.path.join(db, "openssl.cnf")
    with open(conf, "w") as f:
        f.write(_CA_CONF.format(dir=db))
    _openssl("ca", "-batch", "-notext", "-config", conf, "-cert", ca.cert,
             "-keyfile", ca.key, "-in", csr, "-out", cert,
             "-startdate", start, "-enddate", end)


def make_ca_dated(dir, name, start, end, ca=True):
    """Self-signed root with explicit validity (`openssl ca -selfsign`, since
    OpenSSL 3.0's x509 has no -not_before/-not_after): start/end as
    YYYYMMDDHHMMSSZ. ca=False makes a self-signed certificate that is not a CA
    (basicConstraints cA false, no keyCertSign). -> Pki with der set."""
    os.makedirs(dir, exist_ok=True)
    key, csr, cert, der = (os.path.join(dir, n) for n in ("ca.key", "ca.csr", "ca.pem", "ca.der"))
    _new_key(key)
    ext = (["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
           if ca else ["-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=digitalSignature"])
    _openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + name, *ext)
    db = os.path.join(dir, "ca-db")
    os.makedirs(db, exist_ok=True)
    open(os.path.join(db, "index.txt"), "a").close()
    with open(os.path.join(db, "serial"), "w") as f:
        f.write("2000\n")
    conf = os.path.join(db, "openssl.cnf")
    with open(conf, "w") as f:
        f.write(_CA_CONF.format(dir=db))
    _openssl("ca", "-batch", "-notext", "-selfsign", "-config", conf, "-keyfile", key, "-in", csr,
             "-out", cert, "-startdate", start, "-enddate", end)
    _openssl("x509", "-in", cert, "-outform", "DER", "-out", der)
    os.remove(csr)
    return Pki(cert, key, der)


def server_ssl_context(cert, key):
    """CPython server-side context for Csms(ssl=...).

    TLS 1.2 stays allowed: MicroPython's mbedTLS build speaks 1.2 only.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


def client_ssl_context(ca_cert):
    """CPython client context trusting only `ca_cert` (for host-side tests)."""
    ctx = ssl.create_default_context(cafile=ca_cert)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx
