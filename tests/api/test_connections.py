"""Connections: a few event-loop threads serve everybody, so nothing may
stall them, and clients that hold connections without sending a request
must not keep others out.

- Slow work (RSA-4096 keys) runs off the event loop: with one event-loop
  thread and one key worker, reads are answered while keys are made.
- 2,000 idle and 500 slow-header (slowloris) connections do not keep a
  request out; the header deadline closes them even while they trickle
  bytes.
- With the connection limit exhausted by idle clients, a request gets in
  once the deadline has cleared them, and the daemon returns to its
  descriptors of before.
- The per-address limit is applied when asked for.

The time bounds are generous (correctness, not performance: timings live
in tests/bench/).
"""
import http.client
import os
import resource
import socket
import threading
import time

import pytest

import amtc

IDLE = 2000
SLOW = 500


@pytest.fixture(scope="module", autouse=True)
def enough_descriptors():
    """This process holds a few thousand sockets at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE + SLOW + 512
    if soft != resource.RLIM_INFINITY and soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pytest.skip("the open-file limit (%d) is too low for this test" % hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def get_order(d, oid, timeout):
    """GET /api/v1/orders/{id} on a fresh connection; the answer's status."""
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=timeout)
    try:
        c.request("GET", "/api/v1/orders/" + oid, headers={"Authorization": "Bearer " + d.token})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def open_idle(port, n):
    """n connections that never send a byte."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        socks.append(s)
    return socks


def open_slow(port, n):
    """n connections that have started a request head and never finish it."""
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-%d: 1\r\n" % i)
        s.setblocking(False)
        socks.append(s)
    return socks


def closed_by_peer(s):
    """True when the daemon has closed s (EOF or reset), False if still open."""
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def close_all(socks):
    for s in socks:
        s.close()


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_reads_are_answered_while_keys_are_made():
    """One event-loop thread, one key worker: a handler that waited for
    its key on the event loop would hold every read up until the keys
    are done."""
    d = amtc.Daemon(extra_args=["--threads", "1", "--workers", "1"])
    try:
        oid = d.create_order(cn="reader.example.com").json()["id"]
        done = []
        lock = threading.Lock()

        def make(i):
            r = d.post("/api/v1/orders", {"subject": {"common_name": "big%d.example.com" % i},
                                          "key": {"bits": 4096}})
            with lock:
                done.append(r.status)

        th = [threading.Thread(target=make, args=(i,)) for i in range(4)]
        [t.start() for t in th]
        time.sleep(0.3)  # the four requests are in
        answered_while_busy = 0
        while any(t.is_alive() for t in th):
            # a read that waited for a key would time out here
            assert get_order(d, oid, timeout=5) == 200
            with lock:
                if len(done) < 4:
                    answered_while_busy += 1
        [t.join() for t in th]
        assert done == [201] * 4
        assert answered_while_busy >= 1
        d.stop_checked(cleanup=False)
    finally:
        d.cleanup()


def test_idle_and_slow_connections_do_not_keep_a_request_out():
    d = amtc.Daemon()
    idle = slow = []
    try:
        oid = d.create_order(cn="busy.example.com").json()["id"]
        idle = open_idle(d.port, IDLE)
        slow = open_slow(d.port, SLOW)
        t0 = time.monotonic()
        assert get_order(d, oid, timeout=10) == 200
        assert time.monotonic() - t0 < 10
        # they were all accepted and are still open: the request got in
        # beside them, not after them
        assert not any(closed_by_peer(s) for s in idle[:: IDLE // 20] + slow)
        close_all(idle + slow)
        idle = slow = []
        assert get_order(d, oid, timeout=10) == 200
        d.stop_checked(cleanup=False)
    finally:
        close_all(idle + slow)
        d.cleanup()


def test_header_deadline_closes_idle_and_trickling_connections():
    d = amtc.Daemon(extra_args=["--header-timeout", "2"])
    idle = slow = []
    try:
        oid = d.create_order(cn="deadline.example.com").json()["id"]
        before = open_fds(d.proc.pid)
        idle = open_idle(d.port, 500)
        slow = open_slow(d.port, SLOW)
        t0 = time.monotonic()
        open_idle_left, open_slow_left = set(idle), set(slow)
        # slowloris: a header line every half second keeps the idle timer
        # (30 s) from ever firing; only the header deadline closes them
        while (open_idle_left or open_slow_left) and time.monotonic() - t0 < 20:
            for s in list(open_slow_left):
                if closed_by_peer(s):
                    open_slow_left.discard(s)
                    continue
                try:
                    s.send(b"X-More: 1\r\n")
                except OSError:
                    open_slow_left.discard(s)
            for s in list(open_idle_left):
                if closed_by_peer(s):
                    open_idle_left.discard(s)
            time.sleep(0.5)
        assert not open_slow_left, "%d slow connections still open" % len(open_slow_left)
        assert not open_idle_left, "%d idle connections still open" % len(open_idle_left)
        assert time.monotonic() - t0 >= 1.5  # not before the deadline
        close_all(idle + slow)
        idle = slow = []
        assert get_order(d, oid, timeout=10) == 200
        # the daemon let go of every socket
        for _ in range(50):
            if open_fds(d.proc.pid) <= before + 32:
                break
            time.sleep(0.1)
        assert open_fds(d.proc.pid) <= before + 32, (before, open_fds(d.proc.pid))
        assert "no request within 2s" in d.read_stderr()
        d.stop_checked(cleanup=False)
    finally:
        close_all(idle + slow)
        d.cleanup()


def test_a_request_gets_in_when_idle_clients_hold_every_slot():
    """64 slots, 200 idle clients (the rest wait in the kernel's accept
    queue): the deadline clears them batch by batch and the request, queued
    behind them, is answered."""
    d = amtc.Daemon(extra_args=["--header-timeout", "1", "--max-connections", "64"])
    idle = []
    try:
        oid = d.create_order(cn="full.example.com").json()["id"]
        idle = open_idle(d.port, 200)
        t0 = time.monotonic()
        assert get_order(d, oid, timeout=40) == 200
        assert time.monotonic() - t0 < 40
        d.stop_checked(cleanup=False)
    finally:
        close_all(idle)
        d.cleanup()


def test_per_address_limit_when_asked_for():
    d = amtc.Daemon(extra_args=["--max-connections-per-ip", "8"])
    idle = []
    try:
        oid = d.create_order(cn="perip.example.com").json()["id"]
        idle = open_idle(d.port, 8)
        # the ninth connection from 127.0.0.1 is closed at once
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            got = s.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
        finally:
            s.close()
        assert got == b""
        close_all(idle)
        idle = []
        # and slots are free again once they are gone
        for _ in range(50):
            try:
                if get_order(d, oid, timeout=5) == 200:
                    break
            except (ConnectionError, http.client.HTTPException):
                time.sleep(0.1)
        else:
            pytest.fail("no request got in after the limit was freed")
        d.stop_checked(cleanup=False)
    finally:
        close_all(idle)
        d.cleanup()
