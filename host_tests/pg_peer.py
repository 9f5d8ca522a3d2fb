"""A throw-away PostgreSQL server for the tests: Debian's `postgresql` binaries,
a cluster made by initdb in a temporary directory, listening on a loopback high port
and a unix socket in that directory, trust authentication for one test user.

PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres`
user (which the Debian package creates) and its directory is given to it.
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

USER = "console_test"


def bindir():
    """-> the newest /usr/lib/postgresql/N/bin holding initdb and postgres, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self):
        self.bin = bindir()
        self.dir = tempfile.mkdtemp(prefix="console-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self.proc = None
        self._as = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._as = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
                        "--clear-groups", "--"]

    def start(self, timeout=60):
        subprocess.run(self._as + [os.path.join(self.bin, "initdb"), "-D", self.data, "-U", USER,
                                   "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, capture_output=True, cwd=self.dir)
        self.log = open(os.path.join(self.dir, "postgres.log"), "ab")
        # fsync off: a test database need not survive a power cut; the tests run faster.
        self.proc = subprocess.Popen(
            self._as + [os.path.join(self.bin, "postgres"), "-D", self.data, "-p", str(self.port),
                        "-h", "127.0.0.1", "-k", self.dir, "-c", "fsync=off",
                        "-c", "max_connections=200"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.monotonic() + timeout
        while True:
            r = subprocess.run([os.path.join(self.bin, "pg_isready"), "-h", "127.0.0.1",
                                "-p", str(self.port), "-U", USER], capture_output=True)
            if r.returncode == 0:
                return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("postgres did not start:\n" + self.read_log())
            time.sleep(0.2)

    @property
    def url(self):
        return "postgresql://%s@127.0.0.1:%d/postgres" % (USER, self.port)

    def new_database(self, name):
        """-> the URL of a new, empty database `name` on this server."""
        import psycopg
        with psycopg.connect(self.url, autocommit=True) as c:
            c.execute("CREATE DATABASE %s" % name)
        return self.url.rsplit("/", 1)[0] + "/" + name

    def read_log(self):
        with open(os.path.join(self.dir, "postgres.log"), errors="replace") as f:
            return f.read()[-4000:]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: smart shutdown, waits for clients...
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
