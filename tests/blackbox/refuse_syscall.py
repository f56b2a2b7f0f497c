# SPDX-License-Identifier: BSD-2-Clause
"""refuse_syscall.py CALL ERRNO PROGRAM [ARG...] - runs PROGRAM with the
system call CALL (openat2, renameat2) refused by a seccomp filter with
ERRNO: openat2 with ENOSYS, as a kernel before 5.6 or valgrind answers, or
EPERM, as a container's or a service manager's filter may; renameat2 with
EINVAL, as NFS or ZFS before 2.2 answer RENAME_NOREPLACE. For the tests of
what htd does where those cannot be used."""

import ctypes
import errno
import os
import platform
import struct
import sys

# openat2 has the same number everywhere (the common table); renameat2 not.
NUMBERS = {"openat2": {"x86_64": 437, "aarch64": 437},
           "renameat2": {"x86_64": 316, "aarch64": 276}}
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06


def main():
    nr = NUMBERS[sys.argv[1]].get(platform.machine())
    if nr is None:
        sys.exit("refuse_syscall: no number for %s on %s" % (sys.argv[1], platform.machine()))
    err = getattr(errno, sys.argv[2])
    # struct sock_filter: code (u16), jt, jf (u8), k (u32). The system call's
    # number is at offset 0 of struct seccomp_data.
    prog = [(BPF_LD_W_ABS, 0, 0, 0),
            (BPF_JEQ_K, 0, 1, nr),
            (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | err),
            (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)]
    raw = b"".join(struct.pack("=HBBI", *ins) for ins in prog)
    filt = ctypes.create_string_buffer(raw, len(raw))
    # struct sock_fprog: len (unsigned short), then the pointer, aligned.
    fprog = struct.pack("HxxxxxxP", len(prog), ctypes.addressof(filt))
    fbuf = ctypes.create_string_buffer(fprog, len(fprog))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fbuf), 0, 0) != 0:
        sys.exit("refuse_syscall: prctl: " + os.strerror(ctypes.get_errno()))
    os.execv(sys.argv[3], sys.argv[3:])


main()
