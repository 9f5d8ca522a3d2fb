"""A small HTTP upload endpoint (the CSMS side of GetLog): accepts POST and PUT,
keeps every body received, answers 200 (or a status set for failure tests).

    srv = UploadServer().start()      # its own thread, free loopback port
    url = srv.url + "/logs"
    ...
    srv.uploads -> [{"path", "headers", "body"}]
"""
import http.server
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    def _receive(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        srv = self.server.owner
        with srv.cond:
            if srv.status == 200:
                srv.uploads.append({"path": self.path, "headers": dict(self.headers), "body": body})
            srv.attempts += 1
            srv.cond.notify_all()
        self.send_response(srv.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = _receive

    def log_message(self, *args):
        pass


class UploadServer:
    def __init__(self, host="127.0.0.1", port=0):
        self.httpd = http.server.ThreadingHTTPServer((host, port), _Handler)
        self.httpd.owner = self
        self.uploads = []
        self.attempts = 0
        self.status = 200
        self.cond = threading.Condition()

    @property
    def url(self):
        return "http://%s:%d" % self.httpd.server_address[:2]

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait(self, n=1, timeout=15):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.uploads) >= n, timeout):
                raise AssertionError("no upload within %ss (attempts %d)" % (timeout, self.attempts))
            return self.uploads[n - 1]
