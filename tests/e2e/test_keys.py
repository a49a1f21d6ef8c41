"""SSH keys from a git repository (src/keys, docs/KEYS.md): `opsbell keys sync`
against a real bare repository (a local path, and one served by `git daemon`
on loopback), then `opsbell keys authorized-keys USER` as sshd runs it.

Keys are made with ssh-keygen in the test's directory (only the 2048-bit RSA
key, refused anyway, comes from tests/unit/fixtures/keys)."""

import os
import signal
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from e2e_support import USERS_YAML, diag_lines, free_port, opsbell_bin, run_cli, wait_for

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "keys"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Key Keeper", "GIT_AUTHOR_EMAIL": "keys@example.com",
    "GIT_COMMITTER_NAME": "Key Keeper", "GIT_COMMITTER_EMAIL": "keys@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent",
}


def git(*args, cwd=None):
    env = dict(os.environ)
    env.update(GIT_ENV)
    p = subprocess.run(["git"] + list(args), cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, "git %s failed:\n%s%s" % (" ".join(args), p.stdout, p.stderr)
    return p.stdout


class KeysRepo:
    """A bare repository (what opsbell fetches) and a clone to commit from."""

    def __init__(self, root):
        self.root = Path(root)
        self.bare = self.root / "keys.git"
        self.work = self.root / "keys-work"
        self.root.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "--bare", "--initial-branch=main", str(self.bare))
        git("init", "-q", "--initial-branch=main", str(self.work))
        git("remote", "add", "origin", str(self.bare), cwd=self.work)

    def put(self, rel, text):
        p = self.work / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    def remove(self, rel):
        git("rm", "-q", rel, cwd=self.work)

    def push(self, message="keys"):
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.work)
        git("push", "-q", "origin", "main", cwd=self.work)


class Keygen:
    """Fresh key pairs made with ssh-keygen; the private halves stay in tmp."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def make(self, name, kind="ed25519", bits=None):
        path = self.root / name
        argv = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "%s@test" % name, "-f", str(path)]
        if bits:
            argv[4:4] = ["-b", str(bits)]
        subprocess.run(argv, check=True, timeout=120)
        line = (self.root / (name + ".pub")).read_text().strip()
        fp = subprocess.run(["ssh-keygen", "-lf", str(path) + ".pub"], check=True,
                            capture_output=True, text=True).stdout.split()[1]
        return line, fp


@pytest.fixture
def keys_setup(env, tmp_path):
    repo = KeysRepo(tmp_path / "git")
    gen = Keygen(tmp_path / "keygen")
    cache_dir = tmp_path / "keys-cache"

    def configure(url, extra=""):
        env.extra_main = ("keys:\n  repository: %s\n  branch: main\n  path: keys\n"
                          "  cache_dir: %s\n  sync_interval: 5m\n%s" % (url, cache_dir, extra))
        env.write_main()

    configure(str(repo.bare))
    return env, repo, gen, cache_dir, configure


def sync(env):
    return run_cli(["keys", "sync", "-c", env.config_path])


def authorized(env, user, extra=()):
    return run_cli(["keys", "authorized-keys", "-c", env.config_path, user] + list(extra))


def key_lines(text):
    return [line for line in text.splitlines() if line.strip()]


def test_sync_then_authorized_keys(keys_setup):
    env, repo, gen, cache_dir, _ = keys_setup
    laptop, laptop_fp = gen.make("alice-laptop")
    work, work_fp = gen.make("alice-work", "rsa", 3072)
    bob, bob_fp = gen.make("bob", "ecdsa", 384)
    repo.put("keys/alice/laptop.pub", laptop + "\n")
    repo.put("keys/alice/work.pub", "# Alice's desktop at work\n\n" + work + "\n")
    repo.put("keys/bob.pub", bob + "\n")
    repo.put("keys/README.md", "one directory or NAME.pub per user\n")
    repo.push()

    r = sync(env)
    assert r.code == 0, r.stderr
    assert "+ alice ssh-ed25519 %s alice-laptop@test" % laptop_fp in r.stdout
    assert "+ alice ssh-rsa %s alice-work@test" % work_fp in r.stdout
    assert "+ bob ecdsa-sha2-nistp384 %s bob@test" % bob_fp in r.stdout
    assert "2 users, 3 keys (3 added, 0 removed, 0 problems)" in r.stdout
    assert r.stderr == ""

    r = authorized(env, "alice")
    assert r.code == 0 and r.stderr == ""
    assert key_lines(r.stdout) == [laptop, work]
    r = authorized(env, "bob")
    assert key_lines(r.stdout) == [bob]
    # sshd's AuthorizedKeysCommandUser (nobody) must be able to read the cache.
    cache = cache_dir / "authorized_keys.cache"
    assert cache.stat().st_mode & 0o777 == 0o644
    # --cache FILE gives the same answer without any configuration.
    r = run_cli(["keys", "authorized-keys", "--cache", cache, "alice"], cwd="/")
    assert key_lines(r.stdout) == [laptop, work]

    r = run_cli(["keys", "list", "-c", env.config_path, "alice"])
    assert r.code == 0
    assert laptop_fp in r.stdout and work_fp in r.stdout and bob_fp not in r.stdout
    assert " 3072 " in r.stdout

    # Nothing changed: a second sync reports no change.
    r = sync(env)
    assert r.code == 0 and "(0 added, 0 removed, 0 problems)" in r.stdout


def test_removed_key_disappears_on_next_sync(keys_setup):
    env, repo, gen, _, _ = keys_setup
    laptop, _ = gen.make("laptop")
    old, old_fp = gen.make("old", "ecdsa", 256)
    repo.put("keys/alice/laptop.pub", laptop + "\n")
    repo.put("keys/alice/old.pub", old + "\n")
    repo.push()
    assert sync(env).code == 0
    assert key_lines(authorized(env, "alice").stdout) == [laptop, old]

    repo.remove("keys/alice/old.pub")
    repo.push("alice drops her old key")
    r = sync(env)
    assert r.code == 0, r.stderr
    assert "- alice ecdsa-sha2-nistp256 %s old@test" % old_fp in r.stdout
    assert "(0 added, 1 removed, 0 problems)" in r.stdout
    assert key_lines(authorized(env, "alice").stdout) == [laptop]

    # A user whose every key is gone has none at all.
    repo.remove("keys/alice/laptop.pub")
    repo.put("keys/bob.pub", gen.make("bob")[0] + "\n")
    repo.push()
    assert sync(env).code == 0
    r = authorized(env, "alice")
    assert r.code == 0 and r.stdout == ""


def test_bad_keys_are_reported_and_skipped(keys_setup):
    env, repo, gen, _, _ = keys_setup
    good, _ = gen.make("good")
    other, _ = gen.make("other")
    carol, _ = gen.make("carol")
    weak = (FIXTURES / "rsa2048.pub").read_text().strip()
    repo.put("keys/alice/good.pub", good + "\n")
    repo.put("keys/alice/options.pub", 'command="/bin/sh",from="0.0.0.0/0" %s\n' % other)
    repo.put("keys/alice/weak.pub", weak + "\n")
    repo.put("keys/alice/garbage.pub", "this is not a key\n")
    repo.put("keys/alice/two.pub", "%s %s\n" % (other, carol))
    # One bad line spoils its file: the good key before it does not apply.
    repo.put("keys/alice/mixed.pub", "%s\nssh-ed25519 AAAA broken\n" % other)
    repo.put("keys/mallory.pub", gen.make("mallory")[0] + "\n")  # not an opsbell user
    repo.put("keys/carol.pub", carol + "\n")
    repo.push()

    r = sync(env)
    assert r.code == 0, r.stderr
    err = r.stderr
    assert "keys/alice/options.pub:1: options before the key type are not allowed" in err
    assert "keys/alice/weak.pub:1: ssh-rsa key of 2048 bits (at least 3072)" in err
    assert "keys/alice/garbage.pub:1: not a public key" in err
    assert "keys/alice/two.pub:1: more than one key on a line" in err
    assert "keys/alice/mixed.pub:2: " in err
    assert "keys/mallory.pub: 'mallory' is not an opsbell user, ignored" in err
    assert "2 users, 2 keys" in r.stdout

    assert key_lines(authorized(env, "alice").stdout) == [good]
    assert key_lines(authorized(env, "carol").stdout) == [carol]
    r = authorized(env, "mallory")
    assert r.code == 0 and r.stdout == ""


def test_unknown_user_and_missing_cache_exit_0(keys_setup, tmp_path):
    env, repo, gen, cache_dir, _ = keys_setup
    # No sync yet: the cache does not exist. sshd must get exit 0 and no keys.
    r = authorized(env, "alice")
    assert r.code == 0 and r.stdout == ""
    assert "does not exist" in r.stderr and "opsbell keys sync" in r.stderr
    r = run_cli(["keys", "authorized-keys", "--cache", tmp_path / "nope" / "cache", "alice"])
    assert r.code == 0 and r.stdout == ""

    repo.put("keys/alice.pub", gen.make("a")[0] + "\n")
    repo.push()
    assert sync(env).code == 0
    for user in ("nobody", "root", "ALICE", "../alice", "alice\tx", "a" * 300, "-alice",
                 "--help", "-c", "--cache=%s" % (cache_dir / "authorized_keys.cache")):
        r = authorized(env, user)
        assert r.code == 0 and r.stdout == "", user
    r = run_cli(["keys", "authorized-keys", "-c", env.config_path])
    assert r.code == 2


def test_unreachable_repository_keeps_the_cache(keys_setup):
    env, repo, gen, cache_dir, configure = keys_setup
    key, _ = gen.make("k")
    repo.put("keys/alice/k.pub", key + "\n")
    repo.push()
    assert sync(env).code == 0
    before = (cache_dir / "authorized_keys.cache").read_bytes()

    port = free_port()  # nobody listens there
    configure("git://127.0.0.1:%d/keys.git" % port)
    r = sync(env)
    assert r.code == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("opsbell: keys sync failed: "), r.stderr
    assert (cache_dir / "authorized_keys.cache").read_bytes() == before
    assert key_lines(authorized(env, "alice").stdout) == [key]

    # A branch that does not exist fails the same way.
    configure(str(repo.bare), extra="")
    env.extra_main = env.extra_main.replace("branch: main", "branch: nosuch")
    env.write_main()
    r = sync(env)
    assert r.code == 1 and "no branch 'nosuch'" in r.stderr
    assert key_lines(authorized(env, "alice").stdout) == [key]


def wait_port(port, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("git daemon did not listen on %d" % port)


def test_network_url_through_git_daemon(keys_setup, tmp_path):
    env, repo, gen, _, configure = keys_setup
    key, fp = gen.make("net")
    repo.put("keys/bob/net.pub", key + "\n")
    repo.push()
    port = free_port()
    daemon = subprocess.Popen(
        ["git", "daemon", "--export-all", "--reuseaddr", "--listen=127.0.0.1",
         "--port=%d" % port, "--base-path=%s" % repo.root, str(repo.root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        configure("git://127.0.0.1:%d/keys.git" % port)
        r = sync(env)
        assert r.code == 0, r.stderr
        assert "+ bob ssh-ed25519 %s" % fp in r.stdout
        assert key_lines(authorized(env, "bob").stdout) == [key]

        repo.remove("keys/bob/net.pub")
        repo.push()
        # The last key gone, git has no keys/ directory at all: nobody has keys.
        r = sync(env)
        assert r.code == 0 and "- bob" in r.stdout
        assert "keys: no such directory at " in r.stderr
        assert authorized(env, "bob").stdout == ""
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=10)


def test_keys_config_errors_have_positions(env):
    env.extra_main = ("keys:\n  repository: /srv/keys.git\n  branch: 'bad..branch'\n"
                      "  path: ../etc\n  sync_interval: 1s\n")
    env.write_main()
    r = run_cli(["check-config", "-c", env.config_path])
    assert r.code == 1
    diags = diag_lines(r.stderr)
    msgs = {d.group("msg"): (int(d.group("line")), int(d.group("col"))) for d in diags}
    base = len(env.main_yaml().splitlines()) - 5  # the line of "keys:"
    assert msgs["keys branch 'bad..branch' is not a valid git branch name"][0] == base + 3
    assert msgs["keys path '../etc' must be a directory of the repository (relative, no '..')"][0] \
        == base + 4
    assert msgs["keys sync_interval '1s' is not a duration from 10s to 1d (e.g. 5m)"] \
        == (base + 5, 18)

    env.extra_main = "keys:\n  branch: main\n"
    env.write_main()
    r = run_cli(["check-config", "-c", env.config_path])
    assert r.code == 1 and "missing required key 'repository'" in r.stderr
    diag_lines(r.stderr)


def test_serve_syncs_on_its_own(keys_setup):
    """`opsbell serve` syncs at start and then every sync_interval (10 s here)
    on its own thread; sshd's command sees the changes without any CLI sync."""
    env, repo, gen, _, configure = keys_setup
    key, fp = gen.make("served")
    other, _ = gen.make("other")
    repo.put("keys/alice/served.pub", key + "\n")
    repo.put("keys/bob.pub", other + "\n")
    repo.push()
    env.extra_main = env.extra_main.replace("sync_interval: 5m", "sync_interval: 10s")
    env.write_main()
    daemon = env.daemon()
    wait_for(lambda: key_lines(authorized(env, "alice").stdout) == [key], 30,
             "the daemon's first sync")

    repo.remove("keys/alice/served.pub")
    repo.push("alice's key revoked")
    wait_for(lambda: authorized(env, "alice").stdout == "", 60,
             "the daemon's next sync to remove alice's key")
    assert key_lines(authorized(env, "bob").stdout) == [other]
    log = daemon.log_path.read_text()
    assert "keys synced" in log and "key removed" in log and "alice" in log


def test_real_sshd_uses_the_keys(keys_setup, tmp_path):
    """A real OpenSSH sshd on loopback with AuthorizedKeysCommand pointing at
    opsbell: the key from git logs in; once removed from git and synced, it
    no longer does.  (The opsbell user is named root, a system account that
    exists everywhere tests run; AuthorizedKeysCommandUser is root because
    pytest's temporary directories are private to root.)"""
    env, repo, gen, cache_dir, _ = keys_setup
    env.write("users.yaml", USERS_YAML + "  - name: root\n")
    key, _ = gen.make("root-login")
    stranger, _ = gen.make("stranger")
    repo.put("keys/root/login.pub", key + "\n")
    repo.push()
    assert sync(env).code == 0

    sshd_dir = tmp_path / "sshd"
    sshd_dir.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(sshd_dir / "host_key")], check=True, timeout=60)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    # sshd refuses an AuthorizedKeysCommand below a world-writable directory
    # (a checkout under /tmp, say): run copies from a root-owned 0755 one,
    # the front and the core side by side, as `make install` places them.
    bin_dir = tempfile.mkdtemp(prefix="opsbell-keys-test-", dir="/run")
    os.chmod(bin_dir, 0o755)
    front = os.path.join(bin_dir, "opsbell")
    shutil.copy2(opsbell_bin(), front)
    shutil.copy2(os.path.join(os.path.dirname(opsbell_bin()), "opsbell-core"),
                 os.path.join(bin_dir, "opsbell-core"))
    port = free_port()
    (sshd_dir / "sshd_config").write_text(
        "Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\n"
        "AuthorizedKeysFile none\n"
        "AuthorizedKeysCommand %s keys authorized-keys --cache %s %%u\n"
        "AuthorizedKeysCommandUser root\n"
        "PubkeyAuthentication yes\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        "UsePAM no\nStrictModes no\nLogLevel VERBOSE\n"
        % (port, sshd_dir / "host_key", sshd_dir / "sshd.pid", front,
           cache_dir / "authorized_keys.cache"))
    log = open(sshd_dir / "sshd.log", "w")
    sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(sshd_dir / "sshd_config")],
                            stdout=log, stderr=subprocess.STDOUT)

    def ssh_with(name):
        return subprocess.run(
            ["ssh", "-i", str(gen.root / name), "-p", str(port), "-F", "/dev/null",
             "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "ConnectTimeout=10", "root@127.0.0.1", "echo", "logged-in"],
            capture_output=True, text=True, timeout=60)

    try:
        wait_port(port)
        r = ssh_with("root-login")
        assert r.returncode == 0 and "logged-in" in r.stdout, \
            r.stderr + (sshd_dir / "sshd.log").read_text()
        r = ssh_with("stranger")
        assert r.returncode != 0 and "logged-in" not in r.stdout

        repo.remove("keys/root/login.pub")
        repo.put("keys/alice.pub", stranger + "\n")  # someone else's key stays
        repo.push("root's key revoked")
        assert sync(env).code == 0
        r = ssh_with("root-login")
        assert r.returncode != 0 and "logged-in" not in r.stdout
        assert "Permission denied" in r.stderr
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
        sshd.send_signal(signal.SIGTERM)
        sshd.wait(timeout=10)
        log.close()
