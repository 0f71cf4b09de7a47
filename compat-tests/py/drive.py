"""Drives ipfshttpclient 0.7.0 through one add / cat / pin / block / repo-stat script and
prints one line per call, so the output straight from a daemon and through Cairn can be
compared. Adapted from shared/realpeers/test_ipfshttpclient.py.
usage: python drive.py /ip4/127.0.0.1/tcp/PORT/http FILES_DIR HELLO_CID (the oracle CID of f11.txt)
"""
import sys
import warnings

warnings.simplefilter("ignore")
import ipfshttpclient  # noqa: E402

addr, files, HELLO = sys.argv[1], sys.argv[2], sys.argv[3]
c = ipfshttpclient.Client(addr)  # the constructor skips the daemon-version check


def step(name, fn):
    try:
        print(f"{name:22}", fn())
    except Exception as e:  # printed, then compared and checked by the Rust test
        print(f"{name:22} ERROR {type(e).__name__}: {e}")


step("version", lambda: c.version())
step("id", lambda: c.id()["ID"])
step("add file", lambda: c.add(f"{files}/f11.txt"))
step("add bytes", lambda: c.add_bytes(b"hello world"))
step("add 256KiB+1", lambda: c.add(f"{files}/f256k1.bin")["Hash"])
step("add dir recursive", lambda: [(r["Name"], r["Hash"]) for r in c.add(f"{files}/dir", recursive=True)])
step("cat", lambda: c.cat(HELLO))
step("pin.rm", lambda: c.pin.rm(HELLO))
step("pin.add", lambda: c.pin.add(HELLO))
step("pin.ls(cid)", lambda: c.pin.ls(HELLO))
step("pin.ls(recursive)", lambda: len(c.pin.ls(type="recursive")["Keys"]))
step("block.put", lambda: c.block.put(f"{files}/f11.txt"))
step("block.get", lambda: c.block.get(HELLO))
step("repo.stat", lambda: c.repo.stat())
step("swarm.peers", lambda: c.swarm.peers())
