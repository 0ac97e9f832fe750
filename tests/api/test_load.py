"""Slow work does not stall other requests: while four 4096-bit keys are
being generated, reads keep being answered. This checks order of events,
not timing (timings live in tests/bench/)."""
import threading


def test_reads_answer_while_keys_are_generated(daemon):
    oid = daemon.create_order(cn="reader.example.com").json()["id"]
    done = []
    lock = threading.Lock()

    def make(i):
        r = daemon.post("/api/v1/orders", {"subject": {"common_name": "big%d.example.com" % i},
                                           "key": {"bits": 4096}})
        with lock:
            done.append(r.status)

    th = [threading.Thread(target=make, args=(i,)) for i in range(4)]
    [t.start() for t in th]
    reads = 0
    reads_while_busy = 0
    while any(t.is_alive() for t in th):
        r = daemon.get("/api/v1/orders/" + oid)
        assert r.status == 200
        reads += 1
        with lock:
            if len(done) < 4:
                reads_while_busy += 1
    [t.join() for t in th]
    assert done == [201] * 4
    # several complete reads happened before the last key was done
    assert reads_while_busy >= 3, (reads, reads_while_busy)
