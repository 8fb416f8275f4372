"""What the fakes share: serving a handler class on 127.0.0.1 and telling the test its port."""
import os
from http.server import ThreadingHTTPServer


def serve(handler, port=0, port_file=None, host="127.0.0.1", banner=None):
    """Serves `handler` until interrupted. The chosen port goes to `port_file` (written whole,
    then renamed, so a reader never sees half of it) and, with `banner`, to stdout."""
    srv = ThreadingHTTPServer((host, port), handler)
    srv.daemon_threads = True
    chosen = srv.server_address[1]
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write("%d\n" % chosen)
        os.replace(port_file + ".tmp", port_file)
    if banner:
        print(banner % chosen, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
