"""Ids: 128 random bits from a buffered CSPRNG that a forked child never shares."""

from __future__ import annotations

import os

from chatkit_onprem.ids import new_id


def test_ids_are_unique_and_a_forked_child_does_not_repeat_its_parent() -> None:
    ids = {new_id("message") for _ in range(2000)}  # spans several 4 KiB refills
    assert len(ids) == 2000
    assert all(len(i.removeprefix("msg_")) == 32 for i in ids)
    new_id("thread")  # the parent's pool now holds unused bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the next id and leave at once
        os.write(write, new_id("thread").encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    os.close(write)
    assert child.startswith("thr_") and child != new_id("thread")
