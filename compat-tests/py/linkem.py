#!/usr/bin/env python3
"""A userspace link emulator for the fault suite, for kernels without `sch_netem`.

Creates one TUN device per name given, prints "ready" once they exist, then forwards every
IPv4 packet read from one of them to the device whose peer address is the packet's
destination, after a delay of `delay ± jitter` (uniform, so packets may be reordered, as
netem's) and unless it is lost (probability `loss`). Packets to an address no device has are
dropped. The test moves the devices into its peers' network namespaces and routes the links
it slows through them (compat-tests/src/faults/netns.rs); nothing else is ever forwarded.

    linkem.py --delay-ms 75 --jitter-ms 50 --loss 0.2 --seed 7 ct1p0=10.77.30.10 ct1p1=10.77.30.11

Runs until stdin closes (the test dropping its handle) or SIGTERM; the devices vanish with it.
"""

import argparse
import fcntl
import heapq
import ipaddress
import os
import random
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MTU = 65535


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def destination(packet):
    """The IPv4 destination of `packet`, or None for anything else."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    return bytes(packet[16:20])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--loss", type=float, default=0.0, help="probability, 0 to 1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("devices", nargs="+", help="NAME=ADDRESS, the address behind the device")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    by_address, fds = {}, []
    for spec in args.devices:
        name, address = spec.split("=", 1)
        fd = open_tun(name)
        by_address[ipaddress.IPv4Address(address).packed] = fd
        fds.append(fd)
    print("ready", flush=True)

    queue, sequence = [], 0  # (due, sequence, fd, packet)
    forwarded = lost = 0
    watched = fds + [sys.stdin.fileno()]
    while True:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, fd, packet = heapq.heappop(queue)
            try:
                os.write(fd, packet)
                forwarded += 1
            except OSError:
                lost += 1  # the device is down or its queue full: a lost packet
        wait = max(0.0, queue[0][0] - now) if queue else None
        readable, _, _ = select.select(watched, [], [], wait)
        for fd in readable:
            if fd == sys.stdin.fileno():
                if not os.read(fd, 4096):
                    print(f"forwarded={forwarded} lost={lost}", file=sys.stderr, flush=True)
                    return
                continue
            while True:
                try:
                    packet = os.read(fd, MTU)
                except BlockingIOError:
                    break
                target = by_address.get(destination(packet))
                if target is None or rng.random() < args.loss:
                    lost += 1
                    continue
                delay = args.delay_ms + rng.uniform(-args.jitter_ms, args.jitter_ms)
                due = time.monotonic() + max(0.0, delay) / 1000.0
                sequence += 1
                heapq.heappush(queue, (due, sequence, target, packet))


if __name__ == "__main__":
    main()
