"""The SSH certificate authority (`opsbell cert ca-pubkey|sign`) against the
real OpenSSH tools: `ssh-keygen -L` reads back every field, and a real `sshd`
on 127.0.0.1 (TrustedUserCAKeys = what `opsbell cert ca-pubkey` printed,
no authorized_keys at all) lets a certified key in, and refuses it from
another source address, after expiry, for another login, and from another CA.

The login account: each sshd test creates a throwaway system account with
`useradd` (no home, password field '*' so that sshd does not see a locked
account, shell /bin/sh so that `ssh ... true` runs) and removes it with
`userdel` afterwards, whatever the outcome. The tests run as root (as CI
does); sshd itself must start as root to switch to that account.
"""

import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from e2e_support import base_env, diag_lines, free_port, run_cli, wait_for

SSHD = "/usr/sbin/sshd"
SSH = shutil.which("ssh") or "/usr/bin/ssh"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"


def keygen(path, kind="ed25519", bits=None, comment="e2e"):
    args = [SSH_KEYGEN, "-q", "-t", kind, "-N", "", "-C", comment, "-f", str(path)]
    if bits:
        args[4:4] = ["-b", str(bits)]
    subprocess.run(args, check=True, capture_output=True)
    return Path(str(path) + ".pub")


def write_config(env, ca_key, max_validity="1h"):
    env.extra_main = "ssh_ca:\n  key: file:%s\n  max_validity: %s\n" % (ca_key, max_validity)
    env.write_main()


def ca_pubkey(env):
    r = run_cli(["cert", "ca-pubkey", "-c", env.config_path])
    assert r.code == 0, r
    return r.stdout


def sign(env, pubkey, principals, valid_for="10m", source="127.0.0.1", extra=()):
    args = ["cert", "sign", "-c", env.config_path, "--pubkey", pubkey, "--valid-for", valid_for,
            "--source-address", source]
    for p in principals:
        args += ["--principal", p]
    args += list(extra)
    return run_cli(args)


def keygen_list(cert):
    p = subprocess.run([SSH_KEYGEN, "-L", "-f", str(cert)], capture_output=True,
                       env=base_env({"TZ": "UTC"}))
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


def section(listing, name):
    """The indented lines under 'name:' in ssh-keygen -L output."""
    lines = listing.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.strip().startswith(name + ":"):
            rest = line.split(":", 1)[1].strip()
            if rest:
                return [rest]
            indent = len(line) - len(line.lstrip())
            for nxt in lines[i + 1:]:
                if len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                out.append(nxt.strip())
            return out
    raise AssertionError("no %s in:\n%s" % (name, listing))


@pytest.fixture
def ca(env, tmp_path):
    key = tmp_path / "ca"
    keygen(key, comment="the-ca")
    write_config(env, key)
    return key


# ---- the certificate as OpenSSH reads it -------------------------------------


@pytest.mark.parametrize("kind,bits", [("ed25519", None), ("ecdsa", 256), ("ecdsa", 521),
                                       ("rsa", 3072)])
def test_certificate_fields_as_ssh_keygen_reads_them(env, ca, tmp_path, kind, bits):
    user = keygen(tmp_path / ("id_" + kind), kind, bits)
    before = int(time.time())
    r = sign(env, user, ["alice", "root"], valid_for="30m", source="127.0.0.1,10.1.0.0/16",
             extra=["--key-id", "grant:42 alice", "--serial", "42"])
    after = int(time.time())
    assert r.code == 0, r
    cert = tmp_path / ("id_%s-cert.pub" % kind)
    assert str(cert) in r.stdout
    line = cert.read_text()
    certtype = {"ed25519": "ssh-ed25519", "rsa": "ssh-rsa",
                "ecdsa": "ecdsa-sha2-nistp%d" % (bits or 256)}[kind] + "-cert-v01@openssh.com"
    assert line.split()[0] == certtype
    assert line.endswith(" e2e\n")  # the user key's comment is kept
    listing = keygen_list(cert)
    assert "%s user certificate" % certtype in listing
    assert section(listing, "Key ID") == ['"grant:42 alice"']
    assert section(listing, "Serial") == ["42"]
    assert section(listing, "Principals") == ["alice", "root"]
    assert section(listing, "Critical Options") == ["source-address 127.0.0.1/32,10.1.0.0/16"]
    assert section(listing, "Extensions") == ["permit-agent-forwarding", "permit-port-forwarding",
                                              "permit-pty", "permit-user-rc"]
    # The CA is the configured key: same fingerprint as ssh-keygen gives it.
    fp = subprocess.run([SSH_KEYGEN, "-l", "-f", str(ca) + ".pub"], capture_output=True,
                        check=True).stdout.decode().split()[1]
    assert "Signing CA: ED25519 %s (using ssh-ed25519)" % fp in listing
    valid = section(listing, "Valid")[0]  # "from 2026-...T.. to 2026-...T.."
    frm, to = valid.split()[1], valid.split()[3]
    t_from = int(time.mktime(time.strptime(frm, "%Y-%m-%dT%H:%M:%S"))) - time.timezone
    t_to = int(time.mktime(time.strptime(to, "%Y-%m-%dT%H:%M:%S"))) - time.timezone
    assert before - 60 <= t_from <= after - 60
    assert before + 1800 <= t_to <= after + 1800


def test_ca_pubkey_is_the_ca_public_key(env, ca):
    out = ca_pubkey(env)
    assert out.endswith(" opsbell-ca\n") and out.count("\n") == 1
    assert out.split()[:2] == (Path(str(ca) + ".pub")).read_text().split()[:2]


def test_pkcs8_pem_ca_key_is_accepted(env, tmp_path):
    pem = tmp_path / "ca.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(pem)], check=True,
                   capture_output=True)
    write_config(env, pem)
    line = ca_pubkey(env)
    pub = subprocess.run(["openssl", "pkey", "-in", str(pem), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    import base64
    blob = base64.b64decode(line.split()[1])
    assert blob[-32:] == pub[-32:]
    user = keygen(tmp_path / "u")
    assert sign(env, user, ["alice"]).code == 0
    assert "Signing CA: ED25519" in keygen_list(tmp_path / "u-cert.pub")


# ---- refusals: one line, exit 1 ------------------------------------------------


def refused(r, *words):
    assert r.code == 1, r
    assert r.stderr.startswith("opsbell: ") and r.stderr.count("\n") == 1, r
    for w in words:
        assert w in r.stderr, r
    return r


def test_refusals(env, ca, tmp_path):
    user = keygen(tmp_path / "u")
    cert = tmp_path / "u-cert.pub"
    refused(sign(env, user, []), "principal")
    refused(sign(env, user, ["alice"], valid_for="2h"), "max_validity")
    refused(sign(env, user, ["alice"], valid_for="soon"), "--valid-for")
    for bad in ("0.0.0.0/0", "::/0", "10.0.0.1,0.0.0.0/0"):
        refused(sign(env, user, ["alice"], source=bad), "every address")
    for bad in ("300.1.1.1", "10.0.0.0/33", "example.com", "10.0.0.1/24", "", "10.0.0.1,,"):
        refused(sign(env, user, ["alice"], source=bad))
    refused(sign(env, user, ["al,ice"]), "principal")
    refused(sign(env, user, [""]), "principal")
    refused(sign(env, user, ["alice", "alice"]), "twice")
    assert not cert.exists()

    bad_keys = {
        "options.pub": 'command="/bin/sh" ' + user.read_text(),
        "from.pub": 'from="10.0.0.1" ' + user.read_text(),
        "two.pub": user.read_text() + user.read_text(),
        "garbage.pub": "ssh-ed25519 AAAA!!!! x\n",
        "truncated.pub": user.read_text().split()[0] + " " + user.read_text().split()[1][:40],
        "mismatch.pub": "ssh-rsa " + user.read_text().split()[1] + "\n",
        "empty.pub": "",
        "dsa.pub": "ssh-dss AAAAB3NzaC1kc3MAAACBAP8= x\n",
        "cert.pub": None,
    }
    sign(env, user, ["alice"])  # a real certificate to feed back as a "key"
    bad_keys["cert.pub"] = cert.read_text()
    for name, text in bad_keys.items():
        p = tmp_path / name
        p.write_text(text)
        refused(sign(env, p, ["alice"]), name)
    small = keygen(tmp_path / "small", "rsa", 2048)
    refused(sign(env, small, ["alice"]), "3072")
    refused(sign(env, tmp_path / "missing.pub", ["alice"]), "missing.pub")


def test_config_errors_point_at_the_line(env, tmp_path):
    (tmp_path / "notakey").write_text("hello\n")
    enc = tmp_path / "enc"
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "pass phrase", "-f", str(enc)],
                   check=True, capture_output=True)
    rsa = tmp_path / "rsa"
    keygen(rsa, "rsa", 3072)
    cases = [
        ("file:%s" % (tmp_path / "notakey"), "1h", "expected an OpenSSH private key"),
        ("file:%s" % enc, "1h", "encrypted"),
        ("file:%s" % rsa, "1h", "not an ssh-ed25519 key"),
        ("file:%s" % (tmp_path / "absent"), "1h", "cannot resolve ssh_ca key"),
        ("inline-secret", "1h", "reference"),
        ("file:%s" % (tmp_path / "notakey"), "forever", "max_validity"),
    ]
    for key, validity, words in cases:
        env.extra_main = "ssh_ca:\n  key: %s\n  max_validity: %s\n" % (key, validity)
        env.write_main()
        r = run_cli(["check-config", "-c", env.config_path])
        assert r.code == 1, r
        lines = diag_lines(r.stderr)
        hits = [m for m in lines if words in m.group(0)]
        assert hits, r
        # Every ssh_ca diagnostic points into the ssh_ca section (the last lines).
        first = len(env.main_yaml().splitlines()) - 2
        assert all(int(m.group(2)) >= first for m in hits), r
    r = run_cli(["cert", "ca-pubkey", "-c", env.config_path])
    assert r.code == 1 and "max_validity" in r.stderr, r


def test_no_ssh_ca_section(env):
    r = run_cli(["cert", "ca-pubkey", "-c", env.config_path])
    refused(r, "no ssh_ca section")


# ---- a real sshd ------------------------------------------------------------------


class Sshd:
    def __init__(self, directory, trusted_ca_line, revoked_keys=None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host_key = self.dir / "host_ed25519"
        keygen(self.host_key, comment="host")
        (self.dir / "trusted_ca.pub").write_text(trusted_ca_line)
        self.log_path = self.dir / "sshd.log"
        (self.dir / "sshd_config").write_text("\n".join([
            "ListenAddress 127.0.0.1:%d" % self.port,
            "HostKey %s" % self.host_key,
            "PidFile %s" % (self.dir / "sshd.pid"),
            "TrustedUserCAKeys %s" % (self.dir / "trusted_ca.pub"),
            "AuthorizedKeysFile none",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "LogLevel VERBOSE",
        ] + (["RevokedKeys %s" % revoked_keys] if revoked_keys else []) + [""]))
        # sshd's privilege separation directory (the openssh-server package
        # creates it at boot through tmpfiles.d; a container may lack it).
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.dir / "sshd_config")],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        wait_for(self.listening, 10, "sshd listening on 127.0.0.1:%d" % self.port)

    def listening(self):
        assert self.proc.poll() is None, "sshd exited:\n" + self.log_text()
        return "Server listening on 127.0.0.1 port %d" % self.port in self.log_text()

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def login(self, user, key, cert):
        """`ssh ... user@127.0.0.1 true` with this key and certificate only."""
        return subprocess.run(
            [SSH, "-F", "/dev/null", "-i", str(key), "-o", "CertificateFile=%s" % cert,
             "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey",
             "-o", "ConnectTimeout=10", "-p", str(self.port), "%s@127.0.0.1" % user, "true"],
            capture_output=True, stdin=subprocess.DEVNULL, timeout=30, env=base_env())


@pytest.fixture
def login_user():
    if os.geteuid() != 0:
        pytest.fail("the sshd tests run as root (sshd must switch to the test account)")
    name = "obca" + secrets.token_hex(4)
    subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                    "--shell", "/bin/sh", "--password", "*", name], check=True,
                   capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture
def sshd(env, ca, tmp_path):
    server = Sshd(tmp_path / "sshd", ca_pubkey(env))
    yield server
    server.stop()


def assert_login(sshd, user, key, cert):
    p = sshd.login(user, key, cert)
    assert p.returncode == 0, "ssh failed: %s\n--- sshd log ---\n%s" % (
        p.stderr.decode(errors="replace"), sshd.log_text())


def assert_refused(sshd, user, key, cert, reason):
    p = sshd.login(user, key, cert)
    assert p.returncode == 255, "ssh was not refused (%d): %s" % (
        p.returncode, p.stderr.decode(errors="replace"))
    assert "Permission denied (publickey)" in p.stderr.decode(errors="replace")
    # Refused for the reason under test, not for another one.
    wait_for(lambda: reason in sshd.log_text(), 5, "sshd to log %r" % reason)


def test_sshd_accepts_a_certified_key(env, sshd, login_user, tmp_path):
    key = tmp_path / "id_ed25519"
    keygen(key)
    assert sign(env, Path(str(key) + ".pub"), [login_user]).code == 0
    assert_login(sshd, login_user, key, tmp_path / "id_ed25519-cert.pub")
    assert "Accepted publickey for %s" % login_user in sshd.log_text()
    assert "ID opsbell %s (serial 0) CA ED25519" % login_user in sshd.log_text()
    # Without the certificate the same key is nobody (AuthorizedKeysFile none).
    (tmp_path / "id_ed25519-cert.pub").unlink()
    p = sshd.login(login_user, key, tmp_path / "id_ed25519-cert.pub")
    assert p.returncode == 255


def test_sshd_accepts_ecdsa_and_rsa_user_keys(env, sshd, login_user, tmp_path):
    for kind, bits in (("ecdsa", 384), ("rsa", 3072)):
        key = tmp_path / ("id_" + kind)
        keygen(key, kind, bits)
        assert sign(env, Path(str(key) + ".pub"), [login_user]).code == 0
        assert_login(sshd, login_user, key, tmp_path / ("id_%s-cert.pub" % kind))


def test_sshd_refuses_another_source_address(env, sshd, login_user, tmp_path):
    key = tmp_path / "id_ed25519"
    keygen(key)
    assert sign(env, Path(str(key) + ".pub"), [login_user], source="192.0.2.7").code == 0
    assert_refused(sshd, login_user, key, tmp_path / "id_ed25519-cert.pub",
                   "not from a permitted source address")
    # The same key, certified for 127.0.0.0/8, is let in.
    assert sign(env, Path(str(key) + ".pub"), [login_user], source="127.0.0.0/8").code == 0
    assert_login(sshd, login_user, key, tmp_path / "id_ed25519-cert.pub")


def test_sshd_refuses_an_expired_certificate(env, sshd, login_user, tmp_path):
    key = tmp_path / "id_ed25519"
    keygen(key)
    assert sign(env, Path(str(key) + ".pub"), [login_user], valid_for="2s").code == 0
    time.sleep(3)
    assert_refused(sshd, login_user, key, tmp_path / "id_ed25519-cert.pub", "expired")


def test_sshd_refuses_another_principal(env, sshd, login_user, tmp_path):
    key = tmp_path / "id_ed25519"
    keygen(key)
    assert sign(env, Path(str(key) + ".pub"), ["someone-else", "root"]).code == 0
    assert_refused(sshd, login_user, key, tmp_path / "id_ed25519-cert.pub",
                   "not a listed principal")


def test_sshd_refuses_another_ca(env, make_env, sshd, login_user, tmp_path):
    other = make_env("other")
    other_key = tmp_path / "other_ca"
    keygen(other_key)
    write_config(other, other_key)
    key = tmp_path / "id_ed25519"
    keygen(key)
    assert sign(other, Path(str(key) + ".pub"), [login_user]).code == 0
    # sshd logs an untrusted CA only at DEBUG; at VERBOSE it names the CA of the
    # failed certificate, which must be the other one.
    fp = subprocess.run([SSH_KEYGEN, "-l", "-f", str(other_key) + ".pub"], capture_output=True,
                        check=True).stdout.decode().split()[1]
    assert_refused(sshd, login_user, key, tmp_path / "id_ed25519-cert.pub",
                   "ID opsbell %s (serial 0) CA ED25519 %s" % (login_user, fp))
    assert "Accepted" not in sshd.log_text()


# ---- key revocation lists --------------------------------------------------------


def krl(env, path, serials=(), key_ids=()):
    args = ["cert", "krl", "-c", env.config_path, "--output", path]
    for n in serials:
        args += ["--serial", n]
    for k in key_ids:
        args += ["--key-id", k]
    return run_cli(args)


def keygen_query(krl_path, cert):
    p = subprocess.run([SSH_KEYGEN, "-Q", "-f", str(krl_path), str(cert)], capture_output=True)
    return p.returncode, p.stdout.decode()


def test_krl_as_ssh_keygen_reads_it(env, ca, tmp_path):
    a = keygen(tmp_path / "a")
    b = keygen(tmp_path / "b")
    assert sign(env, a, ["alice"], extra=["--serial", "42", "--key-id", "grant:42 alice"]).code == 0
    assert sign(env, b, ["bob"], extra=["--serial", "43", "--key-id", "grant:43 bob"]).code == 0
    ca_, cb = tmp_path / "a-cert.pub", tmp_path / "b-cert.pub"
    path = tmp_path / "revoked.krl"
    assert krl(env, path).code == 0  # revokes nothing
    assert keygen_query(path, ca_)[0] == 0 and keygen_query(path, cb)[0] == 0
    assert krl(env, path, serials=[42, 7, 42]).code == 0
    assert keygen_query(path, ca_) == (1, "%s (e2e): REVOKED\n" % ca_)
    assert keygen_query(path, cb) == (0, "%s (e2e): ok\n" % cb)
    assert krl(env, path, key_ids=["grant:43 bob"]).code == 0
    assert keygen_query(path, ca_)[0] == 0
    assert keygen_query(path, cb)[0] == 1
    # A certificate of another CA with a revoked serial is not revoked.
    other = tmp_path / "other"
    keygen(other)
    write_config(env, other)
    assert sign(env, a, ["alice"], extra=["--serial", "43", "--key-id", "x"]).code == 0
    write_config(env, ca)
    assert krl(env, path, serials=[43]).code == 0
    assert keygen_query(path, ca_)[0] == 0
    refused(krl(env, path, serials=[0]), "serial 0")
    refused(krl(env, path, key_ids=[""]), "empty key id")
    assert run_cli(["cert", "krl", "-c", env.config_path]).code == 2


def test_sshd_refuses_a_revoked_certificate(env, ca, login_user, tmp_path):
    path = tmp_path / "revoked.krl"
    assert krl(env, path, serials=[41]).code == 0
    server = Sshd(tmp_path / "sshd", ca_pubkey(env), revoked_keys=path)
    try:
        key = tmp_path / "id_ed25519"
        keygen(key)
        assert sign(env, Path(str(key) + ".pub"), [login_user],
                    extra=["--serial", "42"]).code == 0
        cert = tmp_path / "id_ed25519-cert.pub"
        assert_login(server, login_user, key, cert)
        assert krl(env, path, serials=[41, 42]).code == 0  # sshd rereads it per attempt
        assert_refused(server, login_user, key, cert, "revoked by file %s" % path)
    finally:
        server.stop()
