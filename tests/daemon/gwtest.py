"""Shared harness for the daemon's integration tests: a scratch state
directory with real keys, a self-signed certificate, parties with argon2id
password hashes, and a running `schoolgated` on a free loopback port,
synchronised through a real sd_notify socket (READY=1), never by sleeping.
Requests go through the real `curl`."""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", "build")
# SG_BIN / SGD_BIN: installed binaries (the make install smoke test)
SG = os.environ.get("SG_BIN") or os.path.join(ROOT, BUILD, "schoolgate")
SGD = os.environ.get("SGD_BIN") or os.path.join(ROOT, BUILD, "schoolgated")
GEN = os.path.join(ROOT, BUILD, "tools", "gencensus")
ZIPPW = "Correct-Horse-Battery-42"

PARTIES = ["school:3414001", "school:3412003", "org:sil", "org:iff-research",
           "org:star-ab"]


# parties that may also sign in to SFTP with their password (org:iff-research
# has no key at all: password only)
SFTP_PASSWORD = ("school:3414001", "org:iff-research")


def pw(party):
    return "pw-" + party.replace(":", "-") + "-7Qx"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Notify:
    """A NOTIFY_SOCKET that records every datagram and lets a test wait
    for one."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.msgs = []
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            with self.cv:
                self.msgs.extend(data.decode().split("\n"))
                self.cv.notify_all()

    def wait(self, line, after=0, timeout=60):
        """Index of the first message equal to `line` (or starting with it
        when it ends with '=') at or after index `after`."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for i in range(after, len(self.msgs)):
                    m = self.msgs[i]
                    if m == line or (line.endswith("=") and m.startswith(line)):
                        return i
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %r from the daemon within %ds "
                                         "(got %r)" % (line, timeout,
                                                       self.msgs[-10:]))
                self.cv.wait(left)

    def wait_for(self, pred, after=0, timeout=60):
        """Index of the first message for which pred(message) holds."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for i in range(after, len(self.msgs)):
                    if pred(self.msgs[i]):
                        return i
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("no matching message within %ds "
                                         "(got %r)" % (timeout, self.msgs[-5:]))
                self.cv.wait(left)

    def close(self):
        self.sock.close()


class Gateway:
    def __init__(self, extra_daemon="", agreements=(), keep_state=None,
                 parties_extra=None, keys_from=None, sftp=False,
                 extra_top="", extra_https="", extra_sftp=""):
        self.dir = keep_state or tempfile.mkdtemp(prefix="sg-daemon.")
        self.port = free_port()
        self.sftp_port = free_port() if sftp else None
        self.url = "https://127.0.0.1:%d" % self.port
        self.extra_sftp = extra_sftp
        self.proc = None
        self.notify = None
        d = self.dir
        if keep_state is None:
            if keys_from:
                shutil.copytree(keys_from, os.path.join(d, "keys"))
            else:
                subprocess.run([SG, "keygen", "--out", os.path.join(d, "keys")],
                               check=True, capture_output=True)
            subprocess.run([SG, "keygen", "--out", os.path.join(d, "sil")],
                           check=True, capture_output=True)
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                            "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                            "-keyout", os.path.join(d, "tls.key"), "-out",
                            os.path.join(d, "tls.crt"), "-days", "30",
                            "-subj", "/CN=localhost", "-addext",
                            "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                           check=True, capture_output=True)
            os.chmod(os.path.join(d, "tls.key"), 0o600)
            agd = os.path.join(d, "agreements")
            os.makedirs(agd)
            for f in os.listdir(os.path.join(ROOT, "config", "agreements")):
                shutil.copy(os.path.join(ROOT, "config", "agreements", f), agd)
            for f in agreements:
                shutil.copy(f, agd)
            self.hashes = {}
            for p in PARTIES:
                self.hashes[p] = subprocess.run(
                    [SG, "passwd"], input=(pw(p) + "\n").encode(),
                    check=True, capture_output=True).stdout.decode().strip()
            self.sil_pub = open(os.path.join(d, "sil", "storage.pub")).read().strip()
            self.ssh_pub = {}
            if sftp:
                os.makedirs(os.path.join(d, "ssh"), mode=0o700)
                for p in PARTIES:
                    k = self.ssh_key(p)
                    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519",
                                    "-N", "", "-C", p, "-f", k], check=True)
                    self.ssh_pub[p] = open(k + ".pub").read().strip()
            self.write_parties(parties_extra or [])
            with open(os.path.join(d, "secrets.conf"), "w") as f:
                rows = [(p, a, fl) for p, a, fl in (
                    ("school:3414001", "daemon-test", "small"),
                    ("school:3414001", "daemon-test", "sealed"),
                    # SFTP clients send no password: the secrets file
                    # holds it (the HTTPS tests send it per request)
                    ("school:3414001", "sil-pupil-data", "census"),
                    ("school:3414001", "star-ab-ect", "ect-records"),
                    ("org:sil", "sil-pupil-data", "reports"))
                    if sftp or a == "daemon-test"]
                f.write("zip_passwords = (\n%s\n);\n" % ",\n".join(
                    '  { party = "%s"; agreement = "%s"; flow = "%s"; '
                    'password = "%s"; }' % (p, a, fl, ZIPPW)
                    for p, a, fl in rows))
            os.chmod(os.path.join(d, "secrets.conf"), 0o600)
        self.extra_daemon = extra_daemon
        self.extra_top = extra_top
        self.extra_https = extra_https
        self.write_conf()

    def write_parties(self, extra):
        names = {"school:3414001": "Riverside", "school:3412003": "Anfield",
                 "org:sil": "SIL", "org:iff-research": "IFF",
                 "org:star-ab": "Star AB"}
        with open(os.path.join(self.dir, "parties.conf"), "w") as f:
            f.write("parties = (\n")
            rows = []
            for p in PARTIES:
                r = '  { id = "%s"; name = "%s"; password = "%s";' % (
                    p, names[p], self.hashes[p])
                if p == "org:sil":
                    r += ' age_recipient = "%s";' % self.sil_pub
                if p in self.ssh_pub and p != "org:iff-research":
                    r += ' ssh_keys = [ "%s" ];' % self.ssh_pub[p]
                if p in self.ssh_pub and p in SFTP_PASSWORD:
                    r += ' sftp_password = true;'
                rows.append(r + " }")
            rows.extend(extra)
            f.write(",\n".join(rows) + "\n);\n")

    def write_conf(self):
        with open(os.path.join(self.dir, "gw.conf"), "w") as f:
            f.write('''parties = "parties.conf";
agreements = "agreements";
la_codes = "%s/config/la-codes.conf";
%s
daemon = {
  state_dir = "state";
  control = "control.sock";
  keys_dir = "keys";
  secrets = "secrets.conf";
  workers = 3;
  https = { listen = "127.0.0.1:%d"; certificate = "tls.crt"; key = "tls.key"; %s };
  %s
  %s
};
''' % (ROOT, self.extra_top, self.port, self.extra_https, ('sftp = { listen = "127.0.0.1:%d"; %s };' %
                          (self.sftp_port, self.extra_sftp)) if self.sftp_port else "",
       self.extra_daemon))

    def start(self, env_extra=None, journal=False):
        """Starts the daemon with stdout and stderr to daemon.log, as a
        supervisor or `make run >log 2>&1` would; journal=True connects
        them to journald's stream socket and sets $JOURNAL_STREAM, as
        systemd does for a service."""
        sock = os.path.join(self.dir, "notify.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        self.notify = Notify(sock)
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        env["NOTIFY_SOCKET"] = sock
        env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=86"
        env["UBSAN_OPTIONS"] = "halt_on_error=1:exitcode=86:print_stacktrace=1"
        env.update(env_extra or {})
        if journal:
            self.log = journal_stream("schoolgated")
            st = os.fstat(self.log.fileno())
            env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        else:
            self.log = open(os.path.join(self.dir, "daemon.log"), "ab")
        self.proc = subprocess.Popen([SGD, "-c", os.path.join(self.dir, "gw.conf")],
                                     stdout=self.log, stderr=self.log, env=env)
        self.notify.wait("READY=1")
        return self

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.proc = None
        self.notify.close()
        self.log.close()
        return rc

    # --- what the daemon's process uses, for the memory bounds ---
    # AddressSanitizer keeps freed memory in quarantine (256 MiB): a test
    # of RSS growth keeps it small so that freed buffers are not counted
    SMALL_QUARANTINE = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:"
                        "exitcode=86:quarantine_size_mb=4:"
                        "thread_local_quarantine_size_kb=64"}

    def pids(self):
        """The daemon and every process under it (the SSH front door, the
        intake process maker and its intake processes)."""
        kids = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open("/proc/%s/stat" % d) as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                kids.setdefault(ppid, []).append(int(d))
        out, todo = [], [self.proc.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(kids.get(p, []))
        return out

    def rss_kib(self):
        """The resident memory of the daemon and its processes, KiB."""
        total, seen = 0, False
        for pid in self.pids():
            try:
                with open("/proc/%d/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
                            seen = True
            except OSError:
                continue    # it ended meanwhile
        if not seen:
            raise AssertionError("no VmRSS")
        return total

    def cpu_ticks(self):
        """CPU ticks used by the daemon and its processes."""
        total = 0
        for pid in self.pids():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total

    def wait_idle(self, quiet=5, step=0.1, limit=120):
        """Returns once the daemon has used no CPU for `quiet` samples in
        a row: it has done all it is going to do with what it was sent
        (the end of an attack, observed rather than guessed)."""
        import time
        end = time.monotonic() + limit
        last, same, peak = self.cpu_ticks(), 0, self.rss_kib()
        while same < quiet:
            if time.monotonic() > end:
                raise AssertionError("the daemon never went idle")
            time.sleep(step)
            now = self.cpu_ticks()
            peak = max(peak, self.rss_kib())
            same = same + 1 if now == last else 0
            last = now
        return peak

    def daemon_log(self):
        with open(os.path.join(self.dir, "daemon.log"), errors="replace") as f:
            return f.read()

    def cleanup(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- the client side: real curl ---
    def curl(self, party, method, path, data_file=None, headers=(),
             out=None, extra=(), password=None, chunked=False):
        cmd = ["curl", "-sS", "--cacert", os.path.join(self.dir, "tls.crt"),
               "-X", method, "-o", out or "-", "-w", "\n%{http_code}",
               "--max-time", "300"]
        if party is not None:
            cmd += ["-u", "%s:%s" % (party, password or pw(party))]
        for h in headers:
            cmd += ["-H", h]
        if data_file is not None:
            cmd += ["--data-binary", "@" + data_file]
            if chunked:
                cmd += ["-H", "Transfer-Encoding: chunked"]
        cmd += list(extra) + [self.url + path]
        p = subprocess.run(cmd, capture_output=True, timeout=320)
        if p.returncode != 0:
            raise AssertionError("curl failed (%d): %s" % (
                p.returncode, p.stderr.decode(errors="replace")))
        body, _, code = p.stdout.rpartition(b"\n")
        return int(code), body

    def take_back(self, party, xid):
        """the sender withdraws a transfer, so that the same content may be
        sent again (a test's second case with it)"""
        code, body = self.curl(party, "POST", "/v1/transfers/%s/withdraw"
                               "?reason=other" % xid)
        assert code == 200, (code, body)

    def upload(self, party, agreement, flow, name, path, zip_pw=ZIPPW, **kw):
        h = list(kw.pop("headers", ()))
        if zip_pw:
            h.append("Zip-Password: " + zip_pw)
        return self.curl(party, "PUT", "/v1/flows/%s/%s/files/%s" % (
            agreement, flow, name), data_file=path, headers=h, **kw)

    # --- SFTP: real OpenSSH sftp ---
    def ssh_key(self, party):
        return os.path.join(self.dir, "ssh", party.replace(":", "-"))

    def known_hosts(self):
        path = os.path.join(self.dir, "known_hosts")
        if not os.path.exists(path):
            with open(os.path.join(self.dir, "keys",
                                   "ssh_host_ed25519_key.pub")) as f:
                t, k = f.read().split()[:2]
            with open(path, "w") as f:
                f.write("[127.0.0.1]:%d %s %s\n" % (self.sftp_port, t, k))
        return path

    def ssh_opts(self, party, key=True):
        o = ["-o", "User=" + party, "-o", "BatchMode=yes",
             "-o", "UserKnownHostsFile=" + self.known_hosts(),
             "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes",
             "-o", "IdentityAgent=none", "-o", "ConnectTimeout=30",
             "-F", "/dev/null"]
        if key:
            o += ["-i", self.ssh_key(party)]
        else:
            o += ["-o", "PubkeyAuthentication=no"]
        return o

    def sftp(self, party, commands, key=True, timeout=300, extra=()):
        """Runs `sftp -b -` with the commands; (exit code, stdout,
        stderr)."""
        cmd = ["sftp", "-b", "-", "-P", str(self.sftp_port)] + \
            self.ssh_opts(party, key) + list(extra) + ["127.0.0.1"]
        p = subprocess.run(cmd, input=commands.encode(), capture_output=True,
                           timeout=timeout)
        return (p.returncode, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace"))

    def log_verify(self):
        return subprocess.run([SG, "log", "verify", "--log",
                               os.path.join(self.dir, "state", "log"),
                               "--key", os.path.join(self.dir, "keys",
                                                     "log-signing.pub"),
                               "--store", os.path.join(self.dir, "state",
                                                       "store")],
                              capture_output=True, text=True)


def journal_stream(identifier):
    """A stream to journald's stdout socket, as systemd makes one for a
    service's stdout and stderr (the header is sd-journal's stream
    protocol: identifier, unit, priority, level prefix, and whether to
    forward to syslog, kmsg and the console)."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("/run/systemd/journal/stdout")
    s.shutdown(socket.SHUT_RD)
    s.sendall(("%s\n\n6\n1\n0\n0\n0\n" % identifier).encode())
    return s.makefile("wb")


def census(rows=300, seed=7):
    return subprocess.run([GEN, str(rows), str(seed)], check=True,
                          capture_output=True).stdout


_fresh = [1000]


def fresh_census(rows=300):
    """a valid census not sent before: the gateway refuses the same content
    twice in a flow while it holds the first"""
    _fresh[0] += 1
    return census(rows, _fresh[0])


def make_zip(workdir, name, entry, data, password=ZIPPW):
    stage = tempfile.mkdtemp(dir=workdir)
    with open(os.path.join(stage, entry), "wb") as f:
        f.write(data)
    out = os.path.join(workdir, name)
    if os.path.exists(out):
        os.unlink(out)
    subprocess.run(["bsdtar", "--format", "zip", "--options",
                    "zip:encryption=aes256", "--passphrase", password, "-cf",
                    out, "-C", stage, entry], check=True)
    shutil.rmtree(stage)
    return out


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Runner:
    def __init__(self, name):
        self.name = name
        self.passed = self.failed = 0

    def run(self, title, fn, *a):
        # SG_ONLY=regex: a developer's focused run (make test never sets
        # it; what it leaves out is not counted at all)
        only = os.environ.get("SG_ONLY")
        if only and not __import__("re").search(only, title):
            return
        try:
            fn(*a)
            self.passed += 1
            print("ok - %s" % title, flush=True)
        except Exception as e:
            self.failed += 1
            print("not ok - %s: %s: %s" % (title, type(e).__name__, e),
                  flush=True)
            # where it failed, as TAP comments: a failure in CI can be
            # read from its log alone
            import traceback
            for line in traceback.format_exc().rstrip().splitlines():
                print("# " + line, flush=True)

    def finish(self):
        print("%s (%s): %d passed, %d failed" % (self.name, BUILD,
                                                self.passed, self.failed))
        return 1 if self.failed else 0
